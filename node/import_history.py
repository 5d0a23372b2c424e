"""What the records team sees of past imports: when each ran, who ran it, what it wrote and left out, and the
first problems of each (the problems file on the node has every one).

`whoelse node import` records each run that wrote records here; a refused file and a `--check` are not
recorded, because the importer's contract is that they write nothing at all. The portal's import page reads
it. Kept in the node's settings table: the last KEPT runs, each with its first PROBLEMS_KEPT problems, so the
history never grows without bound.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from whoelse.node.import_files import ImportProblem
from whoelse.node.importer import ImportReport
from whoelse.node.storage.database import Database
from whoelse.node.storage.tables import NodeSetting

HISTORY = "import_history"
KEPT = 20
PROBLEMS_KEPT = 50


@dataclass(frozen=True, slots=True)
class ImportRun:
    at: dt.datetime
    file: str
    by: str
    mode: str
    imported: int
    rejected_rows: int
    problem_count: int
    ended: int
    problems_file: str
    problems: tuple[ImportProblem, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(timespec="seconds"),
            "file": self.file,
            "by": self.by,
            "mode": self.mode,
            "imported": self.imported,
            "rejected_rows": self.rejected_rows,
            "problem_count": self.problem_count,
            "ended": self.ended,
            "problems_file": self.problems_file,
            "problems": [p.to_json() for p in self.problems],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ImportRun:
        return cls(
            at=dt.datetime.fromisoformat(value["at"]),
            file=str(value["file"]),
            by=str(value["by"]),
            mode=str(value["mode"]),
            imported=int(value["imported"]),
            rejected_rows=int(value["rejected_rows"]),
            problem_count=int(value["problem_count"]),
            ended=int(value["ended"]),
            problems_file=str(value["problems_file"]),
            problems=tuple(
                ImportProblem(p["file"], int(p["line"]), p["field"], p["reason"], p.get("record_id", ""))
                for p in value["problems"]
            ),
        )


def record_import(db: Database, report: ImportReport, *, by: str, at: dt.datetime | None = None) -> ImportRun:
    """Add one finished (or refused) import to the history; the oldest beyond KEPT are dropped."""
    run = ImportRun(
        at=at or dt.datetime.now(dt.UTC),
        file=report.file,
        by=by,
        mode=report.mode.value,
        imported=0 if report.checked_only else report.records,
        rejected_rows=report.rejected_rows,
        problem_count=report.problem_count,
        ended=report.ended,
        problems_file=report.problems_file,
        problems=tuple(report.problems[:PROBLEMS_KEPT]),
    )
    with db.session() as session:
        row = session.get(NodeSetting, HISTORY)
        kept = json.loads(row.value) if row is not None else []
        value = json.dumps([run.to_json(), *kept][:KEPT], ensure_ascii=False)
        if row is None:
            session.add(NodeSetting(key=HISTORY, value=value))
        else:
            row.value = value
    return run


def import_history(db: Database) -> list[ImportRun]:
    """The recorded imports, newest first."""
    with db.session() as session:
        row = session.get(NodeSetting, HISTORY)
        return [ImportRun.from_json(v) for v in json.loads(row.value)] if row is not None else []
