"""The portal's pages. Each view parses its form, calls the node's Practitioner service and renders a
template; the rules (who may search, what a search may contain, what is disclosed) are the node's."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError

from whoelse.federation import closed_sets
from whoelse.federation.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    WhoElseError,
)
from whoelse.node.portal import results
from whoelse.node.portal.forms import (
    PURPOSE_LABELS,
    ConcernForm,
    InvolvementForm,
    SearchForm,
    SignInForm,
    field_for,
    involvement_field_for,
    service_name,
)
from whoelse.node.portal.node_api import NodeApi, NodeServices
from whoelse.node.portal.records_team import RecordsTeam
from whoelse.node.portal.sessions import PortalSession
from whoelse.node.recording import RecordingRejected
from whoelse.v1 import records_pb2 as pb

if TYPE_CHECKING:  # app.py imports this module
    from whoelse.node.portal.app import PortalConfig

pages = Blueprint("pages", __name__)
UNAVAILABLE = "The service is not available at the moment. Try again in a few minutes."
MAX_HISTORY = 50
UNREAD_FRESH_S = 15.0
NOT_FROM_SEARCH = (
    "search for the child first: you can record only against a record found at this council in your "
    "latest search"
)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Portal:
    """What the views need: this council's portal configuration and its node's API."""

    config: PortalConfig
    node: NodeApi
    end_node_session: Callable[[dict[str, Any]], None]
    services: NodeServices | None = None  # record my involvement, raise a concern, mark alerts read
    records_team: RecordsTeam | None = None  # the records team's pages

    def __post_init__(self) -> None:
        self._searches: dict[str, deque[float]] = {}

    def allow_search(self, username: str) -> bool:
        """At most `searches_per_minute` portal searches per practitioner in any minute."""
        now = time.monotonic()
        recent = self._searches.setdefault(username, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= self.config.searches_per_minute:
            return False
        recent.append(now)
        return True


def portal() -> Portal:
    found: Portal = current_app.extensions["whoelse_portal"]
    return found


def _portal_session() -> PortalSession:
    if not isinstance(session, PortalSession):  # app.py installs SessionStore, which opens only these
        raise RuntimeError("portal: sessions are not the portal's server-side sessions")
    return session


def error_list(form: FlaskForm, general: list[str] | None = None) -> list[dict[str, str]]:
    """The error summary's entries: each links to its field (the date of birth to its day box)."""
    items = [{"text": text, "href": "#main-content"} for text in general or []]
    for field in form:
        for message in field.errors:
            # a radio group's or checkbox's field id is also its first item's (GOV.UK radios idPrefix)
            anchor = "dob-day" if field.name == "dob_day" else field.id
            items.append({"text": str(message), "href": f"#{anchor}"})
    return items


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    config = portal().config
    signed_in = "token" in session
    unread = _unread() if signed_in else 0
    lifetime = config.lifetime
    return (
        render_template(
            template,
            council_name=config.council_name,
            signed_in=signed_in,
            username=session.get("username", ""),
            records_team=bool(session.get("records_team")),
            unread=unread,
            idle_seconds=int(lifetime.idle.total_seconds()),
            warn_seconds=int(lifetime.warn_before.total_seconds()),
            **context,
        ),
        status,
    )


def _unread(fresh: list[str] | None = None) -> int:
    """The unread count in the navigation: asked of the node at most every UNREAD_FRESH_S seconds (a search's
    results page would otherwise wait for a second node call); the alerts page always asks."""
    now = time.monotonic()
    if fresh is None and now - float(session.get("unread_at", -UNREAD_FRESH_S)) < UNREAD_FRESH_S:
        return int(session.get("unread", 0))
    if fresh is None:
        try:
            fresh = [a.alert_id for a in portal().node.alerts(str(session["token"]), unread_only=True)]
        except WhoElseError:
            return int(session.get("unread", 0))
    session["unread"], session["unread_at"] = len(fresh), now
    return len(fresh)


def signed_in_only(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "token" not in session:
            if _portal_session().ended:
                return redirect(url_for("pages.signed_out", reason="inactive"))
            return redirect(url_for("pages.sign_in"))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _sign_out(reason: str) -> Response:
    data = dict(session)
    session.clear()
    _portal_session().regenerate = True
    portal().end_node_session(data)
    return redirect(url_for("pages.signed_out", reason=reason))  # type: ignore[return-value]


@pages.get("/")
def home() -> Response:
    return redirect(url_for("pages.search" if "token" in session else "pages.sign_in"))  # type: ignore[return-value]


@pages.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    form = SignInForm()
    general: list[str] = []
    status = 200
    if form.validate_on_submit():
        try:
            reply = portal().node.login(
                form.username.data or "", form.password.data or "", (form.totp_code.data or "").strip()
            )
        except Unavailable:
            general, status = [UNAVAILABLE], 503
        except (Unauthenticated, PermissionDenied) as exc:
            # wrong details, slowed down or locked (it says until when), suspended or not eligible
            form.username.errors = [_sentence(str(exc))]
            status = 401 if isinstance(exc, Unauthenticated) else 403
        else:
            session.clear()
            _portal_session().regenerate = True  # a fresh session id: one seen before sign-in is worthless
            session["token"] = reply.session_token
            session["username"] = (form.username.data or "").strip().lower()
            session["searches"] = []
            desk = portal().records_team
            session["records_team"] = desk is not None and desk.is_member(reply.session_token)
            return redirect(url_for("pages.search"))
    elif form.is_submitted():
        status = 400
    return page("sign_in.html", status, form=form, errors=error_list(form, general))


def _sentence(message: str) -> str:
    message = message.strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith(".") else message + "."


@pages.get("/sign-out")
def sign_out() -> Response:
    return _sign_out("signed-out")


@pages.get("/signed-out")
def signed_out() -> Any:
    if "token" in session:  # reached directly (the timeout warning's redirect): end the session here
        return _sign_out(request.args.get("reason", "signed-out"))
    reason = request.args.get("reason", "")
    return page("signed_out.html", reason=reason if reason in ("inactive", "ended") else "signed-out")


@pages.post("/keep-alive")
@signed_in_only
def keep_alive() -> Any:
    """The timeout warning's 'Stay signed in': this request itself restarts the idle timer."""
    try:
        portal().node.alerts(str(session["token"]), unread_only=True)  # and the node's idle timer
    except Unauthenticated:
        return _sign_out("ended")
    except WhoElseError:
        pass
    return jsonify(ok=True)


@pages.route("/search", methods=["GET", "POST"])
@signed_in_only
def search() -> Any:
    form = SearchForm()
    general: list[str] = []
    status = 200
    if form.validate_on_submit():
        identity = pb.SearchIdentity(
            forename=(form.forename.data or "").strip(),
            surname=(form.surname.data or "").strip(),
            date_of_birth=form.date_of_birth(),
            **closed_sets.SEX.fields(form.sex.data or "U"),
            postcode=(form.postcode.data or "").strip(),
            nhs_number=(form.nhs_number.data or "").replace(" ", ""),
        )
        purpose = form.purpose.data or ""
        if not portal().allow_search(str(session["username"])):
            general, status = (
                ["You have made a lot of searches in a short time. Wait a minute, then try again."],
                429,
            )
        else:
            try:
                response = portal().node.search(str(session["token"]), identity, purpose)
            except Unauthenticated:
                return _sign_out("ended")
            except InvalidInput as exc:
                name, message = field_for(str(exc))
                if name is None:
                    general = [message]
                else:
                    form[name].errors = [*form[name].errors, message]
                status = 400
            except PermissionDenied as exc:
                general, status = [_sentence(str(exc))], 403
            except Unavailable:
                general, status = [UNAVAILABLE], 503
            else:
                found = results.group(response)
                _remember(found, purpose)
                home = portal().config.council_code
                # what this practitioner may record against: this council's records in this answer
                own = [h.record_id for c in found.children for h in c.holdings if h.council_code == home]
                session["own_records"] = own
                return page(
                    "results.html",
                    found=found,
                    purpose=PURPOSE_LABELS.get(purpose, purpose),
                    recording=portal().services is not None,
                    home_code=home,
                )
    elif form.is_submitted():
        status = 400
    return page("search.html", status, form=form, errors=error_list(form, general))


def _remember(found: results.Results, purpose: str) -> None:
    """My searches: when, why and what came back, never who was searched for."""
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "purpose": PURPOSE_LABELS.get(purpose, purpose),
        "children": len(found.children),
        "referrals": len(found.referrals),
        "councils_asked": found.councils_asked,
        "councils_answered": found.councils_answered,
        "unanswered": [u.council_name for u in found.unanswered],
        "query_id": found.query_id,
    }
    session["searches"] = [entry, *session.get("searches", [])][:MAX_HISTORY]


@pages.post("/involvement")
@signed_in_only
def involvement() -> Any:
    form = InvolvementForm()
    return _record(form, "involvement", "Your involvement has been recorded")


@pages.post("/concern")
@signed_in_only
def concern() -> Any:
    form = ConcernForm()
    return _record(form, "concern", "Your cause for concern has been recorded")


def _record(form: InvolvementForm | ConcernForm, kind: str, done: str) -> Any:
    """Record an involvement or a concern on one of this council's records from the latest search."""
    records = portal().services
    general: list[str] = []
    status = 400
    if records is None:
        return page("error.html", 404, heading="Page not found", message="This portal cannot record changes.")
    if request.form.get("start"):  # the results page's button (its CSRF token checked): the empty question
        return page("recording.html", form=form, kind=kind, errors=[])
    if form.validate_on_submit():
        record_id = str(form.record_id.data)
        token = str(session["token"])
        try:
            if record_id not in session.get("own_records", []):
                raise PermissionDenied(NOT_FROM_SEARCH)
            if isinstance(form, InvolvementForm):
                records.record_involvement(
                    token,
                    record_id,
                    form.service_type.data or "",
                    form.sensitive_basis.data or "",
                    (form.override_reason.data or "").strip(),
                )
            else:
                records.raise_concern(token, record_id)
        except Unauthenticated:
            return _sign_out("ended")
        except RecordingRejected as exc:
            service = str((getattr(form, "service_type", None) and form.service_type.data) or "")
            for problem in exc.problems:
                reason = _sentence(
                    problem.reason.replace(service, service_name(service)) if service else problem.reason
                )
                name = involvement_field_for(problem.field)
                if name is None:
                    general.append(reason)
                else:
                    form[name].errors = [*form[name].errors, reason]
        except (PermissionDenied, NotFound) as exc:
            general, status = [_sentence(str(exc))], 403
        else:
            return page("recorded.html", heading=done, record_id=record_id)
    return page("recording.html", status, form=form, kind=kind, errors=error_list(form, general))


@pages.get("/searches")
@signed_in_only
def searches() -> Any:
    rows = []
    for entry in session.get("searches", []):
        at = dt.datetime.fromisoformat(entry["at"]).astimezone(results.ENGLAND)
        rows.append({**entry, "at": f"{at:%-d %B %Y at %H:%M}"})
    return page("searches.html", searches=rows)


@pages.get("/alerts")
@signed_in_only
def alerts() -> Any:
    token = str(session["token"])
    try:
        found = portal().node.alerts(token)
        unread = {a.alert_id for a in portal().node.alerts(token, unread_only=True)}
        _unread(sorted(unread))
    except Unauthenticated:
        return _sign_out("ended")
    except WhoElseError:
        return page("alerts.html", 503, alerts=[], errors=[{"text": UNAVAILABLE, "href": "#main-content"}])
    session["unread_shown"] = sorted(unread)  # what "Mark as read" marks: only alerts seen on this page
    return page(
        "alerts.html",
        alerts=[results.alert(a) for a in found],
        new=unread,
        can_mark=portal().services is not None,
        errors=[],
    )


@pages.post("/alerts/read")
@signed_in_only
def alerts_read() -> Any:
    services = portal().services
    shown = [str(i) for i in session.pop("unread_shown", [])]
    if services is not None and shown:
        try:
            services.mark_alerts_read(str(session["token"]), shown)
        except Unauthenticated:
            return _sign_out("ended")
        session.pop("unread_at", None)  # the navigation's count is asked again
    return redirect(url_for("pages.alerts"))


@pages.get("/accessibility")
def accessibility() -> Any:
    return page("accessibility.html")


@pages.get("/favicon.ico")
def favicon() -> Response:
    return Response(status=204)


@pages.app_errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> Any:
    """A form sent without this session's token (another site, or a page left open past sign-out)."""
    return page(
        "error.html",
        400,
        heading="Your form could not be sent",
        message="For your security, forms must be sent from this service within your session. "
        "Go back, reload the page and try again.",
    )


@pages.app_errorhandler(404)
def not_found(error: Exception) -> Any:
    return page("error.html", 404, heading="Page not found", message="Check the address, or go to the start.")
