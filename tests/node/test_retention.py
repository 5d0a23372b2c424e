"""Retention on a schedule (issue #11): archived at the 18th birthday (25th with consent), purged only on the
council's schedule, each step logged, and the records team's status says where the council stands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.node.test_bad_input_corpus import url
from tests.node.test_importer import good_row, run_import, write_jsonl
from whoelse.federation.cli import main
from whoelse.node import retention
from whoelse.node.audit import AuditKind, AuditLog, entries_about
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import records_by_record_id

TODAY = dt.date(2026, 11, 23)


def rows() -> list[dict[str, Any]]:
    return [
        good_row(record_id="EIGHTEEN-TODAY", date_of_birth="2008-11-23"),
        good_row(record_id="EIGHTEEN-TOMORROW", date_of_birth="2008-11-24"),
        good_row(record_id="CONSENT-TO-25", date_of_birth="2006-01-01", retention_consent_to_25=True),
        good_row(record_id="ENDED-40-DAYS-AGO", date_of_birth="2008-10-14"),
        {k: v for k, v in good_row(record_id="NO-DOB").items() if k != "date_of_birth"},
    ]


def kinds(db: Database, record_id: str) -> list[str]:
    with db.session() as session:
        return [e.entry["kind"] for e in entries_about(session, record_id)]


def run(db: Database, day: dt.date) -> retention.RetentionRun:
    with db.session() as session:
        settings = load(session)
    return retention.run(db, AuditLog(db, settings.council.code, settings.signing_key), day, by="test")


def held(db: Database) -> set[str]:
    ids = [str(r["record_id"]) for r in rows()]
    with db.session() as session:
        return set(records_by_record_id(session, ids))


def test_archives_at_the_18th_birthday_and_purges_only_on_the_schedule(db: Database, tmp_path: Path) -> None:
    run_import(db, write_jsonl(tmp_path / "r.jsonl", rows()))
    done = run(db, TODAY)
    assert (done.archived, done.purged) == (2, 0)  # no schedule set: nothing is purged
    assert kinds(db, "EIGHTEEN-TODAY") == [AuditKind.RECORD_ARCHIVED]
    assert kinds(db, "EIGHTEEN-TOMORROW") == []
    with db.session() as session:
        status = retention.status(session, TODAY)
        assert (status.archived, status.due_for_archive, status.without_date_of_birth) == (2, 0, 1)
        retention.set_schedule(session, 30)
    assert run(db, TODAY) == retention.RetentionRun(archived=0, purged=1)  # ended 40 days ago
    assert held(db) == {"EIGHTEEN-TODAY", "EIGHTEEN-TOMORROW", "CONSENT-TO-25", "NO-DOB"}
    assert kinds(db, "ENDED-40-DAYS-AGO") == [AuditKind.RECORD_ARCHIVED, AuditKind.RECORD_PURGED]  # kept
    assert run(db, TODAY) == retention.RetentionRun(0, 0)  # idempotent
    # Years on: everyone with a date of birth is gone; a record with none cannot age out.
    assert run(db, dt.date(2040, 1, 1)).purged == 3
    assert held(db) == {"NO-DOB"}


def test_born_on_29_february_ages_out_on_1_march(db: Database, tmp_path: Path) -> None:
    run_import(
        db, write_jsonl(tmp_path / "leap.jsonl", [good_row(record_id="LEAP", date_of_birth="2008-02-29")])
    )
    assert run(db, dt.date(2026, 2, 28)).archived == 0
    assert run(db, dt.date(2026, 3, 1)).archived == 1


def test_retention_status_run_and_schedule_commands(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    today = dt.date.today()
    eighteen_ten_days_ago = dt.date(today.year - 18, 1, 1) + (
        today - dt.timedelta(days=10) - dt.date(today.year, 1, 1)
    )
    aged = good_row(record_id="AGED", date_of_birth=eighteen_ten_days_ago.isoformat())
    run_import(db, write_jsonl(tmp_path / "r.jsonl", [aged, good_row(record_id="YOUNG")]))
    capsys.readouterr()
    assert main(["node", "retention", "status", "--db", url(db), "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert (before["due_for_archive"], before["purge_after_days"], before["last_run"]) == (1, None, "")
    assert main(["node", "retention", "schedule", "--db", url(db), "--purge-after-days", "-1"]) == 2
    assert "--purge-after-days: must be 0 to 36500" in capsys.readouterr().err
    assert main(["node", "retention", "schedule", "--db", url(db), "--purge-after-days", "90"]) == 0
    assert main(["node", "retention", "run", "--db", url(db)]) == 0
    assert "archived 1 records; purged 0" in capsys.readouterr().out
    assert main(["node", "retention", "status", "--db", url(db)]) == 0
    out = capsys.readouterr().out
    assert "due for archive: 0; archived: 1" in out
    assert f"schedule: purged 90 days after retention ends; last run: {today.isoformat()}" in out
