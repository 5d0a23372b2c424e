"""Retention run by a running node's upkeep (issue #11): once a day, archive and purge on the council's
schedule, logged in the council's audit log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.integration.harness import Federation
from tests.integration.test_federation import LEEDS, ZOE_LEEDS, child
from whoelse.federation.cli import main
from whoelse.node.audit import AuditKind, entries_about


def born_18_years_before(days_ago: int) -> str:
    """A date of birth whose 18th birthday was `days_ago` days ago (give or take a leap day)."""
    day = dt.date.today() - dt.timedelta(days=days_ago)
    return (dt.date(day.year - 18, 1, 1) + (day - dt.date(day.year, 1, 1))).isoformat()


def test_upkeep_archives_and_purges_on_the_councils_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fed = Federation(tmp_path)
    try:
        records = [
            ZOE_LEEDS,
            child("L-OLD", "Mia", "Brooks", born_18_years_before(200), "LS1 1AA"),
            child("L-RECENT", "Ava", "Hart", born_18_years_before(10), "LS1 1AA"),
        ]
        leeds = fed.add_council(LEEDS, "Leeds", records)
        db = str(tmp_path / LEEDS / "node.sqlite")
        assert main(["node", "retention", "schedule", "--db", db, "--purge-after-days", "90"]) == 0
        fed.run_upkeep()
        fed.run_upkeep()  # once a day: the second round does nothing new
        capsys.readouterr()
        assert main(["node", "retention", "status", "--db", db, "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert (status["records"], status["current"], status["archived"]) == (2, 1, 1)
        assert status["last_run"] == dt.date.today().isoformat()
        with leeds.runtime.db.session() as session:
            assert [e.entry["kind"] for e in entries_about(session, "L-RECENT")] == [
                AuditKind.RECORD_ARCHIVED
            ]
            assert [e.entry["kind"] for e in entries_about(session, "L-OLD")] == [AuditKind.RECORD_PURGED]
            assert {e.entry["by"] for e in entries_about(session, "L-OLD")} == {"node upkeep"}
    finally:
        fed.stop()
