"""The Practitioner gRPC servicer: log in, search every council, list and watch alerts.

Eligibility is checked on every search (AccountService.authorise_search), not only at log-in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Protocol

import grpc

from whoelse.federation import closed_sets, logs
from whoelse.federation.errors import WhoElseError
from whoelse.federation.identity import Identity
from whoelse.federation.purposes import Purpose, parse_purpose
from whoelse.federation.status import grpc_errors, status_for
from whoelse.federation.transport import client_source
from whoelse.node.accounts.service import AccountService, Practitioner
from whoelse.node.federation.searcher import Outcome, Searcher
from whoelse.node.wire import identity_from_pb, reading_notes
from whoelse.v1 import practitioner_pb2 as pp
from whoelse.v1 import practitioner_pb2_grpc


class AlertFeed(Protocol):
    """What the servicer needs from the node's alerts (node/alerts)."""

    def list_for(self, practitioner: Practitioner, unread_only: bool) -> list[pp.Alert]: ...

    def watch(self, practitioner: Practitioner, is_active: Callable[[], bool]) -> Iterator[pp.Alert]: ...


class SearchSender(Protocol):
    """What answers a search: the federation (node/federation/searcher.py) or the central index
    (node/central.py, ContactPoint mode)."""

    def send(self, who: Searcher, identity: Identity, purpose: Purpose) -> Outcome: ...


SearchAudit = Callable[[Practitioner, str, Outcome], None]
log = logging.getLogger(__name__)


class PractitionerServicer(practitioner_pb2_grpc.PractitionerServicer):
    def __init__(
        self,
        accounts: AccountService,
        search: SearchSender,
        council_names: Callable[[str], str],
        alerts: AlertFeed | None = None,
        on_search: SearchAudit | None = None,
    ) -> None:
        self._accounts = accounts
        self._search = search
        self._names = council_names
        self._alerts = alerts
        self._on_search = on_search

    @grpc_errors
    def Login(self, request: pp.LoginRequest, context: grpc.ServicerContext) -> pp.LoginResponse:
        session = self._accounts.login(
            request.username, request.password, request.totp_code, source=client_source(context.peer())
        )
        return pp.LoginResponse(
            session_token=session.token, expires_at_ms=int(session.expires_at.timestamp() * 1000)
        )

    @grpc_errors
    def Logout(self, request: pp.LogoutRequest, context: grpc.ServicerContext) -> pp.LogoutResponse:
        self._accounts.logout(request.session_token)
        return pp.LogoutResponse()

    @grpc_errors
    def Search(self, request: pp.SearchRequest, context: grpc.ServicerContext) -> pp.SearchResponse:
        with logs.request(logs.new_request_id()):
            return self._search_once(request)

    def _search_once(self, request: pp.SearchRequest) -> pp.SearchResponse:
        practitioner = self._accounts.authorise_search(request.session_token)
        purpose = parse_purpose(closed_sets.PURPOSE.read(request))
        identity = identity_from_pb(request.identity)
        who = Searcher(practitioner.username, practitioner.display_name, practitioner.role)
        outcome = self._search.send(who, identity, purpose)
        if self._on_search:
            self._on_search(practitioner, purpose.value, outcome)
        log.info(
            "search %s (%s): %d of %d councils answered in %.0f ms",
            outcome.query_id,
            purpose.value,
            outcome.councils_answered,
            outcome.councils_asked,
            outcome.elapsed_s * 1000,
        )
        response = pp.SearchResponse(
            query_id=outcome.query_id,
            councils_asked=outcome.councils_asked,
            councils_answered=outcome.councils_answered,
            notes=reading_notes(request.identity),
        )
        for code, candidates in sorted(outcome.results.items(), key=lambda kv: -max(c.score for c in kv[1])):
            response.results.append(
                pp.CouncilResult(council_code=code, council_name=self._names(code), candidates=candidates)
            )
        for code, reason, detail in outcome.unanswered:
            response.unanswered.append(
                pp.UnansweredCouncil(
                    council_code=code,
                    council_name=self._names(code),
                    **closed_sets.UNANSWERED_REASON.fields(reason),
                    detail=detail,
                )
            )
        return response

    @grpc_errors
    def ListAlerts(
        self, request: pp.ListAlertsRequest, context: grpc.ServicerContext
    ) -> pp.ListAlertsResponse:
        practitioner = self._accounts.authenticate(request.session_token)
        alerts = self._alerts.list_for(practitioner, request.unread_only) if self._alerts else []
        return pp.ListAlertsResponse(alerts=alerts)

    def WatchAlerts(
        self, request: pp.WatchAlertsRequest, context: grpc.ServicerContext
    ) -> Iterator[pp.Alert]:
        try:
            practitioner = self._accounts.authenticate(request.session_token)
        except WhoElseError as exc:  # a streaming handler aborts itself; the message says why
            context.abort(status_for(exc), str(exc))
        if self._alerts is None:
            return
        yield from self._alerts.watch(practitioner, context.is_active)
