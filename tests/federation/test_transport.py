"""Mutual-TLS helpers: credentials are checked when loaded, and a servicer learns who called it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from whoelse.federation import ca
from whoelse.federation.errors import ConfigError, PermissionDenied, WhoElseError
from whoelse.federation.transport import (
    SERVER_OPTIONS,
    MtlsIdentity,
    add_secure_port,
    client_source,
    peer_council,
    require_peer,
    secure_channel,
)
from whoelse.v1 import federation_pb2, federation_pb2_grpc

LEEDS = "E08000035"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = ca.init_ca("Transport test CA", days=30)
    ca.write_ca(folder, ca_key, ca_cert)
    for name in (LEEDS, ca.DIRECTORY_CN):
        ca.write_credentials(folder, name, *ca.issue(ca_key, ca_cert, name))
    return folder


def identity(pki: Path, name: str) -> MtlsIdentity:
    return MtlsIdentity.from_files(pki / "ca.crt", pki / f"{name}.crt", pki / f"{name}.key")


def test_credentials_load_and_name_their_holder(pki: Path) -> None:
    loaded = identity(pki, LEEDS)
    assert loaded.common_name == LEEDS
    assert loaded.fingerprint == ca.fingerprint((pki / f"{LEEDS}.crt").read_bytes())
    assert "PRIVATE" not in repr(loaded)


def test_bad_credentials_are_refused_when_loaded(pki: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key does not belong to the certificate"):
        MtlsIdentity.from_files(pki / "ca.crt", pki / f"{LEEDS}.crt", pki / "directory.key")
    ca.write_credentials(tmp_path, LEEDS, *ca.issue(*ca.init_ca("Rogue CA"), LEEDS))
    with pytest.raises(ConfigError, match="was not issued by the federation CA"):
        MtlsIdentity.from_files(pki / "ca.crt", tmp_path / f"{LEEDS}.crt", tmp_path / f"{LEEDS}.key")
    ca_key, ca_cert = (pki / "ca.key").read_bytes(), (pki / "ca.crt").read_bytes()
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=5)
    ca.write_credentials(tmp_path, "directory", *ca.issue(ca_key, ca_cert, "directory", days=1, now=old))
    with pytest.raises(ConfigError, match="certificate expired"):
        MtlsIdentity.from_files(pki / "ca.crt", tmp_path / "directory.crt", tmp_path / "directory.key")
    with pytest.raises(ConfigError, match="cert: cannot read"):
        MtlsIdentity.from_files(pki / "ca.crt", tmp_path / "missing.crt", pki / "directory.key")


class WhoCalls(federation_pb2_grpc.FederationNodeServicer):
    """Echoes the caller's common name, and refuses anyone but the directory on Deliver."""

    def Ping(
        self, request: federation_pb2.PingRequest, context: grpc.ServicerContext
    ) -> federation_pb2.PingResponse:
        try:
            return federation_pb2.PingResponse(payload=peer_council(context).encode())
        except WhoElseError as exc:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise

    def Deliver(
        self, request: federation_pb2.Delivery, context: grpc.ServicerContext
    ) -> federation_pb2.SealedAnswer:
        try:
            require_peer(context, ca.DIRECTORY_CN)
        except PermissionDenied as exc:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        return federation_pb2.SealedAnswer(responder=LEEDS)


@pytest.fixture(scope="module")
def node(pki: Path) -> Iterator[tuple[int, int]]:
    """A server with a mutual-TLS port and an insecure one."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=SERVER_OPTIONS)
    federation_pb2_grpc.add_FederationNodeServicer_to_server(WhoCalls(), server)
    secure = add_secure_port(server, "127.0.0.1:0", identity(pki, LEEDS))
    insecure = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield secure, insecure
    server.stop(None)


def test_the_servicer_learns_the_callers_council(pki: Path, node: tuple[int, int]) -> None:
    with secure_channel(f"127.0.0.1:{node[0]}", identity(pki, ca.DIRECTORY_CN)) as channel:
        stub = federation_pb2_grpc.FederationNodeStub(channel)
        assert stub.Ping(federation_pb2.PingRequest(), timeout=5).payload == b"directory"
        assert stub.Deliver(federation_pb2.Delivery(), timeout=5).responder == LEEDS


def test_only_the_directory_may_deliver(pki: Path, node: tuple[int, int]) -> None:
    channel = secure_channel(f"127.0.0.1:{node[0]}", identity(pki, LEEDS))
    with channel, pytest.raises(grpc.RpcError) as refused:
        federation_pb2_grpc.FederationNodeStub(channel).Deliver(federation_pb2.Delivery(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.details() == f"only directory may call this service; the caller is {LEEDS}"


def test_a_call_without_mutual_tls_has_no_council(node: tuple[int, int]) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{node[1]}")
    with channel, pytest.raises(grpc.RpcError) as refused:
        federation_pb2_grpc.FederationNodeStub(channel).Ping(federation_pb2.PingRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "presented no federation certificate" in refused.value.details()


def test_binding_a_busy_address_is_a_config_error(pki: Path, node: tuple[int, int]) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), options=SERVER_OPTIONS)
    with pytest.raises(ConfigError, match=f"cannot bind 127.0.0.1:{node[0]}"):
        add_secure_port(server, f"127.0.0.1:{node[0]}", identity(pki, LEEDS))


@pytest.mark.parametrize(
    ("peer", "source"),
    [
        ("ipv4:192.0.2.7:51234", "ipv4:192.0.2.7"),
        ("ipv6:[2001:db8::1]:443", "ipv6:[2001:db8::1]"),
        ("unix:/run/whoelse.sock", "unix:/run/whoelse.sock"),
    ],
)
def test_a_callers_source_is_its_address_without_its_port(peer: str, source: str) -> None:
    # The log-in throttle counts per source: a client's next connection (a new port) is the same source.
    assert client_source(peer) == source
