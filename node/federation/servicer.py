"""The FederationNode gRPC servicer: only the directory may call it — mutual TLS, CN "directory", and the
certificate MUST be the one the directory-signed council list names (a second certificate the CA issued
in the directory's name is refused).

Deliver MUST NOT answer sooner than `answer_floor_ms` after the call arrived, whatever the holder did: a
council holding the child loads, scores, discloses and logs, one holding nothing does one indexed look-up,
and without the floor the directory (and anyone watching the link) could tell them apart by the time each
took (docs/benchmarks.md, "Answer timing"). Refusals wait the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc

from whoelse.federation import logs
from whoelse.federation.ca import DIRECTORY_CN
from whoelse.federation.errors import PermissionDenied
from whoelse.federation.status import grpc_errors
from whoelse.federation.transport import peer_fingerprint, require_peer
from whoelse.node.federation.holder import Holder
from whoelse.v1 import federation_pb2, federation_pb2_grpc

MAX_PING_BYTES = 64 * 1024


class FederationNodeServicer(federation_pb2_grpc.FederationNodeServicer):
    def __init__(
        self,
        holder: Holder,
        *,
        answer_floor_ms: int = 0,
        directory_certificate: Callable[[], str] = lambda: "",
    ) -> None:
        self._holder = holder
        self._floor_s = answer_floor_ms / 1000
        self._directory_certificate = directory_certificate

    def _require_directory(self, context: grpc.ServicerContext) -> None:
        require_peer(context, DIRECTORY_CN)
        expected = self._directory_certificate()
        if expected and peer_fingerprint(context) != expected:
            raise PermissionDenied(
                "the caller's certificate is not the directory's registered one "
                f"({peer_fingerprint(context)[:16]}…, not {expected[:16]}…)"
            )

    @grpc_errors
    def Deliver(
        self, request: federation_pb2.Delivery, context: grpc.ServicerContext
    ) -> federation_pb2.SealedAnswer:
        arrived = time.monotonic()
        try:
            self._require_directory(context)
            with logs.request(request.query_id[:64]):
                return self._holder.answer(request)
        finally:
            left = self._floor_s - (time.monotonic() - arrived)
            if left > 0:
                time.sleep(left)

    @grpc_errors
    def Ping(
        self, request: federation_pb2.PingRequest, context: grpc.ServicerContext
    ) -> federation_pb2.PingResponse:
        self._require_directory(context)
        return federation_pb2.PingResponse(payload=request.payload[:MAX_PING_BYTES])
