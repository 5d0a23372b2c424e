"""`whoelse directory …`: set up, run and operate the directory (registry, match-token keys, server)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from whoelse.directory.storage import DirectoryDatabase, council_list_version
from whoelse.federation.errors import InvalidInput

DEFAULT_DB = "whoelse-directory.sqlite"


def _db(args: argparse.Namespace) -> DirectoryDatabase:
    """The existing directory database (only `init` creates one)."""
    return DirectoryDatabase.open_existing(args.db)


def _hex32(value: str, what: str) -> bytes:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value.strip()):
        raise InvalidInput(f"{what} must be 32 bytes as 64 hex digits")
    return bytes.fromhex(value.strip())


def cmd_init(args: argparse.Namespace) -> int:
    from whoelse.directory.setup import initialise

    db = DirectoryDatabase.open(args.db)
    signing_key, first = initialise(db, args.dir)
    print(f"directory initialised; keys in {Path(args.dir).resolve()} (secrets mode 0600)")
    print(f"directory verify key (give {Path(args.dir) / 'directory.pub'} to every node): ", end="")
    print(signing_key.verify_key_bytes.hex())
    print(f"match-token key: {first.key_id}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from whoelse.directory.server import serve
    from whoelse.directory.setup import key_directory
    from whoelse.directory.token_service import TokenLimits
    from whoelse.federation import logs
    from whoelse.federation.serving import keep_large_buffers
    from whoelse.federation.transport import MtlsIdentity

    logs.configure()
    keep_large_buffers()
    db = _db(args)
    identity = MtlsIdentity.from_files(args.ca, args.cert, args.key)
    limits = TokenLimits(max_batch=args.max_batch, per_minute=args.rate_per_minute)
    port_file = Path(args.port_file) if args.port_file else None
    serve(
        args.listen,
        db,
        identity,
        key_directory(db, args.dir),
        limits=limits,
        port_file=port_file,
        metrics_listen=args.metrics_listen or "",
    )
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from whoelse.directory.registry import Registry
    from whoelse.federation import ca

    try:
        cert_pem = Path(args.cert).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"--cert: cannot read {args.cert}") from exc
    if ca.council_of(cert_pem) != args.code:
        raise InvalidInput(f"--cert names {ca.council_of(cert_pem)}, not {args.code}")
    entry = Registry(_db(args)).register_active(
        args.code,
        args.name,
        args.endpoint,
        _hex32(args.signing_key, "--signing-key"),
        _hex32(args.sealing_key, "--sealing-key"),
        ca.fingerprint(cert_pem),
    )
    print(f"council {entry.code} ({entry.name}) is {entry.status.value} at {entry.endpoint}")
    return 0


def cmd_add_many(args: argparse.Namespace) -> int:
    """Enrol many councils at once: a JSON list of {code, name, endpoint, signing_key, sealing_key, cert}."""
    import json

    from whoelse.directory.registry import Registry
    from whoelse.federation import ca

    try:
        entries = json.loads(Path(args.source).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"--from: cannot read a JSON list from {args.source}") from exc
    if not isinstance(entries, list):
        raise InvalidInput(f"--from: {args.source} must hold a JSON list of councils")
    registry = Registry(_db(args))
    for n, item in enumerate(entries, start=1):
        where = f"{args.source} item {n}"
        try:
            cert_pem = Path(item["cert"]).read_bytes()
            code = item["code"]
        except (KeyError, TypeError, OSError) as exc:
            raise InvalidInput(
                f"{where}: needs code, name, endpoint, signing_key, sealing_key and cert"
            ) from exc
        if ca.council_of(cert_pem) != code:
            raise InvalidInput(f"{where}: cert names {ca.council_of(cert_pem)}, not {code}")
        registry.register_active(
            code,
            item["name"],
            item["endpoint"],
            _hex32(item["signing_key"], f"{where} signing_key"),
            _hex32(item["sealing_key"], f"{where} sealing_key"),
            ca.fingerprint(cert_pem),
        )
    print(f"{len(entries)} councils enrolled as active")
    return 0


def _certificate(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"--cert: cannot read {path}") from exc


def cmd_certificate_rotate(args: argparse.Namespace) -> int:
    from whoelse.directory.registry import Registry
    from whoelse.federation import ca

    cert_pem = _certificate(args.cert)
    if ca.council_of(cert_pem) != args.code:
        raise InvalidInput(f"--cert names {ca.council_of(cert_pem)}, not {args.code}")
    entry = Registry(_db(args)).rotate_certificate(args.code, ca.fingerprint(cert_pem))
    print(f"council {entry.code} now uses certificate {entry.certificate_fingerprint}; the old is revoked")
    return 0


def cmd_certificate_revoke(args: argparse.Namespace) -> int:
    from whoelse.directory.registry import Registry
    from whoelse.federation import ca

    if bool(args.cert) == bool(args.fingerprint):
        raise InvalidInput("give exactly one of --cert FILE and --fingerprint HEX")
    if args.cert:
        cert_pem = _certificate(args.cert)
        fingerprint, name = ca.fingerprint(cert_pem), ca.council_of(cert_pem)
    else:
        fingerprint, name = args.fingerprint.strip().lower(), args.name
    revoked = Registry(_db(args)).revoke_certificate(fingerprint, name, args.reason)
    print(f"certificate {fingerprint} {'revoked' if revoked else 'was already revoked'}")
    return 0


def _status_command(action: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        from whoelse.directory.registry import Registry

        db = _db(args)
        entry = getattr(Registry(db), action)(args.code)
        with db.session() as session:
            version = council_list_version(session)
        print(f"council {entry.code} ({entry.name}) is {entry.status.value}; council list version {version}")
        return 0

    return handler


def cmd_list(args: argparse.Namespace) -> int:
    from whoelse.directory.registry import Registry

    db = _db(args)
    entries = Registry(db).entries()
    with db.session() as session:
        version = council_list_version(session)
    if args.json:
        rows = [
            {"code": e.code, "name": e.name, "status": e.status.value, "endpoint": e.endpoint,
             "signing_key": e.signing_key.hex(), "sealing_key": e.sealing_key.hex(),
             "certificate_fingerprint": e.certificate_fingerprint}
            for e in entries
        ]  # fmt: skip
        print(json.dumps({"version": version, "councils": rows}, indent=2))
        return 0
    print(f"council list version {version}: {len(entries)} councils")
    for e in entries:
        print(f"{e.code}  {e.status.value:<9}  {e.endpoint:<24}  {e.name}")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from whoelse.directory.setup import key_directory
    from whoelse.directory.token_service import rotate

    db = _db(args)
    new = rotate(db, key_directory(db, args.dir))
    print(f"new current match-token key {new.key_id}; previous keys stay answerable until retired")
    print("next: every node re-tokenises its records with the new key, then run")
    print("  whoelse directory retire-oprf-key OLD_KEY_ID --db …   (see docs/rotation.md)")
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    from whoelse.directory.setup import key_directory
    from whoelse.directory.token_service import retire

    db = _db(args)
    info = retire(db, key_directory(db, args.dir), args.key_id)
    print(f"match-token key {info.key_id} is {info.state}; its secret is destroyed")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from whoelse.directory.token_service import list_keys

    for info in list_keys(_db(args)):
        print(f"{info.key_id}  {info.state}")
    return 0


def register(commands: Any, benchmarks: Any) -> None:
    directory = commands.add_parser("directory", help="run and operate the federation's directory")
    sub = directory.add_subparsers(dest="directory_command", required=True, metavar="ACTION")

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", default=DEFAULT_DB, help="SQLite file or database URL (default %(default)s)")
        return p

    def with_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--dir", help="key directory (default: the one given to `init`)")
        return p

    p = with_db(sub.add_parser("init", help="create the directory's signing key and first match-token key"))
    p.add_argument("--dir", required=True, help="where to write the key files (secrets are mode 0600)")
    p.set_defaults(handler=cmd_init)

    p = with_dir(with_db(sub.add_parser("serve", help="run the directory's gRPC server (mutual TLS)")))
    p.add_argument("--listen", default="127.0.0.1:50050", help="HOST:PORT (default %(default)s)")
    p.add_argument("--ca", required=True, help="federation CA certificate (PEM)")
    p.add_argument("--cert", required=True, help="the directory's certificate (CN 'directory')")
    p.add_argument("--key", required=True, help="the directory's private key")
    p.add_argument("--rate-per-minute", type=int, default=20_000, help="match-token evaluations per council")
    p.add_argument("--max-batch", type=int, default=1_000, help="blinded elements per EvaluateTokens call")
    p.add_argument("--port-file", help="write the port actually bound here once listening (for --listen …:0)")
    p.add_argument("--metrics-listen", help="HOST:PORT for Prometheus /metrics (an internal address only)")
    p.set_defaults(handler=cmd_serve)

    p = with_db(sub.add_parser("add", help="enrol a council as active without the Join round trip"))
    p.add_argument("code", help="ONS code, e.g. E08000035")
    p.add_argument("--name", required=True)
    p.add_argument("--endpoint", required=True, help="HOST:PORT of the council's FederationNode service")
    p.add_argument("--signing-key", required=True, help="Ed25519 verify key, 64 hex digits")
    p.add_argument("--sealing-key", required=True, help="X25519 public key, 64 hex digits")
    p.add_argument("--cert", required=True, help="the council's TLS certificate (its fingerprint is pinned)")
    p.set_defaults(handler=cmd_add)

    p = with_db(sub.add_parser("add-many", help="enrol many councils from a JSON list (see `add`)"))
    p.add_argument("--from", dest="source", required=True, help="JSON list of {code, name, endpoint, ...}")
    p.set_defaults(handler=cmd_add_many)

    for action, text in (
        ("approve", "make a pending or suspended council active"),
        ("suspend", "stop a council taking part until approved again"),
        ("revoke", "withdraw a council for good"),
    ):
        p = with_db(sub.add_parser(action, help=text))
        p.add_argument("code")
        p.set_defaults(handler=_status_command(action))

    certificate = sub.add_parser("certificate", help="rotate or revoke a single TLS certificate")
    certificate_sub = certificate.add_subparsers(dest="certificate_command", required=True)
    p = with_db(certificate_sub.add_parser("rotate", help="pin a council's new certificate, revoke the old"))
    p.add_argument("code")
    p.add_argument("--cert", required=True, help="the council's new TLS certificate (PEM)")
    p.set_defaults(handler=cmd_certificate_rotate)
    p = with_db(certificate_sub.add_parser("revoke", help="refuse one certificate for good"))
    p.add_argument("--cert", help="the certificate (PEM)")
    p.add_argument("--fingerprint", help="or its SHA-256 fingerprint (hex)")
    p.add_argument("--name", default="", help="with --fingerprint: whom it was issued to")
    p.add_argument("--reason", default="", help="recorded with the revocation")
    p.set_defaults(handler=cmd_certificate_revoke)

    p = with_db(sub.add_parser("list", help="list councils and their status"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_list)

    p = with_dir(with_db(sub.add_parser("rotate-oprf-key", help="make a new current match-token key")))
    p.set_defaults(handler=cmd_rotate)

    p = with_dir(with_db(sub.add_parser("retire-oprf-key", help="stop answering for an old match-token key")))
    p.add_argument("key_id")
    p.set_defaults(handler=cmd_retire)

    p = with_db(sub.add_parser("oprf-keys", help="list match-token keys and their state"))
    p.set_defaults(handler=cmd_keys)
