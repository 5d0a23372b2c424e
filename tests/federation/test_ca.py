"""The federation CA: certificates chain to it, name their council, expire, and work for gRPC mutual TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from whoelse.federation import ca
from whoelse.federation.errors import InvalidInput, Refused

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
Credentials = tuple[bytes, bytes]


@pytest.fixture(scope="module")
def federation_ca() -> Credentials:
    return ca.init_ca("WhoElse test federation CA", days=30)


@pytest.fixture(scope="module")
def council(federation_ca: Credentials) -> Credentials:
    return ca.issue(*federation_ca, "E09000033")


def test_an_issued_certificate_chains_to_the_ca_and_names_its_council(
    federation_ca: Credentials, council: Credentials
) -> None:
    key_pem, cert_pem = council
    ca.verify_issued_by(federation_ca[1], cert_pem)
    assert ca.council_of(cert_pem) == "E09000033"
    assert b"PRIVATE KEY" in key_pem
    cert = ca.load_certificate(cert_pem)
    alt_names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt_names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert alt_names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_certificate_from_another_ca_is_refused(federation_ca: Credentials) -> None:
    rogue_ca = ca.init_ca("Rogue CA")
    _, rogue_cert = ca.issue(*rogue_ca, "E09000033")
    with pytest.raises(Refused, match="E09000033 was not issued by the federation CA"):
        ca.verify_issued_by(federation_ca[1], rogue_cert)


def test_a_client_only_certificate_has_only_client_use(federation_ca: Credentials) -> None:
    _, cert_pem = ca.issue(*federation_ca, "directory", server_auth=False)
    usages = ca.load_certificate(cert_pem).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert ca.council_of(cert_pem) == ca.DIRECTORY_CN


def test_expired_and_not_yet_valid_certificates_are_detected(federation_ca: Credentials) -> None:
    _, cert_pem = ca.issue(*federation_ca, "E08000035", days=10, now=NOW)
    ca.check_validity(cert_pem, NOW + dt.timedelta(days=9))
    with pytest.raises(Refused, match=r"certificate expired at 2025-06-11.*\(E08000035\)"):
        ca.check_validity(cert_pem, NOW + dt.timedelta(days=11))
    with pytest.raises(Refused, match="certificate not yet valid"):
        ca.check_validity(cert_pem, NOW - dt.timedelta(hours=1))
    with pytest.raises(InvalidInput, match="timezone-aware"):
        ca.check_validity(cert_pem, dt.datetime(2025, 6, 2))


def test_a_fresh_certificate_is_valid_now(council: Credentials) -> None:
    ca.check_validity(council[1])


@pytest.mark.parametrize("name", ["", "E09000033 ", "../etc", "x" * 65])
def test_bad_common_names_are_rejected(federation_ca: Credentials, name: str) -> None:
    with pytest.raises(InvalidInput, match="common name"):
        ca.issue(*federation_ca, name)


def test_bad_issue_arguments_are_rejected(federation_ca: Credentials) -> None:
    with pytest.raises(InvalidInput, match="CA common name"):
        ca.init_ca("line\nbreak")
    with pytest.raises(InvalidInput, match="not an IP address"):
        ca.issue(*federation_ca, "E09000033", ips=["localhost"])
    with pytest.raises(InvalidInput, match="at least 1 day"):
        ca.issue(*federation_ca, "E09000033", days=0)
    with pytest.raises(InvalidInput, match="at least one DNS name"):
        ca.issue(*federation_ca, "E09000033", dns_names=[], ips=[])
    with pytest.raises(InvalidInput, match=r"not a PEM X\.509 certificate"):
        ca.council_of(b"-----BEGIN NOTHING-----")


def test_fingerprints_differ_per_certificate(federation_ca: Credentials, council: Credentials) -> None:
    other = ca.issue(*federation_ca, "E09000033")[1]
    assert len(ca.fingerprint(council[1])) == 64
    assert ca.fingerprint(council[1]) != ca.fingerprint(other)


def test_credentials_are_written_with_private_keys_unreadable_by_others(
    tmp_path: Path, federation_ca: Credentials, council: Credentials
) -> None:
    ca_key_path, ca_cert_path = ca.write_ca(tmp_path / "pki", *federation_ca)
    key_path, cert_path = ca.write_credentials(tmp_path / "pki", "E09000033", *council)
    assert stat.S_IMODE(ca_key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert_path.stat().st_mode) == 0o644
    assert ca_cert_path.read_bytes() == federation_ca[1]
    assert key_path.read_bytes() == council[0]
    key_path.chmod(0o644)  # a rewrite tightens a key file that someone loosened
    ca.write_credentials(tmp_path / "pki", "E09000033", *council)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


@pytest.fixture(scope="module")
def mtls_server(federation_ca: Credentials, council: Credentials) -> Iterator[int]:
    """A gRPC server that serves only the standard health service and demands a federation client cert."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    credentials = grpc.ssl_server_credentials(
        [(council[0], council[1])], root_certificates=federation_ca[1], require_client_auth=True
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    yield port
    server.stop(grace=None)


def _health_check(port: int, root_pem: bytes, client: Credentials | None) -> health_pb2.HealthCheckResponse:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root_pem,
        private_key=client[0] if client else None,
        certificate_chain=client[1] if client else None,
    )
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response: health_pb2.HealthCheckResponse = stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        return response


def test_grpc_mutual_tls_accepts_a_federation_client(federation_ca: Credentials, mtls_server: int) -> None:
    client = ca.issue(*federation_ca, "directory")
    response = _health_check(mtls_server, federation_ca[1], client)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_grpc_mutual_tls_refuses_a_client_from_another_ca(
    federation_ca: Credentials, mtls_server: int
) -> None:
    rogue = ca.issue(*ca.init_ca("Rogue CA"), "E09000033")
    with pytest.raises(grpc.RpcError) as refused:
        _health_check(mtls_server, federation_ca[1], rogue)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_grpc_mutual_tls_refuses_a_client_without_a_certificate(
    federation_ca: Credentials, mtls_server: int
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _health_check(mtls_server, federation_ca[1], None)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
