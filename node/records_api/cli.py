"""`whoelse node system add|revoke|list`: case-management systems that may write through the records API."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from pathlib import Path

from whoelse.federation import ca
from whoelse.federation.errors import InvalidInput
from whoelse.node.audit import AuditLog
from whoelse.node.records_api.systems import (
    COMMON_NAME_PREFIX,
    Scope,
    add_system,
    check_name,
    list_systems,
    parse_scopes,
    revoke_system,
)
from whoelse.node.settings import load
from whoelse.node.storage.database import Database

OpenDb = Callable[[argparse.Namespace], Database]


def add_system_commands(
    node_subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    open_db: OpenDb,
    with_db: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    """Add `system add|revoke|list` under `whoelse node`."""
    parser = node_subparsers.add_parser(
        "system", help="case-management systems allowed to use the records API"
    )
    sub = parser.add_subparsers(dest="system_command", required=True, metavar="ACTION")
    p = with_db(sub.add_parser("add", help="register a system and issue its client certificate"))
    p.add_argument("name", help="1-40 lower-case letters, digits, '-' or '_', e.g. mosaic")
    p.add_argument(
        "--scope",
        action="append",
        required=True,
        help=f"what it may change (repeat or comma-separate): {', '.join(s.value for s in Scope)}",
    )
    p.add_argument("--ca-cert", required=True, help="the federation CA certificate")
    p.add_argument("--ca-key", required=True, help="the federation CA key, to issue the system's certificate")
    p.add_argument("--out", required=True, help="directory for NAME.key and NAME.crt (mode 0600 key)")
    p.add_argument("--days", type=int, default=365, help="certificate lifetime (default %(default)s days)")
    p.set_defaults(handler=lambda args: _add(open_db(args), args))
    p = with_db(sub.add_parser("revoke", help="refuse the system's certificate from its next call on"))
    p.add_argument("name")
    p.set_defaults(handler=lambda args: _revoke(open_db(args), args.name))
    p = with_db(sub.add_parser("list", help="registered systems, their scopes, and whether revoked"))
    p.set_defaults(handler=lambda args: _list(open_db(args)))


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{what}: cannot read {path}: {exc.strerror}") from exc


def _audit(db: Database, name: str, action: str) -> None:
    with db.session() as session:
        settings = load(session)
    AuditLog(db, settings.council.code, settings.signing_key).account_event(
        f"system:{name}", action, f"records team ({getpass.getuser()[:40]})"
    )


def _add(db: Database, args: argparse.Namespace) -> int:
    name = check_name(args.name)
    scopes = parse_scopes(args.scope)
    ca_cert, ca_key = _read(args.ca_cert, "--ca-cert"), _read(args.ca_key, "--ca-key")
    key_pem, cert_pem = ca.issue(
        ca_key, ca_cert, COMMON_NAME_PREFIX + name, dns_names=(), ips=("127.0.0.1",), days=args.days,
        server_auth=False, client_auth=True,
    )  # fmt: skip
    with db.session() as session:  # registered only once its key and certificate are written
        add_system(session, name, scopes, ca.fingerprint(cert_pem))
        key_path, cert_path = ca.write_credentials(Path(args.out), name, key_pem, cert_pem)
    _audit(db, name, "system add")
    print(f"records system {name} may change {', '.join(sorted(scopes))}")
    print(f"certificate {cert_path}, key {key_path}")
    return 0


def _revoke(db: Database, name: str) -> int:
    with db.session() as session:
        revoke_system(session, name)
    _audit(db, name, "system revoke")
    print(f"records system {name} revoked: its certificate is refused from now on")
    return 0


def _list(db: Database) -> int:
    with db.session() as session:
        rows = list_systems(session)
    for row in rows:
        print(
            json.dumps(
                {
                    "name": row.name,
                    "scopes": row.scopes.split(","),
                    "added_at": row.added_at.isoformat(timespec="seconds"),
                    "revoked_at": row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else None,
                }
            )
        )
    return 0
