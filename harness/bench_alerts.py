"""`whoelse bench alerts`: time from a change being recorded at one council to the alert reaching a
practitioner at another council who is watching (Practitioner.WatchAlerts), over a real federation.

Each round adds a new involvement to a child's record at council A (committed through the importer, as
`whoelse node import` does), and times until the practitioner involved with the same child at council B
receives the alert on their open stream. The sender is woken by the commit that queued the alert (a
datagram beside the SQLite file, node/alerts/wakeup.py); the floor is one federated search over the same
councils and directory in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import queue
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from whoelse.federation import closed_sets
from whoelse.federation.errors import Unavailable, WhoElseError
from whoelse.federation.practitioner_client import Account, PractitionerClient
from whoelse.federation.purposes import Purpose
from whoelse.harness.bench import percentile
from whoelse.harness.demo_accounts import add_eligible
from whoelse.harness.local_federation import Layout, build, shared_children, start, stop, wait_ready
from whoelse.node.accounts.service import AccountService
from whoelse.node.changes import import_with_changes
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.v1 import records_pb2 as pb

WATCHER = "Bench Watcher"
PASSWORD = "bench-watcher-password-1"


def _shared_child(layout: Layout) -> tuple[dict[str, Any], dict[str, Any]]:
    """A child's record at the first council and at the second (neither shielded)."""
    a, b = layout.councils[0].code, layout.councils[1].code
    for copies in shared_children(layout.data_dir):
        rows = dict(copies)
        if a in rows and b in rows and not rows[a].get("shielding") and not rows[b].get("shielding"):
            return rows[a], rows[b]
    raise Unavailable("no child is held by both councils; use more --children")


def _import(db_path: Path, row: dict[str, Any], *, alerts: bool) -> None:
    db = Database(str(db_path))
    with db.session() as session:
        settings = load(session)
    path = db_path.with_suffix(".change.jsonl")
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    import_with_changes(db, path, settings, alerts=alerts, by="bench")
    db.dispose()


def _involvement(name: str) -> dict[str, Any]:
    return {
        "practitioner": name,
        "organisation": "Bench Services",
        "role": "Family support worker",
        "contact": "0300 000 0000",
        "service_type": "early_help",
        "start_date": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
    }


def bench_alerts(rounds: int, children: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="whoelse-bench-alerts-") as tmp:
        from whoelse.harness.local_federation import choose_councils

        layout = build(Path(tmp), choose_councils(2), children=children, seed=5, password_cost="light")
        at_a, at_b = _shared_child(layout)
        council_b = layout.councils[1]
        # The watcher is involved with the child at B, and has an account there.
        at_b = {**at_b, "involvements": [*at_b.get("involvements", []), _involvement(WATCHER)]}
        _import(council_b.database, at_b, alerts=False)
        db = Database(str(council_b.database))
        accounts = AccountService(db, passwords=layout.passwords)
        totp = add_eligible(
            accounts,
            username="watcher@bench",
            name=WATCHER,
            role="Family support worker",
            organisation="Bench Services",
            contact="0300 000 0000",
            password=PASSWORD,
        )
        db.dispose()
        pids = start(layout)
        try:
            wait_ready(layout, pids, timeout=300)
            account = Account(
                council_b.code,
                "watcher@bench",
                PASSWORD,
                totp.secret,
                council_b.practitioner_endpoint,
                layout.ca_dir / "ca.crt",
            )
            client = PractitionerClient(account)
            arrivals: queue.Queue[float] = queue.Queue()

            def watch() -> None:
                try:
                    for _ in client.watch(timeout=rounds * 15 + 30):
                        arrivals.put(time.perf_counter())
                except WhoElseError:
                    return  # the stream closes when the benchmark ends

            threading.Thread(target=watch, daemon=True).start()
            time.sleep(1.0)  # the stream is open
            latencies = []
            record = dict(at_a)
            for n in range(rounds):
                record = {
                    **record,
                    "involvements": [
                        *record.get("involvements", []),
                        _involvement(f"Worker {chr(65 + n % 26)}{chr(97 + n // 26)}"),
                    ],
                }
                _import(layout.councils[0].database, record, alerts=True)
                recorded = time.perf_counter()
                try:
                    received = arrivals.get(timeout=15)
                except queue.Empty:
                    raise Unavailable(f"alert {n} did not arrive within 15 s") from None
                latencies.append((received - recorded) * 1000)
            # The floor: one federated round trip over the same councils and directory in the same run (the
            # watcher searching for the child), which any notification must also make.
            floor = []
            identity = pb.SearchIdentity(
                forename=at_b.get("forename", ""),
                surname=at_b.get("surname", ""),
                date_of_birth=at_b.get("date_of_birth") or "",
                **closed_sets.SEX.fields(at_b.get("sex", "")),
                postcode=at_b["address"]["postcode"],
            )
            for _ in range(rounds):
                started = time.perf_counter()
                client.search(identity, Purpose.EARLY_HELP.value)
                floor.append((time.perf_counter() - started) * 1000)
            client.close()
        finally:
            stop(pids)
    return {
        "benchmark": "alerts",
        "rounds": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "floor_search_p50_ms": round(statistics.median(floor), 1),
        "floor_search_p95_ms": round(percentile(floor, 0.95), 1),
        # the sender is woken by the commit (node/alerts/wakeup.py); the poll is only a fallback
        "fallback_poll_ms": 250,
    }


def cmd_bench_alerts(args: argparse.Namespace) -> int:
    result = bench_alerts(args.rounds, args.children)
    print(json.dumps(result) if args.json else "\n".join(f"{k:>16}: {v}" for k, v in result.items()))
    return 0


def register(benchmarks: Any) -> None:
    p = benchmarks.add_parser("alerts", help="change recorded → alert on a watching practitioner's stream")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--children", type=int, default=400, help="children per council (enough to share some)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench_alerts)
