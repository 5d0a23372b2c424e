"""`whoelse node sar RECORD_ID` and `whoelse node audit checkpoint|heads`: subject access reports and the
node's signed audit-log heads.

The `whoelse node` parser calls `add_audit_commands(node_subparsers, open_db)`; each handler opens the
council's database through `open_db(args)` and returns an exit status.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from whoelse.federation.transparency_log import head_to_json
from whoelse.node.audit import AuditLog
from whoelse.node.storage.database import Database
from whoelse.node.subject_access import subject_access_report

OpenDb = Callable[[argparse.Namespace], Database]
DEFAULT_DB = "whoelse-node.sqlite"  # the same default as the other `whoelse node` commands


def add_audit_commands(
    node_subparsers: argparse._SubParsersAction[argparse.ArgumentParser], open_db: OpenDb
) -> None:
    """Add `sar` and `audit ...` under `whoelse node`."""

    def database(args: argparse.Namespace) -> Database:
        if getattr(args, "db", None) is None:
            args.db = DEFAULT_DB
        return open_db(args)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        # SUPPRESS: when not given here, a --db given earlier on the command line is kept.
        p.add_argument("--db", default=argparse.SUPPRESS, help="SQLite file path or database URL")
        return p

    sar = with_db(
        node_subparsers.add_parser(
            "sar", help="subject access report: who was shown a child's record, when, why and what"
        )
    )
    sar.add_argument("record_id", metavar="RECORD_ID", help="this council's own record id for the child")
    sar.add_argument("--json", action="store_true", help="print JSON instead of a letter-ready text")
    sar.set_defaults(handler=lambda args: _sar(database(args), args))

    audit = with_db(node_subparsers.add_parser("audit", help="sign and list the audit log's tree heads"))
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    checkpoint = with_db(
        sub.add_parser("checkpoint", help="integrate new audit entries and sign a tree head over the log")
    )
    checkpoint.add_argument("--json", action="store_true", help="print the signed head as JSON")
    checkpoint.set_defaults(handler=lambda args: _checkpoint(database(args), args))
    heads = with_db(
        sub.add_parser("heads", help="print every signed head as JSON (a trusted-heads file for verifying)")
    )
    heads.set_defaults(handler=lambda args: _heads(database(args)))


def _sar(db: Database, args: argparse.Namespace) -> int:
    report = subject_access_report(db, args.record_id)
    print(report.to_json() if args.json else report.to_text())
    return 0


def _checkpoint(db: Database, args: argparse.Namespace) -> int:
    head = AuditLog.of(db).checkpoint()
    if args.json:
        print(json.dumps(head_to_json(head), indent=2))
    else:
        print(f"signed audit log {head.log_id} at {head.tree_size} entries, root {head.root_hash.hex()}")
    return 0


def _heads(db: Database) -> int:
    print(json.dumps([head_to_json(head) for head in AuditLog.of(db).heads()], indent=2))
    return 0
