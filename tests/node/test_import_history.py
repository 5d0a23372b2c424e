"""The import history the records team's page shows: `whoelse node import` records each run that writes,
with its first problems; a refused file and a `--check` write nothing; only the newest runs are kept."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from whoelse.federation.cli import main as whoelse
from whoelse.node.import_files import ImportProblem
from whoelse.node.import_history import KEPT, PROBLEMS_KEPT, import_history, record_import
from whoelse.node.importer import ImportReport
from whoelse.node.storage.database import Database

GOOD = {"record_id": "L-1", "forename": "Ada", "surname": "Pike", "date_of_birth": "2013-06-06", "sex": "F",
        "address": {"line1": "1 High Street", "postcode": "LS1 1AA"}}  # fmt: skip
BAD = {**GOOD, "record_id": "L-2", "date_of_birth": "2013-02-30"}


def _node(tmp_path: Path) -> str:
    database = str(tmp_path / "node.sqlite")
    assert whoelse(["node", "init", "--db", database, "--council", "E08000035", "--name", "Leeds"]) == 0
    return database


def _export(tmp_path: Path, *rows: Mapping[str, object]) -> str:
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_each_import_is_recorded_with_its_problems_and_a_check_is_not(tmp_path: Path) -> None:
    database = _node(tmp_path)
    export = _export(tmp_path, GOOD, BAD)
    assert whoelse(["node", "import", export, "--db", database, "--check", "--quiet"]) == 2
    db = Database.open_initialised(database)
    assert import_history(db) == []

    assert whoelse(["node", "import", export, "--db", database, "--quiet"]) == 2  # refused: nothing written
    assert import_history(db) == []
    assert whoelse(["node", "import", export, "--db", database, "--quiet", "--on-error", "quarantine"]) == 3
    [quarantined] = import_history(db)
    assert (quarantined.imported, quarantined.rejected_rows, quarantined.problem_count) == (1, 1, 1)
    [problem] = quarantined.problems
    assert (problem.line, problem.record_id, problem.field) == (2, "L-2", "date_of_birth")
    assert quarantined.problems_file.endswith("export.problems.jsonl")
    db.dispose()


def test_only_the_newest_runs_and_their_first_problems_are_kept(tmp_path: Path) -> None:
    db = Database.open_initialised(_node(tmp_path))
    problems = [ImportProblem("f.csv", n, "surname", "required") for n in range(PROBLEMS_KEPT + 5)]
    for n in range(KEPT + 3):
        report = ImportReport(f"export-{n}.csv", 10, rejected_rows=len(problems), problem_count=len(problems),
                              problems=problems)  # fmt: skip
        record_import(db, report, by="operator")
    runs = import_history(db)
    assert [r.file for r in runs] == [f"export-{n}.csv" for n in reversed(range(3, KEPT + 3))]
    assert len(runs[0].problems) == PROBLEMS_KEPT and runs[0].problem_count == PROBLEMS_KEPT + 5
    db.dispose()
