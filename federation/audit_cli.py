"""`whoelse audit verify`: an auditor's independent check of a council's audit log or the directory's
routing log, straight from a copy of its database.

It needs only the database, the log's public verify key (from the directory's signed council list, not from
the database being checked) and, ideally, heads the log published elsewhere (`whoelse directory` keeps
them): the database alone cannot show a truncation or a rewrite re-signed with a stolen key.
Exit status: 0 when the log verifies, 1 when a problem was found, 2 on a usage or input error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from federation.errors import ConfigError, InvalidInput, NotFound, Unavailable
from federation.merkle import SignedTreeHead
from federation.signing import VERIFY_KEY_BYTES
from federation.transparency_log import VerificationReport, define_log_table, load_trusted_heads, verify_log

EXIT_PROBLEMS = 1


def read_verify_key(value: str) -> bytes:
    """A verify key given as 64 hex characters, or as a file holding the hex or the 32 raw bytes."""
    text = value.strip()
    if len(text) == 2 * VERIFY_KEY_BYTES:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    path = Path(value).expanduser()
    if not path.is_file():
        raise InvalidInput(
            f"--key {value!r} is neither {2 * VERIFY_KEY_BYTES} hex characters nor a readable file"
        )
    data = path.read_bytes()
    if len(data) == VERIFY_KEY_BYTES:
        return data
    try:
        key = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(
            f"{path}: not a verify key (expected hex or {VERIFY_KEY_BYTES} raw bytes)"
        ) from None
    if len(key) != VERIFY_KEY_BYTES:
        raise InvalidInput(f"{path}: a verify key is {VERIFY_KEY_BYTES} bytes, got {len(key)}")
    return key


def _read_only_url(value: str) -> str:
    """A database URL; a plain path is opened as a read-only SQLite file, so verifying never writes."""
    if "://" in value:
        return value
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise NotFound(f"{value}: no such database file")
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def verify_database(
    database: str,
    table: str,
    verify_key: bytes,
    trusted_heads: list[SignedTreeHead],
    log_id: str | None = None,
) -> VerificationReport:
    """Open database (URL or SQLite path) and verify the log stored in `table` and `<table>_heads`."""
    try:
        url = make_url(_read_only_url(database))
    except ArgumentError as exc:
        raise ConfigError(f"database: not a valid database URL or path: {database!r}") from exc
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        for needed in (table, f"{table}_heads"):
            if needed not in names:
                raise NotFound(f"{database}: has no table {needed!r} (is --table right?)")
        tables = define_log_table(MetaData(), table)
        with Session(engine) as session:
            return verify_log(session, tables, verify_key, trusted_heads, log_id)
    except OperationalError as exc:
        raise Unavailable(f"database: cannot read {url.render_as_string(hide_password=True)}") from exc
    finally:
        engine.dispose()


def cmd_verify(args: argparse.Namespace) -> int:
    key = read_verify_key(args.key)
    trusted = load_trusted_heads(Path(args.trusted_heads)) if args.trusted_heads else []
    report = verify_database(args.database, args.table, key, trusted, args.log_id)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.to_text())
        if not trusted:
            print(
                "  note: no --trusted-heads given; a truncated or re-signed log can only be caught against "
                "heads it published elsewhere"
            )
    return 0 if report.ok else EXIT_PROBLEMS


def register(commands: Any, benchmarks: Any) -> None:
    """Add `whoelse audit verify` (benchmarks: none)."""
    del benchmarks
    audit = commands.add_parser("audit", help="verify tamper-evident logs")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "verify",
        help="check every entry and signed tree head of a log, and that it extends heads it published",
        description="Exit status 0: the log verifies; 1: a problem was found (each is listed); 2: bad input.",
    )
    p.add_argument("database", help="SQLite file path (opened read-only) or database URL")
    p.add_argument("--key", required=True, help="the log's Ed25519 verify key: hex, or a file (hex or raw)")
    p.add_argument(
        "--table", default="audit_log", help="log table: audit_log (a node), routing_log (the directory)"
    )
    p.add_argument(
        "--trusted-heads",
        metavar="FILE",
        help="JSON head or list of heads published elsewhere (e.g. directory)",
    )
    p.add_argument(
        "--log-id", help="expected log id (a council code, or 'directory'); default: from the heads"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_verify)
