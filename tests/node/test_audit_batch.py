"""Searches received in one flush interval go into the audit log as one entry, each still recorded."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from node.audit import AUDIT_LOG, AuditLog
from node.settings import load
from node.storage.database import Database

AT = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def test_batch_entry_lists_every_search_and_the_log_verifies(db: Database) -> None:
    with db.session() as session:
        settings = load(session)
    audit = AuditLog(db, settings.council.code, settings.signing_key)
    received = [
        (f"{n:032x}", "E08000032", f"worker{n}", "safeguarding", 0, AT + dt.timedelta(seconds=n))
        for n in range(3)
    ]
    audit.searches_received(received)
    with db.session() as session:
        [entry] = [json.loads(e)["entry"] for (e,) in session.execute(select(AUDIT_LOG.entries.c.entry))]
    assert entry["kind"] == "searches_received"
    assert [s["practitioner"] for s in entry["searches"]] == ["worker0", "worker1", "worker2"]
    assert entry["searches"][2]["at"].startswith("2026-11-23T10:00:02")
    audit.checkpoint()
    assert audit.verify(settings.signing_key.verify_key_bytes).ok
