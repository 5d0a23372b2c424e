"""Bytes that are not a protobuf message, sent to every port of a running federation: each gets
INVALID_ARGUMENT and one log line, never INTERNAL or a traceback in the server log."""

from __future__ import annotations

import logging

import grpc
import pytest

from tests.integration.harness import Federation
from tests.integration.test_federation import LEEDS
from whoelse.federation.transport import MtlsIdentity, secure_channel
from whoelse.node.server import create_server

GARBAGE = b"\x0a\xff\xff\xff\xff\x0f"  # field 1, length-delimited, claiming far more bytes than follow


def send_garbage(channel: grpc.Channel, method: str, kind: str = "unary_unary") -> grpc.RpcError:
    call = getattr(channel, kind)(method)  # no serialisers: the bytes go as they are
    with pytest.raises(grpc.RpcError) as refused:
        if kind == "unary_unary":
            call(GARBAGE, timeout=5)
        elif kind == "unary_stream":
            list(call(GARBAGE, timeout=5))
        else:
            list(call(iter([GARBAGE]), timeout=5))
    return refused.value


def assert_refused_quietly(
    error: grpc.RpcError, caplog: pytest.LogCaptureFixture, method: str, message: str
) -> None:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f"the request is not a valid {message} message"
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" from ")[0] for r in lines] == [f"malformed request to {method}"]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback
    caplog.clear()


PRACTITIONER_METHODS = [
    ("/whoelse.v1.Practitioner/Login", "unary_unary"),
    ("/whoelse.v1.Practitioner/Search", "unary_unary"),
    ("/whoelse.v1.Practitioner/WatchAlerts", "unary_stream"),
    ("/grpc.health.v1.Health/Check", "unary_unary"),
    ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "stream_stream"),
]


def test_the_practitioner_port_refuses_garbage_in_one_line(
    leeds_alone: Federation, caplog: pytest.LogCaptureFixture
) -> None:
    council = leeds_alone.councils[LEEDS]
    ca_pem = (leeds_alone.ca_dir / "ca.crt").read_bytes()
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)  # no client certificate needed
    with grpc.secure_channel(council.practitioner_endpoint, credentials) as channel:
        for method, kind in PRACTITIONER_METHODS:
            error = send_garbage(channel, method, kind)
            assert_refused_quietly(error, caplog, method, method.rsplit("/", 1)[1])


def test_the_federation_and_directory_ports_refuse_garbage_in_one_line(
    leeds_alone: Federation, caplog: pytest.LogCaptureFixture
) -> None:
    ca = leeds_alone.ca_dir
    leeds = MtlsIdentity.from_files(ca / "ca.crt", ca / f"{LEEDS}.crt", ca / f"{LEEDS}.key")
    directory = MtlsIdentity.from_files(ca / "ca.crt", ca / "directory.crt", ca / "directory.key")
    node_port = leeds_alone.councils[LEEDS].servers.federation_port
    targets = [
        (secure_channel(f"localhost:{node_port}", directory), "/whoelse.v1.FederationNode/Deliver"),
        (secure_channel(f"localhost:{leeds_alone.directory_port}", leeds), "/whoelse.v1.Directory/Route"),
        (secure_channel(f"localhost:{leeds_alone.directory_port}", leeds), "/whoelse.v1.Directory/Join"),
    ]
    for channel, method in targets:
        with channel:
            assert_refused_quietly(send_garbage(channel, method), caplog, method, method.rsplit("/", 1)[1])


def test_the_local_only_node_port_refuses_garbage_in_one_line(
    leeds_alone: Federation, caplog: pytest.LogCaptureFixture
) -> None:
    server, port = create_server("127.0.0.1:0", leeds_alone.councils[LEEDS].runtime.db, workers=2)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            method = "/whoelse.v1.CouncilNode/LocalSearch"
            assert_refused_quietly(send_garbage(channel, method), caplog, method, "LocalSearch")
    finally:
        server.stop(None).wait()
