"""Mutual TLS between council nodes and the directory: credentials from the federation CA's files, and the
identity of the peer on the other end of a call.

Every federation connection is mutual TLS under the federation CA (federation/ca.py). gRPC's TLS stack
(BoringSSL) refuses, during the handshake, a peer whose certificate does not chain to the CA, is expired or
not yet valid, or is missing; such a caller never reaches a servicer and sees UNAVAILABLE. What a handshake
cannot know, whether the council named in the certificate is still trusted, the servicers check with
`peer_council(context)` against the directory's registry or the node's cached council list.

A node process uses this module like so:

    identity = MtlsIdentity.from_files(ca_path, cert_path, key_path)
    port = add_secure_port(server, "0.0.0.0:50052", identity)          # clients must present a CA cert
    channel = secure_channel("directory.example:50050", identity)     # presents our cert to the server
    ... in a servicer: council = peer_council(context)                 # e.g. "E08000035" or "directory"
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives import serialization

from whoelse.federation import ca
from whoelse.federation.errors import (
    ConfigError,
    PermissionDenied,
    Refused,
    Unauthenticated,
    Unavailable,
    WhoElseError,
)
from whoelse.federation.status import call_status
from whoelse.v1 import federation_pb2, federation_pb2_grpc
from whoelse.v1.federation_pb2 import SignedCouncilList

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest federation message either side accepts (a routed query to 153 councils is well under this)."""

CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # A stopped peer is retried soon after it comes back rather than after gRPC's default 2-minute backoff.
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.min_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5_000),
    ("grpc.keepalive_time_ms", 30_000),
)
SERVER_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    # Without this gRPC sets SO_REUSEPORT, and a second server on a busy port would silently share it.
    ("grpc.so_reuseport", 0),
)


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from exc


@dataclass(frozen=True, slots=True, repr=False)
class MtlsIdentity:
    """Our side of mutual TLS: the federation CA certificate we trust, and our own certificate and key."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def from_files(cls, ca_path: Path | str, cert_path: Path | str, key_path: Path | str) -> MtlsIdentity:
        """Load and check the three PEM files; ConfigError names the file that is wrong (unreadable, not
        issued by the CA, expired, or a key that does not belong to the certificate)."""
        identity = cls(
            _read(Path(ca_path), "ca"), _read(Path(cert_path), "cert"), _read(Path(key_path), "key")
        )
        try:
            identity.check()
        except WhoElseError as exc:
            raise ConfigError(f"mTLS credentials ({cert_path}, {key_path}, {ca_path}): {exc}") from exc
        return identity

    def check(self, now: dt.datetime | None = None) -> None:
        """Raise if the certificate is not from the CA, not valid now, or the key is not its key."""
        ca.verify_issued_by(self.ca_pem, self.cert_pem)
        ca.check_validity(self.cert_pem, now)
        try:
            key = serialization.load_pem_private_key(self.key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError("key is not an unencrypted PEM private key") from exc
        cert_key = ca.load_certificate(self.cert_pem).public_key()
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if key.public_key().public_bytes(der, spki) != cert_key.public_bytes(der, spki):
            raise ConfigError("key does not belong to the certificate")

    @property
    def common_name(self) -> str:
        """Who we are in the federation: a council's ONS code or "directory"."""
        return ca.council_of(self.cert_pem)

    @property
    def fingerprint(self) -> str:
        return ca.fingerprint(self.cert_pem)

    def __repr__(self) -> str:
        return f"MtlsIdentity(common_name={self.common_name!r})"


def server_credentials(identity: MtlsIdentity) -> grpc.ServerCredentials:
    """TLS server credentials that demand a client certificate chaining to the federation CA."""
    return grpc.ssl_server_credentials(
        [(identity.key_pem, identity.cert_pem)], root_certificates=identity.ca_pem, require_client_auth=True
    )


def channel_credentials(identity: MtlsIdentity) -> grpc.ChannelCredentials:
    """TLS client credentials that present our certificate and trust only the federation CA."""
    return grpc.ssl_channel_credentials(
        root_certificates=identity.ca_pem, private_key=identity.key_pem, certificate_chain=identity.cert_pem
    )


def add_secure_port(server: grpc.Server, address: str, identity: MtlsIdentity) -> int:
    """Bind address (HOST:PORT; port 0 picks one) with mutual TLS; returns the bound port."""
    try:
        port: int = server.add_secure_port(address, server_credentials(identity))
    except RuntimeError as exc:
        raise ConfigError(f"listen: cannot bind {address}") from exc
    if port == 0:
        raise ConfigError(f"listen: cannot bind {address}")
    return port


def secure_channel(
    target: str,
    identity: MtlsIdentity,
    *,
    server_name: str | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Channel:
    """A mutual-TLS channel to target (HOST:PORT). server_name overrides the name checked against the
    server certificate's subjectAltName, for a peer reached by an address its certificate does not list."""
    extra = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.secure_channel(target, channel_credentials(identity), [*CHANNEL_OPTIONS, *extra, *options])


def _auth_value(context: grpc.ServicerContext, key: str) -> bytes | None:
    values = context.auth_context().get(key) or []
    return bytes(values[0]) if len(values) == 1 else None


def client_source(peer: str) -> str:
    """Where a call came from, as gRPC names the peer, without the client's port: "ipv4:192.0.2.7:51234"
    → "ipv4:192.0.2.7", "ipv6:[2001:db8::1]:443" → "ipv6:[2001:db8::1]". Behind a proxy: the proxy."""
    kind, _, address = peer.partition(":")
    if kind in ("ipv4", "ipv6") and ":" in address:
        return f"{kind}:{address.rsplit(':', 1)[0]}"
    return peer


def peer_council(context: grpc.ServicerContext) -> str:
    """The common name in the caller's verified certificate: its council's ONS code, or "directory".

    Raises Unauthenticated if the call did not come over mutual TLS (e.g. an insecure port)."""
    name = _auth_value(context, "x509_common_name")
    if name is None:
        raise Unauthenticated("the caller presented no federation certificate (mutual TLS is required)")
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unauthenticated("the caller's certificate common name is not valid UTF-8") from exc


def peer_certificate_pem(context: grpc.ServicerContext) -> bytes | None:
    """The caller's verified certificate (PEM), e.g. to record its fingerprint; None without mutual TLS."""
    return _auth_value(context, "x509_pem_cert")


@functools.lru_cache(maxsize=1024)
def _fingerprint(certificate_pem: bytes) -> str:
    return ca.fingerprint(certificate_pem)  # each peer presents the same certificate on every call


def peer_fingerprint(context: grpc.ServicerContext) -> str:
    """SHA-256 fingerprint (hex) of the caller's verified certificate; Unauthenticated without mutual TLS."""
    certificate = peer_certificate_pem(context)
    if certificate is None:
        raise Unauthenticated("the caller presented no federation certificate (mutual TLS is required)")
    return _fingerprint(certificate)


def require_peer(context: grpc.ServicerContext, expected: str) -> None:
    """Raise PermissionDenied unless the caller's certificate names expected (e.g. only "directory" may call
    a node's FederationNode service)."""
    caller = peer_council(context)
    if caller != expected:
        raise PermissionDenied(f"only {expected} may call this service; the caller is {caller}")


def council_list_fetcher(channel: grpc.Channel, timeout: float = 5.0) -> Callable[[int], SignedCouncilList]:
    """A fetcher for CouncilListCache.refresh: calls Directory.GetCouncilList over channel and turns an
    unreachable directory into Unavailable (so the cache answers instead) and a refusal into Refused."""
    stub = federation_pb2_grpc.DirectoryStub(channel)

    def fetch(known_version: int) -> SignedCouncilList:
        try:
            signed: SignedCouncilList = stub.GetCouncilList(
                federation_pb2.CouncilListRequest(known_version=known_version), timeout=timeout
            )
        except grpc.RpcError as exc:
            code, detail = call_status(exc)
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, None):
                raise Unavailable(f"directory unreachable: {detail}") from exc
            raise Refused(f"directory refused the council list request: {detail}") from exc
        return signed

    return fetch
