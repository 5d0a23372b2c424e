"""federation/status.py: a servicer's unexpected error reaches the caller as INTERNAL with a fixed message,
and the operator's log names its type and place only — never its message or a traceback, which could hold a
child's details or a secret."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from whoelse.federation.errors import Refused
from whoelse.federation.status import grpc_errors

SECRET = "Zoë O'Neill 9434765919"


class Failing:
    @grpc_errors
    def Crash(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        values = {"child": SECRET}
        raise KeyError(f"no such key in {values}")

    @grpc_errors
    def Refuse(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        raise Refused("council E08000036 is revoked")


@pytest.fixture()
def channel() -> Iterator[grpc.Channel]:
    servicer = Failing()
    handlers: dict[str, Any] = {
        name: grpc.unary_unary_rpc_method_handler(getattr(servicer, name)) for name in ("Crash", "Refuse")
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Failing", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as opened:
        yield opened
    server.stop(None)


def call(channel: grpc.Channel, name: str) -> grpc.RpcError:
    method = channel.unary_unary(f"/test.Failing/{name}")
    with pytest.raises(grpc.RpcError) as info:
        method(b"", timeout=5)
    return info.value


def test_an_internal_error_is_logged_by_type_and_place_without_its_message_or_traceback(
    channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error = call(channel, "Crash")
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error; the node operator has the details"
    [record] = [r for r in caplog.records if r.name == "whoelse.federation.status"]
    assert record.getMessage().startswith("internal error in Crash: KeyError at test_status.py:")
    assert record.exc_info is None and record.exc_text is None  # no traceback attached
    assert "Zo" not in caplog.text and "9434765919" not in caplog.text and "Traceback" not in caplog.text


def test_a_domain_error_keeps_its_message_for_the_caller(channel: grpc.Channel) -> None:
    error = call(channel, "Refuse")
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details() == "council E08000036 is revoked"
