"""The bad-input corpus (tests/assets/bad_input, one file per class): every import path refuses each file
with one line naming file, line, field and reason; a refused import leaves the database exactly as it was;
a quarantine import keeps the good row and lists the bad one (issue #11)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.node.test_importer import good_row, write_jsonl
from whoelse.federation.cli import main
from whoelse.node.storage.database import Database
from whoelse.node.storage.schema import metadata

CORPUS = Path(__file__).resolve().parents[1] / "assets" / "bad_input"

# file → (line, field, words of the reason); field None: the whole file is refused (it cannot be read).
EXPECTED: dict[str, tuple[int, str | None, str]] = {
    "deep_nesting.jsonl": (2, "line", "nested too deeply"),
    "huge_number.jsonl": (2, "line", "a number with too many digits"),
    "lone_surrogate.jsonl": (2, "address.line1", "lone surrogate"),
    "nul_character.jsonl": (2, "address.line1", "control"),
    "name_folds_to_nothing.jsonl": (2, "forename", "not a name"),
    "no_name_at_all.jsonl": (2, "surname", "at least one name"),
    "blank_shielding_reason.jsonl": (2, "shielding.reason", "required"),
    "empty_shielding.jsonl": (2, "shielding", "empty"),
    "blank_address_line.jsonl": (2, "address.line1", "required"),
    "blank_practitioner.jsonl": (2, "involvements[1].practitioner", "required"),
    "blank_contact.jsonl": (2, "involvements[1].contact", "required"),
    "blank_organisation.jsonl": (2, "involvements[1].organisation", "required"),
    "blank_role.jsonl": (2, "involvements[1].role", "required"),
    "too_many_previous_surnames.jsonl": (2, "previous_surnames", "too many names (60; at most 50)"),
    "previous_surnames_too_long.jsonl": (2, "previous_surnames", "too long altogether"),
    "iso_week_date.jsonl": (2, "date_of_birth", "not a real date in the form YYYY-MM-DD"),
    "compact_end_date.jsonl": (2, "involvements[1].end_date", "not a real date in the form YYYY-MM-DD"),
    "involvement_before_birth.jsonl": (2, "involvements[1].start_date", "before the date of birth"),
    "bidi_override.jsonl": (2, "involvements[1].contact", "invisible formatting characters"),
    "duplicate_key.jsonl": (2, "forename", "appears twice"),
    "duplicate_record_id.jsonl": (2, "record_id", "the same record_id as line 3"),
    "case_notes.jsonl": (2, "case_notes", "may not hold case notes"),
    "not_json.jsonl": (2, "line", "not valid JSON"),
    "line_too_long.jsonl": (2, "line", "longer than 65536 bytes"),
    "more_cells_than_columns.csv": (3, "row", "more cells than header columns"),
    "duplicate_header.csv": (1, None, "column 'surname' appears twice (columns 3 and 8)"),
    "not_utf8.csv": (3, None, "not UTF-8 text (byte 10 of the line); it looks like Windows-1252"),
    "utf16.csv": (1, None, "not UTF-8 text (byte 1 of the line); it looks like UTF-16"),
}


def test_every_corpus_file_has_an_expectation() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".jsonl", ".csv")}
    assert files == set(EXPECTED)


def dump(db: Database) -> list[tuple[str, list[str]]]:
    """Every row of every table, in a stable order: two equal dumps mean an unchanged database."""
    out = []
    with db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            out.append((table.name, sorted(repr(tuple(row)) for row in conn.execute(select(table)))))
    return out


def url(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def expected_message(name: str) -> str:
    line, field, _ = EXPECTED[name]
    if field is None:
        return f"{name} line {line}: "
    return f"{name} line {line}, field {field}: "


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_import_refuses_the_file_in_one_line_and_writes_nothing(
    db: Database, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Records already held, so "nothing written" is tested against a database with something in it.
    held = write_jsonl(tmp_path / "held.jsonl", [good_row(record_id="HELD-1")])
    assert main(["node", "import", str(held), "--db", url(db), "--quiet"]) == 0
    capsys.readouterr()
    before = dump(db)
    assert main(["node", "import", str(CORPUS / name), "--db", url(db), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    first = err.splitlines()[0]
    assert first.startswith("whoelse: error: " + expected_message(name))
    assert EXPECTED[name][2] in first
    assert dump(db) == before


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_refuses_the_same_way_without_a_database(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing_db = tmp_path / "never-created.sqlite"
    assert main(["node", "import", str(CORPUS / name), "--check", "--db", str(missing_db)]) == 2
    err = capsys.readouterr().err
    assert expected_message(name) in err and EXPECTED[name][2] in err
    assert "Traceback" not in err
    assert not missing_db.exists()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_quarantine_keeps_the_good_row_and_lists_the_bad_one(
    db: Database, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    problems = tmp_path / "problems.jsonl"
    status = main(
        ["node", "import", str(CORPUS / name), "--db", url(db), "--quiet", "--on-error", "quarantine",
         "--problems", str(problems), "--json"]
    )  # fmt: skip
    out = capsys.readouterr().out
    report: dict[str, Any] = json.loads(out)
    line, field, reason = EXPECTED[name]
    if field is None:  # a file that cannot be read is refused whole, even in quarantine
        assert status == 2
        assert expected_message(name) in report["error"]
        assert dict(dump(db))["children"] == []
        return
    assert status == 3
    assert report["imported"] == 1
    listed = [json.loads(text) for text in problems.read_text(encoding="utf-8").splitlines()]
    assert any(p["line"] == line and p["field"] == field and reason in p["reason"] for p in listed)
    assert report["problem_count"] == len(listed)
    with db.engine.connect() as conn:
        ids = set(conn.execute(select(metadata.tables["children"].c.record_id)).scalars())
    assert ids == {"GOOD-1"}
