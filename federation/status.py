"""Domain errors → gRPC status codes, in one place. Servicers wrap their methods with `@grpc_errors`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc

from whoelse.federation.errors import (
    AlreadyUsed,
    ConfigError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Refused,
    StaleVersion,
    Unauthenticated,
    Unavailable,
    WhoElseError,
)

log = logging.getLogger(__name__)

STATUS: dict[type[WhoElseError], grpc.StatusCode] = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Refused: grpc.StatusCode.PERMISSION_DENIED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    ConfigError: grpc.StatusCode.FAILED_PRECONDITION,
    StaleVersion: grpc.StatusCode.FAILED_PRECONDITION,
    AlreadyUsed: grpc.StatusCode.ALREADY_EXISTS,
}


def status_for(exc: WhoElseError) -> grpc.StatusCode:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return grpc.StatusCode.INTERNAL


ANSWERED_BY_SERVER = "whoelse-answered"


def answered_by_server(exc: grpc.RpcError) -> bool:
    """Whether a failed call's status came from a WhoElse servicer (not from gRPC failing to reach it)."""
    trailing = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    return any(key == ANSWERED_BY_SERVER for key, _ in trailing or ())


def call_status(exc: grpc.RpcError) -> tuple[grpc.StatusCode | None, str]:
    """The status code and details of a failed call; (None, a description) for an error that is not a call."""
    if hasattr(exc, "code") and hasattr(exc, "details"):
        return exc.code(), str(exc.details() or "")
    return None, str(exc) or type(exc).__name__


def _raised_at(exc: BaseException) -> str:
    """' at module.py:123' for the innermost frame of exc's traceback (a file name and line, no values)."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"


F = TypeVar("F", bound=Callable[..., Any])


def grpc_errors(method: F) -> F:
    """Turn a WhoElseError raised by a servicer method into a status with the error's message."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except WhoElseError as exc:
            # Marks the status as the server's own answer, so a client can tell "the node answered that the
            # directory is unreachable" from "the node could not be reached".
            context.set_trailing_metadata(((ANSWERED_BY_SERVER, "1"),))
            context.abort(status_for(exc), str(exc))
        except Exception as exc:
            # Never send internals to the caller, and never log the message or a traceback: either can hold
            # a child's details or a secret (the frames' locals, an SQL statement's parameters). The type
            # and where it was raised are enough to find the bug.
            log.error("internal error in %s: %s%s", method.__name__, type(exc).__name__, _raised_at(exc))
            context.abort(grpc.StatusCode.INTERNAL, "internal error; the node operator has the details")

    return wrapper  # type: ignore[return-value]
