"""Importing records: what an operator sees for good files, each class of bad input, re-import and a kill."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from tests.node.records_factory import TODAY
from whoelse.federation.cli import main
from whoelse.node.importer import ImportRejected, import_file, validate_file
from whoelse.node.matching import find, identity_of, record_tags
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import count_records, load_records, records_by_record_id
from whoelse.node.tags import LocalTagger

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def good_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "record_id": "T-1",
        "forename": "Zoë",
        "surname": "O'Neill",
        "date_of_birth": "2015-03-07",
        "sex": "F",
        "address": {"line1": "12 Mill Lane", "postcode": "ls62ab"},
    }
    row.update(changes)
    return row


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def run_import(db: Database, path: Path) -> int:
    with db.session() as session:
        settings = load(session)
    return import_file(db, path, LocalTagger(settings.tag_key), record_tags, today=TODAY).records


def rejection(tmp_path: Path, row: dict[str, Any]) -> str:
    first = good_row(record_id="T-0")  # a valid row first, so the problem is named on line 2
    with pytest.raises(ImportRejected) as info:
        validate_file(write_jsonl(tmp_path / "bad.jsonl", [first, row]), TODAY)
    return str(info.value.problems[0])


def test_example_files_import_on_both_backends(db: Database) -> None:
    assert run_import(db, EXAMPLES / "records.jsonl") == 3
    assert run_import(db, EXAMPLES / "records.csv") == 2
    with db.session() as session:
        assert count_records(session) == 5
        records = {str(r.record_id): r for r in load_records(session, list(range(1, 100))).values()}
    assert records["EX-1001"].carers[0].name == "Kate Smith-Jones"
    assert records["EX-1002"].involvements[0].override_reason == "risk of significant harm"
    assert records["EX-0003"].shielded


@pytest.mark.parametrize(
    "name", ["O'Neill", "Anne-Marie", "Zoë", "Nguyễn", "de la Cruz", "St. John", "Ó Súilleabháin"]
)
def test_real_names_are_accepted(tmp_path: Path, name: str) -> None:
    [record] = validate_file(
        write_jsonl(tmp_path / "n.jsonl", [good_row(surname=name, forename=name)]), TODAY
    )
    assert record.surname == name and record.forename == name


def test_postcode_is_normalised(tmp_path: Path) -> None:
    [record] = validate_file(write_jsonl(tmp_path / "p.jsonl", [good_row()]), TODAY)
    assert record.address.postcode == "LS6 2AB"


def test_impossible_date_names_file_line_field(tmp_path: Path) -> None:
    message = rejection(tmp_path, good_row(record_id="T-2", date_of_birth="2015-02-30"))
    assert message.startswith("bad.jsonl line 2, field date_of_birth: not a real date")


def test_future_date_is_rejected(tmp_path: Path) -> None:
    message = rejection(tmp_path, good_row(record_id="T-2", date_of_birth="2027-01-01"))
    assert "line 2, field date_of_birth: in the future" in message


def test_unknown_service_type_is_rejected(tmp_path: Path) -> None:
    inv = {"practitioner": "Sam Patel", "organisation": "Leeds", "role": "SW", "contact": "0113",
           "service_type": "astrology", "start_date": "2025-01-01"}  # fmt: skip
    message = rejection(tmp_path, good_row(record_id="T-2", involvements=[inv]))
    assert "field involvements[1].service_type: unknown service type 'astrology'" in message


def test_sensitive_service_without_consent_or_override_is_rejected(tmp_path: Path) -> None:
    inv = {"practitioner": "Sam Patel", "organisation": "CAMHS", "role": "Nurse", "contact": "0113",
           "service_type": "camhs_tier2", "start_date": "2025-01-01"}  # fmt: skip
    assert "record the child's consent or an override" in rejection(tmp_path, good_row(involvements=[inv]))
    inv["sensitive_basis"] = "override"
    assert "an override needs a recorded reason" in rejection(tmp_path, good_row(involvements=[inv]))


def test_unknown_column_is_rejected(tmp_path: Path) -> None:
    message = rejection(tmp_path, good_row(record_id="T-2", favourite_colour="blue"))
    assert message == "bad.jsonl line 2, field favourite_colour: unknown field"


def test_case_notes_column_is_refused_with_the_reason(tmp_path: Path) -> None:
    csv_file = tmp_path / "notes.csv"
    csv_file.write_text(
        "record_id,forename,surname,date_of_birth,sex,address_line1,address_postcode,case_notes\n"
        "T-1,Ann,Lee,2015-01-01,F,1 High St,LS1 1AA,mother drinks\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as info:
        validate_file(csv_file, TODAY)
    assert str(info.value.problems[0]) == (
        "notes.csv line 2, field case_notes: not allowed — a record may not hold case notes"
    )


def test_oversized_value_is_rejected(tmp_path: Path) -> None:
    message = rejection(tmp_path, good_row(record_id="T-2", surname="A" * 101))
    assert "field surname: too long (101 characters; at most 100)" in message


def test_bad_nhs_number_and_postcode_are_rejected(tmp_path: Path) -> None:
    assert "field nhs_number: not a valid NHS number" in rejection(
        tmp_path, good_row(nhs_number="9434765918")
    )
    bad_postcode = good_row(address={"line1": "1 High St", "postcode": "123 ABC"})
    assert "field address.postcode: not a UK postcode" in rejection(tmp_path, bad_postcode)


def test_malformed_json_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(good_row()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match=r"broken.jsonl line 2, field line: not valid JSON"):
        validate_file(path, TODAY)


def test_invalid_file_writes_nothing(db: Database, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mixed.jsonl", [good_row(), good_row(record_id="T-2", sex="Q")])
    with pytest.raises(ImportRejected):
        run_import(db, path)
    with db.session() as session:
        assert count_records(session) == 0


def test_reimport_is_idempotent_and_upserts(db: Database, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl", [good_row(), good_row(record_id="T-2", forename="Liam", sex="M")]
    )
    run_import(db, path)
    run_import(db, path)
    with db.session() as session:
        assert count_records(session) == 2
    write_jsonl(path, [good_row(address={"line1": "1 New Road", "postcode": "LS1 1AA"})])
    run_import(db, path)
    with db.session() as session:
        records = {str(r.record_id): r for r in load_records(session, list(range(1, 50))).values()}
    assert count_records_of(db) == 2
    assert records["T-1"].address.line1 == "1 New Road"


def count_records_of(db: Database) -> int:
    with db.session() as session:
        return count_records(session)


def test_cli_import_error_is_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dbfile = tmp_path / "n.sqlite"
    assert main(["node", "init", "--db", str(dbfile), "--council", "E08000035", "--name", "Leeds"]) == 0
    path = write_jsonl(tmp_path / "bad.jsonl", [good_row(case_notes="x")])
    assert main(["node", "import", str(path), "--db", str(dbfile)]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl line 1, field case_notes: not allowed" in err
    assert "Traceback" not in err
    assert main(["node", "import", str(tmp_path / "missing.csv"), "--db", str(dbfile)]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err


def test_killed_import_keeps_committed_batches_and_rerun_completes(tmp_path: Path) -> None:
    rows = [good_row(record_id=f"K-{i:06d}", forename=f"Child{chr(65 + i % 26)}") for i in range(12000)]
    for i, row in enumerate(rows):
        row["forename"] = ["Ann", "Liam", "Zoë", "Omar", "Ewa", "Kai"][i % 6]
        row["date_of_birth"] = f"20{10 + i % 8:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    dbfile = tmp_path / "kill.sqlite"
    assert main(["node", "init", "--db", str(dbfile), "--council", "E08000035", "--name", "Leeds"]) == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [
        sys.executable,
        "-m",
        "whoelse.federation.cli",
        "node",
        "import",
        str(path),
        "--db",
        str(dbfile),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    committed = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with sqlite3.connect(dbfile, timeout=10) as conn:
            committed = conn.execute("select count(*) from children").fetchone()[0]
        if committed > 0:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(dbfile) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        children = conn.execute("select count(*) from children").fetchone()[0]
        untagged = conn.execute(
            "select count(*) from children c"
            " where not exists (select 1 from match_tags t where t.child_id = c.id)"
        ).fetchone()[0]
    assert children < 12000, "the import finished before it could be killed"
    assert children % 2000 == 0  # whole batches only
    assert untagged == 0  # no half-written record
    assert tag_indexes(Database(str(dbfile))) == set()  # killed inside a first load, before the rebuild
    assert main(["node", "import", str(path), "--db", str(dbfile), "--quiet"]) == 0
    with sqlite3.connect(dbfile) as conn:
        assert conn.execute("select count(*) from children").fetchone()[0] == 12000
    assert tag_indexes(Database(str(dbfile))) == TAG_INDEXES  # the next import built them again


TAG_INDEXES = {"ix_match_tags_tag", "ix_match_tags_child_id"}


def tag_indexes(db: Database) -> set[str]:
    return {str(index["name"]) for index in inspect(db.engine).get_indexes("match_tags")}


def _rows(count: int, prefix: str) -> list[dict[str, Any]]:
    names = ["Ann", "Liam", "Zoë", "Omar", "Ewa", "Kai", "Maya"]
    return [
        good_row(
            record_id=f"{prefix}-{n}",
            forename=names[n % 7],
            date_of_birth=f"20{10 + n % 8:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        )
        for n in range(count)
    ]


def test_a_first_load_builds_the_tag_indexes_at_the_end_and_finds_its_children(
    db: Database, tmp_path: Path
) -> None:
    with db.session() as session:
        tagger = LocalTagger(load(session).tag_key)
    during: list[set[str]] = []

    def watch(seen: list[set[str]]) -> None:
        seen.append(tag_indexes(db))

    path = write_jsonl(tmp_path / "first-load.jsonl", _rows(2500, "F"))
    import_file(
        db, path, tagger, record_tags, today=TODAY, progress=lambda *_: during.append(tag_indexes(db))
    )
    assert during and all(seen == set() for seen in during)  # written without them
    assert tag_indexes(db) == TAG_INDEXES
    with db.session() as session:
        found = find(session, tagger, identity_of(_record(db, "F-3")), limit=50)
        assert "F-3" in {r.record.record_id for r in found}
    # Later imports add to what the council holds: the indexes stay, for the searches running beside them.
    during.clear()
    path = write_jsonl(tmp_path / "second.jsonl", _rows(1500, "S"))
    import_file(
        db, path, tagger, record_tags, today=TODAY, progress=lambda *_: during.append(tag_indexes(db))
    )
    assert during and all(seen == TAG_INDEXES for seen in during)


def test_a_first_load_that_fails_while_writing_still_rebuilds_the_tag_indexes(
    db: Database, tmp_path: Path
) -> None:
    with db.session() as session:
        tagger = LocalTagger(load(session).tag_key)

    def fail(written: int, _total: int) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        import_file(
            db, write_jsonl(tmp_path / "f.jsonl", _rows(2500, "F")), tagger, record_tags, progress=fail
        )
    assert tag_indexes(db) == TAG_INDEXES


def _record(db: Database, record_id: str) -> Any:
    with db.session() as session:
        (record,) = records_by_record_id(session, [record_id]).values()
    return record


def _planner_rows(db: Database) -> dict[str, float]:
    """What PostgreSQL's planner believes each record table holds (-1: never analysed)."""
    with db.engine.connect() as conn:
        found = conn.execute(
            text("SELECT relname, reltuples FROM pg_class WHERE relname IN ('children', 'match_tags')")
        ).all()
    return {name: float(rows) for name, rows in found}


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_bulk_import_leaves_postgresql_planning_searches_on_the_loaded_tables(
    db: Database, tmp_path: Path
) -> None:
    # Straight after a first load the planner still took the tables for empty, and every search's tag
    # look-up ran at 273 ms instead of 1.7 ms at 350,000 children until autovacuum analysed them.
    assert all(rows < 1 for rows in _planner_rows(db).values())
    rows = [good_row(record_id=f"T-{n}", forename=f"Zoë{'a' * (n % 7)}") for n in range(1200)]
    assert run_import(db, write_jsonl(tmp_path / "first-load.jsonl", rows)) == 1200
    planned = _planner_rows(db)
    assert planned["children"] >= 1000
    assert planned["match_tags"] >= 1000
