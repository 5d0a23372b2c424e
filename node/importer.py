"""`whoelse node import FILE`: read CSV or JSON Lines, validate every row, then write in batches.

Policy (docs/import-format.md): the whole file is validated before anything is written; an invalid file
writes nothing and lists its errors. A valid file is written in batches, one transaction each, so a killed
import keeps every committed batch intact and re-running the file finishes it (upsert by record id).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from federation.errors import InvalidInput
from node.records import ChildRecord
from node.storage.database import Database
from node.storage.record_store import records_by_record_id, upsert_records
from node.tags import KindedTag, Tagger
from node.validation import NESTED, validate_record

BATCH = 2000
MAX_LINE_BYTES = 64 * 1024
MAX_ERRORS_SHOWN = 50

_LIST_COLUMN = re.compile(r"^(carer|involvement|concern)_(\d{1,3})_(.+)$")
_LISTS = {"carer": "carers", "involvement": "involvements", "concern": "concerns"}
_OBJECTS = ("address", "education", "gp", "shielding")


@dataclass(frozen=True, slots=True)
class ImportProblem:
    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}, field {self.field}: {self.reason}"


class ImportRejected(InvalidInput):
    """The file has invalid rows; nothing was written."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more problems; nothing was imported)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


@dataclass(frozen=True)
class ImportReport:
    file: str
    records: int
    batches: int


def unflatten_csv_row(row: dict[str, str]) -> dict[str, Any]:
    """CSV columns → JSON shape: `address_postcode` → address.postcode, `carer_2_name` → carers[1].name."""
    out: dict[str, Any] = {}
    lists: dict[str, dict[int, dict[str, str]]] = {}
    for column, value in row.items():
        if column is None:
            raise ValueError("more cells than header columns")
        if value is None or value.strip() == "":
            continue
        m = _LIST_COLUMN.match(column)
        if m:
            kind, index, field = m.groups()
            lists.setdefault(_LISTS[kind], {}).setdefault(int(index), {})[field] = value
            continue
        prefix, _, rest = column.partition("_")
        if prefix in _OBJECTS and rest in NESTED[prefix]:
            out.setdefault(prefix, {})[rest] = value
            continue
        out[column] = value
    for name, items in lists.items():
        out[name] = [items[i] for i in sorted(items)]
    if "previous_surnames" in out:
        out["previous_surnames"] = [p.strip() for p in out["previous_surnames"].split(";") if p.strip()]
    return out


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | ImportProblem]]:
    """(line number, raw row) for each row, or a problem for a row that cannot even be parsed."""
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise InvalidInput(f"{name}: unknown file type {suffix or '(none)'!r}; use .csv or .jsonl")
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot read ({exc.strerror})") from exc
    with handle:
        try:
            if suffix == ".csv":
                reader = csv.DictReader(handle)
                if not reader.fieldnames:
                    raise InvalidInput(f"{name}: empty file (a header row is required)")
                for row in reader:
                    try:
                        yield reader.line_num, unflatten_csv_row(row)
                    except ValueError as exc:
                        yield reader.line_num, ImportProblem(name, reader.line_num, "row", str(exc))
            else:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    if len(line.encode()) > MAX_LINE_BYTES:
                        yield (
                            number,
                            ImportProblem(name, number, "line", f"longer than {MAX_LINE_BYTES} bytes"),
                        )
                        continue
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, ImportProblem(name, number, "line", f"not valid JSON ({exc.msg})")
                        continue
                    if not isinstance(value, dict):
                        yield number, ImportProblem(name, number, "line", "must be a JSON object")
                        continue
                    yield number, value
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{name}: not UTF-8 text (byte {exc.start})") from exc
        except csv.Error as exc:
            raise InvalidInput(f"{name}: malformed CSV ({exc})") from exc


def validate_file(path: Path, today: dt.date) -> list[ChildRecord]:
    """Every record in the file, or ImportRejected listing the problems (nothing is written)."""
    records: list[ChildRecord] = []
    problems: list[ImportProblem] = []
    for line, raw in read_rows(path):
        if isinstance(raw, ImportProblem):
            problems.append(raw)
            continue
        result = validate_record(raw, today)
        if isinstance(result, list):
            problems += [ImportProblem(path.name, line, e.field, e.reason) for e in result]
        else:
            records.append(result)
    if problems:
        raise ImportRejected(problems)
    return records


ChangeHook = Callable[[Session, list[tuple[ChildRecord | None, ChildRecord]]], None]
"""Called inside each batch's transaction with (previous version or None, new version) of every record."""


def import_file(
    db: Database,
    path: Path,
    tagger: Tagger,
    tag_fn: Callable[[Tagger, ChildRecord], list[KindedTag]],
    *,
    today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch: int = BATCH,
    on_changes: ChangeHook | None = None,
) -> ImportReport:
    """Validate the whole file, then upsert it batch by batch (each batch one transaction)."""
    records = validate_file(path, today or dt.date.today())
    batches = 0
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        with db.session() as session:
            if on_changes is not None:
                previous = records_by_record_id(session, [r.record_id for r in chunk])
                on_changes(session, [(previous.get(r.record_id), r) for r in chunk])
            upsert_records(session, chunk, lambda r: tag_fn(tagger, r), tagger.scheme)
        batches += 1
        if progress:
            progress(min(start + batch, len(records)), len(records))
    return ImportReport(path.name, len(records), batches)
