"""The FederationNode gRPC servicer: only the directory may call it (mutual TLS, CN "directory")."""

from __future__ import annotations

import grpc
from whoelse.v1 import federation_pb2, federation_pb2_grpc

from federation import logs
from federation.ca import DIRECTORY_CN
from federation.status import grpc_errors
from federation.transport import require_peer
from node.federation.holder import Holder

MAX_PING_BYTES = 64 * 1024


class FederationNodeServicer(federation_pb2_grpc.FederationNodeServicer):
    def __init__(self, holder: Holder) -> None:
        self._holder = holder

    @grpc_errors
    def Deliver(
        self, request: federation_pb2.Delivery, context: grpc.ServicerContext
    ) -> federation_pb2.SealedAnswer:
        require_peer(context, DIRECTORY_CN)
        with logs.request(request.query_id[:64]):
            return self._holder.answer(request)

    @grpc_errors
    def Ping(
        self, request: federation_pb2.PingRequest, context: grpc.ServicerContext
    ) -> federation_pb2.PingResponse:
        require_peer(context, DIRECTORY_CN)
        return federation_pb2.PingResponse(payload=request.payload[:MAX_PING_BYTES])
