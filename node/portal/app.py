"""The portal's Flask application: configuration, security headers, sessions and the page routes.

`create_app(config, node)` builds one council's portal; node/portal/server.py serves it over HTTPS.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, request
from flask_wtf import CSRFProtect
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from whoelse.federation.errors import WhoElseError
from whoelse.node.portal import results
from whoelse.node.portal.node_api import NodeApi, NodeServices
from whoelse.node.portal.records_team import RecordsTeam
from whoelse.node.portal.results import SHIELDED_WORDING, Involvement
from whoelse.node.portal.sessions import Lifetime, SessionStore, cookie_name
from whoelse.node.subject_access import FIELDS

log = logging.getLogger(__name__)
access_log = logging.getLogger("whoelse.portal.access")
"""One line per request: method, path and status. Paths carry no personal data (searches are POSTs)."""

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",  # no inline script anywhere: GOV.UK Frontend and portal.js are files
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


@dataclass(frozen=True)
class PortalConfig:
    council_name: str
    council_code: str
    records_team_contact: str = ""
    lifetime: Lifetime = field(default_factory=Lifetime)
    searches_per_minute: int = 20  # a practitioner's searches; the node's own limits also apply
    secret_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)


def _timing(node: NodeApi) -> tuple[Callable[[], None], Callable[[Response], Response]]:
    """Server-Timing: the request's whole time in the portal (`app`) and the part spent waiting for the node
    (`node`, e.g. the federated search), so a benchmark can tell the portal's own cost apart."""

    def start() -> None:
        node.take_time()
        g.started = time.perf_counter()

    def finish(response: Response) -> Response:
        total = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        response.headers["Server-Timing"] = f"app;dur={total:.2f}, node;dur={node.take_time() * 1000:.2f}"
        return response

    return start, finish


def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint == "static":
        response.headers["Cache-Control"] = "public, max-age=86400"
    else:  # every page may show a child's details or a practitioner's alerts: never cache one
        response.headers["Cache-Control"] = "no-store"
    access_log.info("%s %s %s", request.method, request.path, response.status_code)
    return response


def _choice(choice: Any, selected: str | None) -> dict[str, Any]:
    """A WTForms choice (value, label, …) as a GOV.UK radios item."""
    value, label = tuple(choice)[:2]
    return {"value": value, "text": label, "checked": value == selected}


def _option(choice: Any, selected: str | None) -> dict[str, Any]:
    """A WTForms choice as a GOV.UK select item."""
    value, label = tuple(choice)[:2]
    return {"value": value, "text": label, "selected": value == selected}


def _involvement_row(i: Involvement) -> list[dict[str, Any]]:
    return [{"text": v} for v in (i.practitioner, i.role, i.organisation, i.contact, i.service)]


def _search_row(entry: dict[str, Any]) -> list[dict[str, Any]]:
    found = f"{entry['children']} {'child' if entry['children'] == 1 else 'children'}"
    if entry["referrals"]:
        found += f", {entry['referrals']} to ask about"
    answered = f"{entry['councils_answered']} of {entry['councils_asked']}"
    if entry["unanswered"]:
        answered += " (not: " + ", ".join(entry["unanswered"]) + ")"
    return [{"text": v} for v in (entry["at"], entry["purpose"], found, answered, entry["query_id"])]


def create_app(
    config: PortalConfig,
    node: NodeApi,
    services: NodeServices | None = None,
    records_team: RecordsTeam | None = None,
) -> Flask:
    from whoelse.node.portal import records_team_views, views

    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config.update(
        SECRET_KEY=config.secret_key,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which has its own limits
        WTF_CSRF_SSL_STRICT=False,  # the Referer is never sent (Referrer-Policy: no-referrer)
        MAX_CONTENT_LENGTH=64 * 1024,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    app.jinja_loader = ChoiceLoader(
        [
            PackageLoader("whoelse.node.portal", "templates"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja", "templates")}),
        ]
    )
    app.jinja_env.filters["portal_choice"] = _choice
    app.jinja_env.filters["portal_option"] = _option
    app.jinja_env.filters["portal_involvement"] = _involvement_row
    app.jinja_env.filters["portal_search_row"] = _search_row
    app.jinja_env.filters["portal_when"] = results.when
    app.jinja_env.filters["portal_field"] = lambda name: FIELDS.get(name, name.replace("_", " "))
    app.jinja_env.globals["shielded_wording"] = SHIELDED_WORDING

    def end_node_session(data: dict[str, Any]) -> None:
        token = data.get("token")
        if token:
            try:
                node.logout(str(token))
            except WhoElseError as exc:  # the node ends idle sessions itself as well
                log.info("portal: ending a node session failed: %s", exc)

    app.session_interface = SessionStore(
        config.lifetime, cookie_name(config.council_code), on_end=end_node_session
    )
    app.extensions["whoelse_portal"] = views.Portal(config, node, end_node_session, services, records_team)
    CSRFProtect(app)
    app.register_blueprint(views.pages)
    app.register_blueprint(records_team_views.desk)
    app.after_request(_security_headers)
    start, finish = _timing(node)
    app.before_request(start)
    app.after_request(finish)
    return app
