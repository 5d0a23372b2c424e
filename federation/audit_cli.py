"""`whoelse audit collect-heads` and `whoelse audit verify`: an auditor fetches, checks and keeps the signed
heads every council published to the directory, then checks a council's audit log (or the directory's
routing log) against them, straight from a copy of its database.

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

from whoelse.federation.council_list import CouncilList, verify_signed
from whoelse.federation.database import private_folder
from whoelse.federation.errors import ConfigError, InvalidInput, NotFound, Refused, Unavailable
from whoelse.federation.merkle import SignedTreeHead, verify_consistency
from whoelse.federation.signing import VERIFY_KEY_BYTES
from whoelse.federation.transparency_log import (
    VerificationReport,
    define_log_table,
    head_to_json,
    load_trusted_heads,
    verify_log,
)
from whoelse.federation.tree_head_wire import head_from_wire
from whoelse.federation.witness import ROUTING_LOG_ID, verify_cosignature
from whoelse.v1 import federation_pb2, federation_pb2_grpc
from whoelse.v1.federation_pb2 import CouncilListRequest

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


def collect_heads(
    stub: federation_pb2_grpc.DirectoryStub, directory_key: bytes
) -> tuple[dict[str, list[SignedTreeHead]], tuple[int, list[str]]]:
    """Every head the directory accepted, by log id, each checked: signed by its council's key from the
    directory-signed council list (or by the directory, for its routing log) and, for each council, every
    head proved to extend the one before; and the councils that co-signed the largest co-signed routing-log
    head (added to the routing log's heads), each cosignature checked. Refused names the first that fails."""
    council_list = verify_signed(stub.GetCouncilList(CouncilListRequest(), timeout=10), directory_key)
    response = stub.GetTreeHeads(federation_pb2.TreeHeadsRequest(history=True), timeout=30)
    logs: dict[str, list[SignedTreeHead]] = {}
    for message in response.heads:
        head = head_from_wire(message)
        if head.log_id == ROUTING_LOG_ID:
            key = directory_key
        else:
            entry = council_list.find(head.log_id)
            if entry is None:
                raise Refused(f"head for {head.log_id}: no such council in the signed council list")
            key = entry.signing_key
        try:
            head.verify(key)
        except Refused as exc:
            raise Refused(f"head for {head.log_id} at size {head.tree_size}: bad signature") from exc
        chain = logs.setdefault(head.log_id, [])
        if chain:
            previous = chain[-1]
            try:
                verify_consistency(
                    previous.tree_size, head.tree_size, previous.root_hash, head.root_hash,
                    [bytes(h) for h in message.consistency_proof],
                )  # fmt: skip
            except Refused as exc:
                raise Refused(
                    f"head for {head.log_id} at size {head.tree_size} does not extend the one at size "
                    f"{previous.tree_size}: {exc}"
                ) from None
        chain.append(head)
    witnesses = _cosigned_routing_head(response, council_list, directory_key, logs)
    return logs, witnesses


def _cosigned_routing_head(
    response: federation_pb2.TreeHeadsResponse,
    council_list: CouncilList,
    directory_key: bytes,
    logs: dict[str, list[SignedTreeHead]],
) -> tuple[int, list[str]]:
    """(size, witnesses) of the largest co-signed routing-log head, each cosignature checked; (0, [])
    when no council has co-signed one yet."""
    if not response.HasField("cosigned_routing_head"):
        return 0, []
    message = response.cosigned_routing_head
    head = head_from_wire(message)
    try:
        head.verify(directory_key)
    except Refused as exc:
        raise Refused(f"co-signed routing-log head at size {head.tree_size}: bad signature") from exc
    witnesses = []
    for cosignature in message.cosignatures:
        entry = council_list.find(cosignature.witness)
        if entry is None:
            raise Refused(f"routing-log cosignature by {cosignature.witness[:20]!r}: no such council")
        try:
            verify_cosignature(head, entry.signing_key, bytes(cosignature.signature))
        except Refused as exc:
            raise Refused(f"routing-log cosignature by {cosignature.witness}: bad signature") from exc
        witnesses.append(cosignature.witness)
    chain = logs.setdefault(ROUTING_LOG_ID, [])
    if head not in chain:
        chain.append(head)
        chain.sort(key=lambda h: h.tree_size)
    return head.tree_size, witnesses


def cmd_collect_heads(args: argparse.Namespace) -> int:
    from whoelse.federation.transport import MtlsIdentity, secure_channel

    identity = MtlsIdentity.from_files(args.ca, args.cert, args.key)
    with secure_channel(args.directory, identity) as channel:
        logs, witnesses = collect_heads(
            federation_pb2_grpc.DirectoryStub(channel), read_verify_key(args.directory_key)
        )
    out = private_folder(Path(args.out))
    for log_id, heads in sorted(logs.items()):
        if args.log_id and log_id not in args.log_id:
            continue
        path = out / f"{log_id}.heads.json"
        path.write_text(json.dumps([head_to_json(h) for h in heads], indent=2) + "\n", encoding="utf-8")
        print(f"{log_id}: {len(heads)} head(s) up to size {heads[-1].tree_size}, checked; saved to {path}")
        if log_id == ROUTING_LOG_ID:
            size, names = witnesses
            print(
                f"{log_id}: head at size {size} co-signed by {len(names)} council(s), checked: "
                + (", ".join(sorted(names)) or "none")
            )
    return 0


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

    p = sub.add_parser(
        "collect-heads",
        help="fetch every head the councils published to the directory, check them, and save them as "
        "trusted-heads files (one per log) for `audit verify`",
    )
    p.add_argument("--directory", required=True, help="the directory's HOST:PORT")
    p.add_argument("--ca", required=True, help="federation CA certificate (PEM)")
    p.add_argument("--cert", required=True, help="the auditor's certificate (common name 'auditor')")
    p.add_argument("--key", required=True, help="the auditor's private key (PEM)")
    p.add_argument(
        "--directory-key", required=True, help="the directory's verify key (directory.pub: hex, or a file)"
    )
    p.add_argument("--out", required=True, help="folder for <log id>.heads.json files")
    p.add_argument("--log-id", action="append", help="only this log (repeatable); default every log")
    p.set_defaults(handler=cmd_collect_heads)
