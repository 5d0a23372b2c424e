"""`whoelse node retention status|run|schedule`: where the council stands on retention, and acting on it."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
from collections.abc import Callable

from whoelse.node import retention
from whoelse.node.audit import AuditLog
from whoelse.node.settings import load
from whoelse.node.storage.database import Database

OpenDb = Callable[[argparse.Namespace], Database]


def add_retention_commands(
    node_subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    open_db: OpenDb,
    with_db: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    """Add `retention status|run|schedule` under `whoelse node`."""
    parser = node_subparsers.add_parser(
        "retention", help="archive at 18 (25 with consent), purge on the council's schedule"
    )
    sub = parser.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    p = with_db(sub.add_parser("status", help="how many records are current, due, archived, due for purge"))
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=lambda args: _status(open_db(args), args))
    p = with_db(sub.add_parser("run", help="archive and purge now (the node's upkeep does it daily)"))
    p.set_defaults(handler=lambda args: _run(open_db(args)))
    p = with_db(sub.add_parser("schedule", help="set when archived records are purged"))
    p.add_argument(
        "--purge-after-days",
        type=int,
        required=True,
        help="purge a record this many days after its retention ended (0: at once)",
    )
    p.set_defaults(handler=lambda args: _schedule(open_db(args), args.purge_after_days))


def _status(db: Database, args: argparse.Namespace) -> int:
    with db.session() as session:
        now = retention.status(session, dt.date.today())
    if args.json:
        print(json.dumps(now.to_json()))
        return 0
    schedule = (
        f"purged {now.purge_after_days} days after retention ends"
        if now.purge_after_days is not None
        else "no purge schedule set (whoelse node retention schedule --purge-after-days N)"
    )
    print(f"records: {now.records} ({now.current} current)")
    print(f"due for archive: {now.due_for_archive}; archived: {now.archived}")
    print(f"due for purge: {now.due_for_purge}")
    print(f"without a date of birth (cannot age out): {now.without_date_of_birth}")
    print(f"schedule: {schedule}; last run: {now.last_run or 'never'}")
    return 0


def _run(db: Database) -> int:
    with db.session() as session:
        settings = load(session)
    audit = AuditLog(db, settings.council.code, settings.signing_key)
    done = retention.run(db, audit, dt.date.today(), by=f"retention run by {getpass.getuser()[:40]}")
    print(f"archived {done.archived} records; purged {done.purged}")
    return 0


def _schedule(db: Database, days: int) -> int:
    with db.session() as session:
        retention.set_schedule(session, days)
    print(f"archived records will be purged {days} days after their retention ends")
    return 0
