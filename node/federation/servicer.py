"""The FederationNode gRPC servicer (grpc.aio): only the directory may call it (mutual TLS, CN directory)."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from whoelse.v1 import federation_pb2, federation_pb2_grpc

from federation.ca import DIRECTORY_CN
from federation.errors import WhoElseError
from federation.status import status_for
from federation.transport import require_peer
from node.federation.holder import Holder

MAX_PING_BYTES = 64 * 1024
log = logging.getLogger(__name__)


class FederationNodeServicer(federation_pb2_grpc.FederationNodeServicer):
    """On grpc.aio: no thread hand-off per call (the hand-off cost more than the ~1 ms answer itself)."""

    def __init__(self, holder: Holder) -> None:
        self._holder = holder

    async def Deliver(
        self, request: federation_pb2.Delivery, context: grpc.aio.ServicerContext[Any, Any]
    ) -> federation_pb2.SealedAnswer:
        try:
            require_peer(context, DIRECTORY_CN)
            return self._holder.answer(request)
        except WhoElseError as exc:
            await context.abort(status_for(exc), str(exc))
        except Exception:
            log.exception("internal error in Deliver")
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; the node operator has the details")
        raise AssertionError("unreachable: abort raises")

    async def Ping(
        self, request: federation_pb2.PingRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> federation_pb2.PingResponse:
        try:
            require_peer(context, DIRECTORY_CN)
        except WhoElseError as exc:
            await context.abort(status_for(exc), str(exc))
        return federation_pb2.PingResponse(payload=request.payload[:MAX_PING_BYTES])
