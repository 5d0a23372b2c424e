"""`whoelse node alerts undelivered`: the changes at this council that some council never received.

An alert is retried with backoff for a bounded time (node/alerts/retry.py); after that the records team
sees it here, with the councils that did not answer and why, so they can tell those councils another way.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from whoelse.node.alerts import store
from whoelse.node.storage.database import Database

OpenDb = Callable[[argparse.Namespace], Database]
EVERY_COUNCIL = "every council (the directory was not reached)"


def add_alert_commands(
    node_subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    open_db: OpenDb,
    with_db: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    """Add `alerts undelivered` under `whoelse node`."""
    alerts = node_subparsers.add_parser("alerts", help="alerts this council sent to other councils")
    sub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    p = with_db(sub.add_parser("undelivered", help="changes some council never received, retries given up"))
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=lambda args: _undelivered(open_db(args), args))


def _undelivered(db: Database, args: argparse.Namespace) -> int:
    with db.session() as session:
        items = store.undelivered(session)
    rows: list[dict[str, Any]] = [
        {
            "id": item.id,
            "record_id": item.record_id,
            "event_type": item.event.event_type.value,
            "occurred_on": item.event.occurred_on.isoformat(),
            "recorded_at": item.created_at.isoformat(timespec="seconds"),
            "given_up_at": item.undelivered_at.isoformat(timespec="seconds") if item.undelivered_at else "",
            "attempts": item.attempts,
            "not_received_by": sorted(item.waiting_for) if item.waiting_for is not None else None,
            "last_error": item.last_error or "",
        }
        for item in items
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no undelivered alerts")
        return 0
    for row in rows:
        councils = row["not_received_by"]
        print(
            f"alert {row['id']}: {row['event_type']} on {row['occurred_on']} for record {row['record_id']}, "
            f"recorded {row['recorded_at']}, given up {row['given_up_at']} after {row['attempts']} attempts"
        )
        print(f"  not received by: {', '.join(councils) if councils is not None else EVERY_COUNCIL}")
        if row["last_error"]:
            print(f"  last error: {row['last_error']}")
    return 0
