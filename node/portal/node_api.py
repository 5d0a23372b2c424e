"""The portal's client for its own node's Practitioner gRPC service: the same calls `whoelse search` makes.

Errors come back as the node's domain errors (federation/errors.py), with the node's own message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from whoelse.federation import closed_sets
from whoelse.federation.practitioner_client import _error as domain_error
from whoelse.node.accounts.service import AccountService
from whoelse.node.alerts import store as alert_store
from whoelse.node.recording import Recorder
from whoelse.node.storage.database import Database
from whoelse.v1 import practitioner_pb2 as pp
from whoelse.v1 import practitioner_pb2_grpc
from whoelse.v1 import records_pb2 as pb


class NodeApi:
    """One TLS channel to the node's practitioner port, shared by every portal request."""

    def __init__(self, endpoint: str, ca_file: Path, timeout_s: float = 30) -> None:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca_file.read_bytes())
        self._channel = grpc.secure_channel(endpoint, credentials)
        self._stub = practitioner_pb2_grpc.PractitionerStub(self._channel)
        self._timeout = timeout_s
        self._spent = threading.local()  # seconds in node calls, per serving thread (Server-Timing)

    def close(self) -> None:
        self._channel.close()

    def take_time(self) -> float:
        """Seconds this thread has spent waiting for the node since the last call to take_time."""
        spent = float(getattr(self._spent, "seconds", 0.0))
        self._spent.seconds = 0.0
        return spent

    def _call(self, method: Callable[..., Any], request: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise domain_error(exc) from exc
        finally:
            self._spent.seconds = getattr(self._spent, "seconds", 0.0) + time.perf_counter() - started

    def login(self, username: str, password: str, totp_code: str) -> pp.LoginResponse:
        request = pp.LoginRequest(username=username, password=password, totp_code=totp_code)
        reply: pp.LoginResponse = self._call(self._stub.Login, request)
        return reply

    def logout(self, token: str) -> None:
        self._call(self._stub.Logout, pp.LogoutRequest(session_token=token))

    def search(self, token: str, identity: pb.SearchIdentity, purpose: str) -> pp.SearchResponse:
        request = pp.SearchRequest(
            session_token=token, identity=identity, **closed_sets.PURPOSE.fields(purpose)
        )
        reply: pp.SearchResponse = self._call(self._stub.Search, request)
        return reply

    def alerts(self, token: str, unread_only: bool = False) -> list[pp.Alert]:
        request = pp.ListAlertsRequest(session_token=token, unread_only=unread_only)
        reply: pp.ListAlertsResponse = self._call(self._stub.ListAlerts, request)
        return list(reply.alerts)


class NodeServices:
    """What the portal does that the Practitioner gRPC service has no call for yet: record my involvement,
    raise a cause for concern, mark alerts read. The portal runs in the node's process, so it calls the same
    domain services a servicer would: the session is authorised first (as for a search, to record), then
    node/recording.py applies the import's rules, alerts and audit."""

    def __init__(
        self,
        accounts: AccountService,
        recorder: Recorder,
        db: Database,
    ) -> None:
        self._accounts = accounts
        self._recorder = recorder
        self._db = db

    def record_involvement(
        self, token: str, record_id: str, service_type: str, sensitive_basis: str, override_reason: str
    ) -> None:
        practitioner = self._accounts.authorise_search(token)
        self._recorder.record_involvement(
            practitioner,
            record_id,
            service_type,
            sensitive_basis=sensitive_basis,
            override_reason=override_reason,
        )

    def raise_concern(self, token: str, record_id: str) -> None:
        self._recorder.raise_concern(self._accounts.authorise_search(token), record_id)

    def mark_alerts_read(self, token: str, alert_ids: list[str]) -> int:
        """Only the practitioner's own alerts are marked (node/alerts/store.py)."""
        practitioner = self._accounts.authenticate(token)
        with self._db.session() as session:
            return alert_store.mark_read(session, practitioner.display_name, alert_ids)
