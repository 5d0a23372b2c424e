"""`whoelse node import FILE`: validate a council's export in one streaming pass, then write it in another.

The contract (docs/import-format.md):
- Pass 1 validates every row and MUST write nothing. Each problem names file, line, field and reason; two
  rows with the same record_id are both refused, each naming the other's line.
- With `on_error="reject"` (the default) a file with any problem MUST write nothing at all (records, tags,
  alert outbox, audit). With `on_error="quarantine"` every valid row is written and every problem goes to the
  problems file; the report counts both.
- Pass 1 also makes each valid row's stored columns and lookup tags (in worker processes for a large
  file, node/import_workers.py) and spills them to an unnamed temporary file. Pass 2 reads the spill, not
  the file, and writes the valid rows in batches, one transaction each, so a killed import keeps whole
  batches and re-running the file finishes it (upsert by record id). Neither pass holds more than a few
  chunks of records in memory.
- `mode="full"`: records this council holds that the export does not list are ended (kept, no longer
  disclosed, each logged), never deleted.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from whoelse.federation.errors import InvalidInput
from whoelse.node.import_files import ImportProblem, file_kind, printable, read_units
from whoelse.node.import_ids import RecordIds
from whoelse.node.import_workers import Prepared, TagFn, check_all, chunks, load_prepared, workers_for
from whoelse.node.records import ChildRecord
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import (
    BULK_WRITE_ROWS,
    end_absent_records,
    ensure_tag_indexes,
    holds_no_records,
    records_by_record_id,
    refresh_statistics,
    tag_indexes_built_after,
    write_prepared,
)
from whoelse.node.tags import Tagger

__all__ = ["ImportProblem", "ImportRejected", "ImportReport", "check_file", "import_file", "validate_file"]

BATCH = 2000
MAX_ERRORS_SHOWN = 50
PROBLEMS_KEPT = 10_000  # in memory, for the report; the problems file gets every one


class Mode(enum.StrEnum):
    UPSERT = "upsert"  # add or replace the records in the file; leave the others alone
    FULL = "full"  # the file is the council's whole list: end the records it does not list


class OnError(enum.StrEnum):
    REJECT = "reject"  # any problem: write nothing
    QUARANTINE = "quarantine"  # write the valid rows; list the rest in the problems file


class ImportRejected(InvalidInput):
    """The file has invalid rows; nothing was written."""

    def __init__(self, problems: list[ImportProblem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        more = f" (and {self.total - 1} more problems; nothing was imported)" if self.total > 1 else ""
        super().__init__(f"{problems[0]}{more}")


@dataclass
class ImportReport:
    file: str
    records: int  # valid rows (written, unless checked only)
    batches: int = 0
    rejected_rows: int = 0
    problem_count: int = 0
    problems: list[ImportProblem] = field(default_factory=list)  # the first PROBLEMS_KEPT
    ended: int = 0
    checked_only: bool = False
    mode: Mode = Mode.UPSERT
    problems_file: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "mode": self.mode.value,
            "checked_only": self.checked_only,
            "valid_rows": self.records,
            "imported": 0 if self.checked_only else self.records,
            "rejected_rows": self.rejected_rows,
            "problem_count": self.problem_count,
            "ended": self.ended,
            "problems_file": self.problems_file,
            "problems": [p.to_json() for p in self.problems],
        }


class _ProblemsFile:
    """Every problem, one per line, as JSON Lines or CSV (by the file's suffix)."""

    COLUMNS = ("file", "line", "record_id", "field", "reason")

    def __init__(self, path: Path) -> None:
        self.kind = file_kind(path)
        try:
            self._handle: IO[str] = path.open("w", encoding="utf-8", newline="", errors="backslashreplace")
        except OSError as exc:
            raise InvalidInput(f"{path.name}: cannot write the problems file ({exc.strerror})") from exc
        path.chmod(0o600)  # it names the council's record ids
        self._csv = csv.writer(self._handle) if self.kind == "csv" else None
        if self._csv is not None:
            self._csv.writerow(self.COLUMNS)

    def write(self, problem: ImportProblem) -> None:
        row = problem.to_json()
        if self._csv is not None:
            self._csv.writerow([row[c] for c in self.COLUMNS])
        else:
            self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._handle.close()


@dataclass
class _Scan:
    """What pass 1 learned: how many rows are valid, which lines are not, and every record id listed."""

    valid: int = 0
    problem_count: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    bad_lines: set[int] = field(default_factory=set)
    # record id (as written) → the line it is first on; negative when that row is invalid
    first_line: RecordIds = field(default_factory=RecordIds)
    unidentified: list[int] = field(default_factory=list)  # lines with no readable record id

    def add(self, problem: ImportProblem, sink: _ProblemsFile | None) -> None:
        self.problem_count += 1
        self.bad_lines.add(problem.line)
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)
        if sink is not None:
            sink.write(problem)


class _Spill:
    """The prepared rows of pass 1, on disk (an unnamed temporary file), for the database pass to read back:
    memory stays flat however long the file, and pass 2 needs neither the file nor validation again."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="whoelse-import-")  # noqa: SIM115 (closed by close())

    def write(self, blob: bytes) -> None:
        self._file.write(len(blob).to_bytes(8, "little"))
        self._file.write(blob)

    def prepared(self) -> Iterator[Prepared]:
        self._file.seek(0)
        while header := self._file.read(8):
            yield from load_prepared(self._file.read(int.from_bytes(header, "little")))

    def close(self) -> None:
        self._file.close()


def _scan(
    path: Path,
    today: dt.date,
    sink: _ProblemsFile | None,
    spill: _Spill | None = None,
    tagger: Tagger | None = None,
    tag_fn: TagFn | None = None,
    *,
    records: bool = False,
) -> _Scan:
    """Pass 1: validate every row (in worker processes for a large file), find duplicate record ids, and
    spill the prepared valid rows when `spill` is given. Writes nothing to the database."""
    scan = _Scan()
    name = path.name
    counted: set[int] = set()  # first lines of record ids seen again, already refused
    reason = "the same record_id as line {}: each child appears once in a file"
    workers = workers_for(path.stat().st_size) if path.is_file() else 0
    wanted = (tagger, tag_fn) if spill is not None else (None, None)
    units = read_units(path)
    for checked, blob in check_all(name, units, today, *wanted, workers, records=records):
        if spill is not None:
            spill.write(blob)
        for row in checked:
            rid = row.record_id
            problems = row.problems
            repeated = False
            if rid is None:
                scan.unidentified.append(row.line)
            elif (seen := scan.first_line.remember(rid, -row.line if problems else row.line)) is not None:
                repeated = True
                first = abs(seen)
                if first not in counted:
                    counted.add(first)
                    scan.add(ImportProblem(name, first, "record_id", reason.format(row.line), rid), sink)
                    if seen > 0:  # counted valid when it was read
                        scan.valid -= 1
                scan.add(ImportProblem(name, row.line, "record_id", reason.format(first), rid), sink)
                scan.bad_lines.add(row.line)
            if problems:
                for problem in problems:
                    scan.add(problem, sink)
            elif not repeated:
                scan.valid += 1
    return scan


def validate_file(path: Path, today: dt.date) -> list[ChildRecord]:
    """Every record in the file, or ImportRejected listing the problems (nothing is written).
    Holds the whole file: for tests and small files; imports stream (import_file)."""
    spill = _Spill()
    try:
        scan = _scan(path, today, None, spill, records=True)
        if scan.problem_count:
            raise ImportRejected(sorted(scan.problems, key=lambda p: p.line), scan.problem_count)
        return [item.record for item in spill.prepared() if item.record is not None]
    finally:
        spill.close()


ChangeHook = Callable[[Session, list[tuple[ChildRecord | None, ChildRecord]]], None]
"""Called inside each batch's transaction with (previous version or None, new version) of every record."""

EndedHook = Callable[[Session, Sequence[str]], None]
"""Called inside the transaction that ends records absent from a full refresh, with their record ids."""


def _problems_sink(problems_path: Path | None, source: Path) -> _ProblemsFile | None:
    if problems_path is None:
        return None
    if problems_path.resolve() == source.resolve():
        raise InvalidInput(f"{problems_path.name}: the problems file must not be the file being imported")
    return _ProblemsFile(problems_path)


def check_file(
    path: Path, *, today: dt.date | None = None, problems_path: Path | None = None, mode: Mode = Mode.UPSERT
) -> ImportReport:
    """Validate only (`import --check`): the report of what an import would do; nothing is written."""
    sink = _problems_sink(problems_path, path)
    try:
        scan = _scan(path, today or dt.date.today(), sink)
    finally:
        if sink is not None:
            sink.close()
    return _report(path, scan, mode, checked_only=True, problems_path=problems_path)


def _report(
    path: Path, scan: _Scan, mode: Mode, *, checked_only: bool, problems_path: Path | None
) -> ImportReport:
    return ImportReport(
        file=path.name,
        records=scan.valid,
        rejected_rows=len(scan.bad_lines),
        problem_count=scan.problem_count,
        problems=sorted(scan.problems, key=lambda p: p.line),
        checked_only=checked_only,
        mode=mode,
        problems_file=str(problems_path) if problems_path else "",
    )


def import_file(
    db: Database,
    path: Path,
    tagger: Tagger,
    tag_fn: TagFn,
    *,
    today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch: int = BATCH,
    on_changes: ChangeHook | None = None,
    on_ended: EndedHook | None = None,
    mode: Mode = Mode.UPSERT,
    on_error: OnError = OnError.REJECT,
    problems_path: Path | None = None,
    before_write: Callable[[], None] | None = None,
) -> ImportReport:
    """Validate the whole file, then upsert it batch by batch (each batch one transaction); see the module
    contract for `mode` and `on_error`. `before_write` runs once validation has passed, before any write."""
    day = today or dt.date.today()
    sink = _problems_sink(problems_path, path)
    spill = _Spill()
    try:
        try:
            scan = _scan(path, day, sink, spill, tagger, tag_fn, records=on_changes is not None)
        finally:
            if sink is not None:
                sink.close()
        report = _report(path, scan, mode, checked_only=False, problems_path=problems_path)
        if scan.problem_count and on_error is OnError.REJECT:
            raise ImportRejected(report.problems, scan.problem_count)
        if mode is Mode.FULL:
            if scan.unidentified:
                raise InvalidInput(
                    f"{path.name} line {scan.unidentified[0]}: a full refresh needs every row's record_id, "
                    "to know which records the export no longer lists; nothing was imported"
                )
            if not scan.first_line:
                raise InvalidInput(f"{path.name}: a full refresh of an empty file would end every record")
        if before_write is not None:
            before_write()
        ensure_tag_indexes(db.engine)  # an earlier first load may have been killed before it rebuilt them
        written = 0
        valid = (p for p in spill.prepared() if p.line not in scan.bad_lines)
        first_load = scan.valid >= BULK_WRITE_ROWS and holds_no_records(db.engine)
        with tag_indexes_built_after(db.engine) if first_load else nullcontext():
            for chunk in chunks(valid, batch):
                with db.session() as session:
                    if on_changes is not None:
                        new = [p.record for p in chunk if p.record is not None]
                        previous = records_by_record_id(session, [r.record_id for r in new])
                        on_changes(session, [(previous.get(r.record_id), r) for r in new])
                    write_prepared(session, [(p.values, p.tags) for p in chunk], tagger.scheme)
                report.batches += 1
                written += len(chunk)
                if progress:
                    progress(written, scan.valid)
        if written >= BULK_WRITE_ROWS:
            refresh_statistics(db.engine)  # searches are planned on the tables as they now are
    finally:
        spill.close()
    if mode is Mode.FULL:
        with db.session() as session:
            ended = end_absent_records(session, scan.first_line, day)
            if on_ended is not None and ended:
                on_ended(session, ended)
        report.ended = len(ended)
    return report


def describe(report: ImportReport, into: str = "") -> str:
    """One line for the operator: what was (or would be) imported, rejected and ended."""
    if report.checked_only:
        text = f"{report.file}: would import {report.records} records"
    else:
        text = f"imported {report.records} records from {report.file}" + (f" into {into}" if into else "")
    if report.rejected_rows:
        text += f"; rejected {report.rejected_rows} rows ({report.problem_count} problems)"
        if report.problems_file:
            text += f", listed in {printable(report.problems_file, 200)}"
    if report.mode is Mode.FULL and not report.checked_only:
        text += f"; ended {report.ended} records no longer in the export"
    return text
