"""Malformed requests: bytes that do not parse as the method's message get INVALID_ARGUMENT and one log line.

gRPC's own handling is an INTERNAL "Exception deserializing request!" and a traceback in the server log for
every such request, so anyone who can reach a port (the practitioner port needs no client certificate) could
flood the log. Every WhoElse server MUST be built with `new_server`, whose interceptor wraps each method's
request deserialiser: a parse failure MUST NOT reach gRPC as an exception, and MUST NOT log the bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from typing import Any

import grpc

log = logging.getLogger(__name__)


class _Malformed:
    """Stands in for a request that did not parse, until the method's handler can refuse it."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


def _refuse(request: _Malformed, method: str, context: grpc.ServicerContext) -> None:
    log.warning(
        "malformed request to %s from %s: %d bytes that do not parse", method, context.peer(), request.size
    )
    context.abort(
        grpc.StatusCode.INVALID_ARGUMENT, f"the request is not a valid {method.rsplit('/', 1)[-1]} message"
    )


class MalformedRequests(grpc.ServerInterceptor):  # type: ignore[misc]  # grpc ships no type stubs
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        parse = handler.request_deserializer
        method: str = details.method

        def deserialise(data: bytes) -> Any:
            try:
                return parse(data)
            except Exception:
                return _Malformed(len(data))

        if not handler.request_streaming:
            kind = "unary_stream" if handler.response_streaming else "unary_unary"
            inner = getattr(handler, kind)

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                if isinstance(request, _Malformed):
                    _refuse(request, method, context)
                return inner(request, context)

            return handler._replace(request_deserializer=deserialise, **{kind: unary})

        kind = "stream_stream" if handler.response_streaming else "stream_unary"
        inner_stream = getattr(handler, kind)

        def streaming(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            def checked() -> Iterator[Any]:
                for request in requests:
                    if isinstance(request, _Malformed):
                        _refuse(request, method, context)
                    yield request

            return inner_stream(checked(), context)

        return handler._replace(request_deserializer=deserialise, **{kind: streaming})


def new_server(workers: int, options: Sequence[tuple[str, Any]] = ()) -> grpc.Server:
    """A gRPC server on a thread pool of `workers`, refusing malformed requests as above."""
    return grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers),
        options=list(options),
        interceptors=[MalformedRequests()],
    )
