"""Searches received in one flush interval are committed together, one entry each."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from whoelse.node.audit import AUDIT_LOG, AuditLog, Received
from whoelse.node.settings import load
from whoelse.node.storage.database import Database

AT = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def test_a_batch_is_one_entry_per_search_and_the_log_verifies(db: Database) -> None:
    with db.session() as session:
        settings = load(session)
    audit = AuditLog(db, settings.council.code, settings.signing_key)
    received = [
        Received(f"{n:032x}", "E08000032", f"worker{n}", "safeguarding", 0, AT + dt.timedelta(seconds=n))
        for n in range(3)
    ]
    assert audit.searches_received(received) == 3
    with db.session() as session:
        entries = [json.loads(e)["entry"] for (e,) in session.execute(select(AUDIT_LOG.entries.c.entry))]
    assert [e["kind"] for e in entries] == ["search_received"] * 3
    assert [e["practitioner"] for e in entries] == ["worker0", "worker1", "worker2"]
    assert entries[2]["at"].startswith("2026-11-23T10:00:02")
    audit.checkpoint()
    assert audit.verify(settings.signing_key.verify_key_bytes).ok
