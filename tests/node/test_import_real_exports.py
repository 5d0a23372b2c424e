"""Imports as a records team runs them on real exports (issue #11): check-only runs, quarantine, full
refreshes, duplicate ids, Excel's byte-order mark, JSON reports, resumed first loads; and records with
only the details the law requires (issue #8)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.node.records_factory import TODAY
from tests.node.test_bad_input_corpus import dump, url
from tests.node.test_importer import good_row, write_jsonl
from whoelse.federation.cli import main
from whoelse.node.alerts.tables import AlertOutboxRow
from whoelse.node.audit import AuditKind, entries_about
from whoelse.node.changes import import_with_changes
from whoelse.node.disclosure import HoldingCouncil, disclose
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import records_by_record_id

LEEDS = HoldingCouncil("E08000035", "Leeds", "Leeds records team")


def involved(practitioner: str = "Sam Patel") -> dict[str, Any]:
    return {
        "practitioner": practitioner,
        "organisation": "Leeds Children's Services",
        "role": "Social worker",
        "contact": "0113 496 0002",
        "service_type": "social_care",
        "start_date": "2024-01-10",
    }


def cli(*argv: str) -> int:
    return main(["node", *argv])


def stored(db: Database, *record_ids: str) -> dict[str, Any]:
    with db.session() as session:
        return records_by_record_id(session, list(record_ids))


# --- issue #8: only what the law requires ---------------------------------------------------------------


def test_record_without_date_of_birth_or_surname_imports_and_stays_disclosable(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {k: v for k, v in good_row(record_id="NO-DOB").items() if k != "date_of_birth"},
        {**{k: v for k, v in good_row(record_id="ONE-NAME").items() if k != "surname"}, "forename": "Zoë"},
        {**good_row(record_id="SURNAME-ONLY"), "forename": ""},
    ]
    assert cli("import", str(write_jsonl(tmp_path / "partial.jsonl", rows)), "--db", url(db), "--quiet") == 0
    records = stored(db, "NO-DOB", "ONE-NAME", "SURNAME-ONLY")
    assert records["NO-DOB"].date_of_birth is None
    assert records["ONE-NAME"].surname == "" and records["SURNAME-ONLY"].forename == ""
    # No date of birth: the record cannot age out, so it is disclosed even decades on.
    later = disclose(records["NO-DOB"], LEEDS, dt.date(2070, 1, 1))
    assert later is not None and later.date_of_birth is None
    capsys.readouterr()
    assert (
        cli(
            "search",
            "--db",
            url(db),
            "--forename",
            "Zoë",
            "--surname",
            "O'Neill",
            "--postcode",
            "LS6 2AB",
            "--json",
        )
        == 0
    )
    found = {c["record_id"]: c for c in json.loads(capsys.readouterr().out)}
    assert found["NO-DOB"]["date_of_birth"] == ""


# --- --check --------------------------------------------------------------------------------------------


def test_check_reports_what_would_be_imported_and_writes_nothing(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dump(db)
    path = write_jsonl(tmp_path / "ok.jsonl", [good_row(), good_row(record_id="T-2")])
    assert cli("import", str(path), "--check", "--db", url(db)) == 0
    assert "ok.jsonl: would import 2 records; the file is valid" in capsys.readouterr().out
    assert dump(db) == before


# --- quarantine -----------------------------------------------------------------------------------------


def test_quarantine_imports_the_good_rows_and_lists_every_bad_one_in_a_csv_problems_file(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [good_row(record_id=f"Q-{i}") for i in range(1, 8)]
    rows[1]["sex"] = "Q"
    rows[3]["date_of_birth"] = "2015-02-30"
    rows[3]["case_notes"] = "seen at home"
    rows[5]["address"] = {"line1": " ", "postcode": "LS6 2AB"}
    path = write_jsonl(tmp_path / "export.jsonl", rows)
    problems = tmp_path / "export-problems.csv"
    status = cli(
        "import",
        str(path),
        "--db",
        url(db),
        "--quiet",
        "--on-error",
        "quarantine",
        "--problems",
        str(problems),
    )
    assert status == 3  # partial success
    out = capsys.readouterr()
    assert "imported 4 records from export.jsonl into Leeds; rejected 3 rows (4 problems)" in out.out
    with problems.open(encoding="utf-8", newline="") as handle:
        listed = [(int(r["line"]), r["record_id"], r["field"]) for r in csv.DictReader(handle)]
    assert sorted(listed) == [
        (2, "Q-2", "sex"), (4, "Q-4", "case_notes"), (4, "Q-4", "date_of_birth"), (6, "Q-6", "address.line1"),
    ]  # fmt: skip
    assert set(stored(db, *[r["record_id"] for r in rows])) == {"Q-1", "Q-3", "Q-5", "Q-7"}


def test_quarantine_problems_file_defaults_beside_the_export(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "nightly.jsonl", [good_row(), good_row(record_id="T-2", sex="Q")])
    assert cli("import", str(path), "--db", url(db), "--quiet", "--on-error", "quarantine") == 3
    [problem] = [json.loads(t) for t in (tmp_path / "nightly.problems.jsonl").read_text().splitlines()]
    assert (problem["line"], problem["field"], problem["reason"]) == (2, "sex", "must be F, M or U")


# --- duplicates, byte-order marks, JSON -----------------------------------------------------------------


def test_duplicate_record_ids_are_refused_naming_both_lines(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [good_row(record_id="A"), good_row(record_id="B"), good_row(record_id="A", forename="Liam")]
    assert cli("import", str(write_jsonl(tmp_path / "d.jsonl", rows)), "--db", url(db), "--quiet") == 2
    err = capsys.readouterr().err
    assert "d.jsonl line 1, field record_id: the same record_id as line 3" in err
    assert "d.jsonl line 3, field record_id: the same record_id as line 1" in err
    assert stored(db, "A", "B") == {}


def test_excel_csv_utf8_with_a_byte_order_mark_is_accepted(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "excel.csv"
    path.write_text(
        "record_id,forename,surname,date_of_birth,sex,address_line1,address_postcode\r\n"
        "X-1,Zoë,O'Neill,2015-03-07,F,12 Mill Lane,LS6 2AB\r\n",
        encoding="utf-8-sig",
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert cli("import", str(path), "--db", url(db), "--quiet") == 0
    assert stored(db, "X-1")["X-1"].forename == "Zoë"


def test_json_report(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "j.jsonl", [good_row(), good_row(record_id="T-2", sex="Q")])
    assert cli("import", str(path), "--db", url(db), "--json", "--on-error", "quarantine") == 3
    report = json.loads(capsys.readouterr().out)
    assert report["imported"] == 1 and report["rejected_rows"] == 1 and report["exit_status"] == 3
    assert report["problems"] == [
        {"file": "j.jsonl", "line": 2, "record_id": "T-2", "field": "sex", "reason": "must be F, M or U"}
    ]
    assert cli("import", str(tmp_path / "j.txt"), "--db", url(db), "--json") == 2
    assert json.loads(capsys.readouterr().out)["error"].endswith("j.txt: no such file")


# --- full refresh ---------------------------------------------------------------------------------------


def test_full_refresh_ends_missing_records_and_keeps_their_audit_trail(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    camhs = {**involved(), "service_type": "camhs_tier3", "sensitive_basis": "consent"}
    first = [
        good_row(record_id="F-1"),
        good_row(record_id="F-2", involvements=[camhs]),
        good_row(record_id="F-3"),
    ]
    assert cli("import", str(write_jsonl(tmp_path / "monday.jsonl", first)), "--db", url(db), "--quiet") == 0
    tuesday = write_jsonl(tmp_path / "tuesday.jsonl", [first[0], first[2]])
    assert cli("import", str(tuesday), "--db", url(db), "--mode", "full", "--quiet") == 0
    assert "ended 1 records no longer in the export" in capsys.readouterr().out
    records = stored(db, "F-1", "F-2", "F-3")
    assert set(records) == {"F-1", "F-2", "F-3"}  # ended, not deleted
    assert records["F-2"].ended_on is not None
    assert disclose(records["F-2"], LEEDS, dt.date.today()) is None  # no longer disclosed
    assert disclose(records["F-1"], LEEDS, dt.date.today()) is not None
    with db.session() as session:
        kinds = [e.entry["kind"] for e in entries_about(session, "F-2")]
    assert kinds == [AuditKind.SENSITIVE_RECORDED, AuditKind.RECORD_ENDED]  # the history is kept
    # The child back in a later export is current again.
    assert cli("import", str(write_jsonl(tmp_path / "wed.jsonl", first)), "--db", url(db), "--quiet") == 0
    assert stored(db, "F-2")["F-2"].ended_on is None


def test_full_refresh_of_an_empty_file_is_refused(db: Database, tmp_path: Path) -> None:
    assert (
        cli("import", str(write_jsonl(tmp_path / "a.jsonl", [good_row()])), "--db", url(db), "--quiet") == 0
    )
    before = dump(db)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert cli("import", str(empty), "--db", url(db), "--mode", "full") == 2
    assert dump(db) == before


# --- first loads ----------------------------------------------------------------------------------------


def outbox(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(AlertOutboxRow)) or 0)


def test_interrupted_first_load_resumed_queues_no_alerts(db: Database, tmp_path: Path) -> None:
    rows = [good_row(record_id=f"L-{i:05d}", involvements=[involved()]) for i in range(4500)]
    path = write_jsonl(tmp_path / "first.jsonl", rows)
    with db.session() as session:
        settings = load(session)

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt  # the operator presses Ctrl-C once the first batch is committed

    with pytest.raises(KeyboardInterrupt):
        import_with_changes(db, path, settings, alerts=True, by="test", today=TODAY, progress=interrupt)
    assert 0 < len(stored(db, *[r["record_id"] for r in rows])) < len(rows)
    import_with_changes(db, path, settings, alerts=True, by="test", today=TODAY)
    assert len(stored(db, *[r["record_id"] for r in rows])) == len(rows)
    assert outbox(db) == 0  # the rest of the first load is not news
    # Once the first load is complete, a new involvement is news again.
    change = write_jsonl(
        tmp_path / "change.jsonl", [{**rows[0], "involvements": [involved(), involved("Ann Lee")]}]
    )
    import_with_changes(db, change, settings, alerts=True, by="test", today=TODAY)
    assert outbox(db) > 0
