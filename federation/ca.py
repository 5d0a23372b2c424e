"""The federation's own small certificate authority: it issues the mutual-TLS certificates councils and the
directory present to each other, with the council's ONS code (or "directory") as the common name.

SPEC: X.509 profile of RFC 5280, built with PyCA `cryptography`. Keys are ECDSA P-256 with SHA-256
signatures, which every TLS stack accepts (gRPC's BoringSSL included). Leaf certificates carry what a TLS
peer checks: basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage serverAuth and/or
clientAuth, subjectAltName (DNS names and IP addresses), subject and authority key identifiers.
Certificates and keys are PEM bytes; private keys are unencrypted PKCS#8, so write them with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from whoelse.federation.errors import InvalidInput, Refused

DIRECTORY_CN = "directory"
_COMMON_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CLOCK_SKEW = dt.timedelta(minutes=5)  # back-date notBefore so peers with slightly slow clocks accept it


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _check_common_name(common_name: str) -> None:
    if not _COMMON_NAME.fullmatch(common_name):
        raise InvalidInput(
            f"certificate common name {common_name!r} must be 1-64 letters, digits, '.', '_' or '-' "
            "(a council's ONS code such as E09000033, or 'directory')"
        )


def _check_ca_name(common_name: str) -> None:
    if not 1 <= len(common_name) <= 64 or not common_name.isprintable():
        raise InvalidInput(f"CA common name {common_name!r} must be 1-64 printable characters")


def _check_days(days: int) -> None:
    if days < 1:
        raise InvalidInput(f"certificate lifetime must be at least 1 day, got {days}")


def load_certificate(cert_pem: bytes) -> x509.Certificate:
    """Parse a PEM certificate; raises InvalidInput if it is not one."""
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise InvalidInput("not a PEM X.509 certificate") from exc


def _load_ca_key(ca_key_pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(ca_key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("CA key is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidInput("CA key must be an EC P-256 key made by init_ca()")
    return key


def init_ca(common_name: str, days: int = 3650, *, now: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """Create a self-signed federation CA; returns (ca_key_pem, ca_cert_pem)."""
    _check_ca_name(common_name)
    _check_days(days)
    start = (now or _utcnow()) - _CLOCK_SKEW
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _key_pem(key), cert.public_bytes(serialization.Encoding.PEM)


def issue(
    ca_key_pem: bytes,
    ca_cert_pem: bytes,
    subject_cn: str,
    dns_names: Sequence[str] = ("localhost",),
    ips: Sequence[str] = ("127.0.0.1",),
    days: int = 365,
    *,
    server_auth: bool = True,
    client_auth: bool = True,
    now: dt.datetime | None = None,
) -> tuple[bytes, bytes]:
    """Issue a TLS certificate for a council (subject_cn = its ONS code) or the directory; returns
    (key_pem, cert_pem). By default it is usable both as a server and as a client (mutual TLS)."""
    _check_common_name(subject_cn)
    _check_days(days)
    if not (server_auth or client_auth):
        raise InvalidInput("a certificate must allow server use, client use, or both")
    try:
        addresses = [ipaddress.ip_address(ip) for ip in ips]
    except ValueError as exc:
        raise InvalidInput(f"not an IP address in {list(ips)!r}") from exc
    if not (dns_names or addresses):
        raise InvalidInput("a certificate needs at least one DNS name or IP address")
    ca_key = _load_ca_key(ca_key_pem)
    ca_cert = load_certificate(ca_cert_pem)
    start = (now or _utcnow()) - _CLOCK_SKEW
    key = _new_key()
    public = key.public_key()
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server_auth else []
    usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else []
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    alt_names += [x509.IPAddress(address) for address in addresses]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _key_pem(key), cert.public_bytes(serialization.Encoding.PEM)


def council_of(cert_pem: bytes) -> str:
    """The subject common name: the council's ONS code, or "directory". Raises Refused if there is none."""
    names = load_certificate(cert_pem).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or not isinstance(names[0].value, str):
        raise Refused("certificate does not name exactly one council in its common name")
    return names[0].value


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 fingerprint of the certificate (hex), for pinning in the directory's registry."""
    return load_certificate(cert_pem).fingerprint(hashes.SHA256()).hex()


def check_validity(cert_pem: bytes, now: dt.datetime | None = None) -> None:
    """Raises Refused("certificate expired ...") or Refused("certificate not yet valid ...") at time now."""
    cert = load_certificate(cert_pem)
    moment = now or _utcnow()
    if moment.tzinfo is None:
        raise InvalidInput("check_validity needs a timezone-aware time")
    if moment > cert.not_valid_after_utc:
        raise Refused(
            f"certificate expired at {cert.not_valid_after_utc.isoformat()} ({council_of(cert_pem)})"
        )
    if moment < cert.not_valid_before_utc:
        starts = cert.not_valid_before_utc.isoformat()
        raise Refused(f"certificate not yet valid until {starts} ({council_of(cert_pem)})")


def verify_issued_by(ca_cert_pem: bytes, cert_pem: bytes) -> None:
    """Raises Refused unless cert_pem was signed by the CA in ca_cert_pem (one level: the federation has
    no intermediate CAs)."""
    cert = load_certificate(cert_pem)
    try:
        cert.verify_directly_issued_by(load_certificate(ca_cert_pem))
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise Refused(f"certificate for {council_of(cert_pem)} was not issued by the federation CA") from exc


def _write(path: Path, data: bytes, mode: int) -> None:
    # Create with the final mode so a key is never readable by others, even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # O_CREAT's mode is masked by umask and ignored for an existing file


def write_credentials(directory: Path, name: str, key_pem: bytes, cert_pem: bytes) -> tuple[Path, Path]:
    """Write <name>.key (mode 0600) and <name>.crt (0644) into directory; returns (key_path, cert_path)."""
    _check_common_name(name)
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    _write(key_path, key_pem, 0o600)
    _write(cert_path, cert_pem, 0o644)
    return key_path, cert_path


def write_ca(directory: Path, ca_key_pem: bytes, ca_cert_pem: bytes) -> tuple[Path, Path]:
    """Write ca.key (0600) and ca.crt (0644) into directory; returns (key_path, cert_path)."""
    return write_credentials(directory, "ca", ca_key_pem, ca_cert_pem)
