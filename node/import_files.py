"""Reading a council's export (CSV or JSON Lines) into raw rows, line by line, without holding the file.

The contract:
- The file MUST be UTF-8; a byte-order mark (Excel's "CSV UTF-8") is accepted. A file in another encoding
  MUST be refused whole, naming the line and the encoding it looks like.
- A CSV file MUST have a header row whose column names are unique.
- A row that cannot be read (bad JSON, a duplicate key, nesting too deep, a number too long for any field,
  more cells than columns) MUST come back as an ImportProblem for that line, never as an exception.
- Problems MUST be printable on one line: field names taken from the file are escaped and shortened.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from whoelse.federation.errors import InvalidInput
from whoelse.node.validation import NESTED

MAX_LINE_BYTES = 64 * 1024
BOM = b"\xef\xbb\xbf"
SUFFIXES = (".csv", ".jsonl", ".ndjson")

_LIST_COLUMN = re.compile(r"^(carer|involvement|concern)_(\d{1,3})_(.+)$")
_LISTS = {"carer": "carers", "involvement": "involvements", "concern": "concerns"}
_OBJECTS = ("address", "education", "gp", "shielding")


def printable(text: str, limit: int = 80) -> str:
    """`text` safe to print on one line: control, format and surrogate characters escaped, then shortened."""
    out = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class ImportProblem:
    file: str
    line: int
    field: str
    reason: str
    record_id: str = ""  # as written in the row, when it could be read

    def __str__(self) -> str:
        return f"{self.file} line {self.line}, field {printable(self.field)}: {printable(self.reason, 300)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "record_id": printable(self.record_id, 64),
            "field": printable(self.field),
            "reason": printable(self.reason, 300),
        }


@dataclass(frozen=True, slots=True)
class RawRow:
    line: int
    value: dict[str, Any] | ImportProblem

    @property
    def record_id(self) -> str | None:
        """The row's record_id as written (valid or not), or None when the row has none that can be read."""
        if isinstance(self.value, ImportProblem):
            return self.value.record_id or None
        rid = self.value.get("record_id")
        return rid.strip() if isinstance(rid, str) and rid.strip() else None


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            f"{path.name}: unknown file type {printable(suffix) or '(none)'!r}; use .csv or .jsonl"
        )
    return "csv" if suffix == ".csv" else "jsonl"


def _guess_encoding(sample: bytes) -> str:
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in sample:
        return 'UTF-16 (Excel\'s "Unicode text")'
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return "a single-byte encoding such as ISO-8859-1"
    return 'Windows-1252 (Excel\'s plain "CSV")'


def _lines(name: str, handle: BinaryIO) -> Iterator[str]:
    """The file's lines as text (line endings kept, for the csv module), refusing the file at the first
    line that is not UTF-8."""
    for number, raw in enumerate(handle, start=1):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{name} line {number}: not UTF-8 text (byte {exc.start + 1} of the line); it looks like "
                f'{_guess_encoding(raw)}: export or save it as UTF-8 (in Excel, "CSV UTF-8")'
            ) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) < len(pairs):  # some key repeats: name the first to repeat, as the row is read
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _json_row(name: str, number: int, line: str) -> dict[str, Any] | ImportProblem:
    try:
        value = json.loads(line, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        return ImportProblem(name, number, "line", f"not valid JSON ({exc.msg})")
    except _DuplicateKey as dup:
        return ImportProblem(name, number, dup.key, "appears twice in one object (each key once)")
    except RecursionError:
        return ImportProblem(name, number, "line", "nested too deeply")
    except ValueError:  # an integer of thousands of digits: Python refuses to convert it
        return ImportProblem(name, number, "line", "contains a number with too many digits")
    if not isinstance(value, dict):
        return ImportProblem(name, number, "line", "must be a JSON object")
    return value


def unflatten_csv_row(row: dict[str | None, Any]) -> dict[str, Any]:
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


def _csv_rows(name: str, lines: Iterator[str]) -> Iterator[RawRow]:
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise InvalidInput(f"{name} line 1: malformed CSV header ({exc})") from None
    if not header:
        raise InvalidInput(f"{name}: empty file (a header row is required)")
    seen: dict[str, int] = {}
    for position, column in enumerate(header, start=1):
        if column in seen:
            raise InvalidInput(
                f"{name} line 1: column {printable(column)!r} appears twice "
                f"(columns {seen[column]} and {position}); each column once"
            )
        seen[column] = position
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInput(f"{name} line {reader.line_num}: malformed CSV ({exc})") from None
        try:
            yield RawRow(reader.line_num, unflatten_csv_row(row))
        except ValueError as exc:
            rid = row.get("record_id")
            yield RawRow(
                reader.line_num,
                ImportProblem(name, reader.line_num, "row", str(exc), rid if isinstance(rid, str) else ""),
            )


@dataclass(frozen=True, slots=True)
class RawLine:
    """A JSON Lines row not yet parsed: parsing is left to whichever process validates it."""

    line: int
    text: str


def _jsonl_units(name: str, handle: BinaryIO) -> Iterator[RawLine | RawRow]:
    for number, line in enumerate(_lines(name, handle), start=1):
        if not line.strip():
            continue
        if 4 * len(line) > MAX_LINE_BYTES and len(line.encode()) > MAX_LINE_BYTES:
            yield RawRow(number, ImportProblem(name, number, "line", f"longer than {MAX_LINE_BYTES} bytes"))
            continue
        yield RawLine(number, line)


def parsed(name: str, unit: RawLine | RawRow) -> RawRow:
    """A row read by `read_units`, parsed (a RawRow is already)."""
    if isinstance(unit, RawRow):
        return unit
    return RawRow(unit.line, _json_row(name, unit.line, unit.text))


def read_units(path: Path) -> Iterator[RawLine | RawRow]:
    """Each row of the file with its line number, as cheaply as it can be split off: JSON Lines rows as
    unparsed text (`parsed` turns them into RawRows), CSV rows already read.

    Raises InvalidInput for a file that cannot be read at all (wrong type, not UTF-8, a broken header)."""
    name = path.name
    kind = file_kind(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot read ({exc.strerror})") from exc
    with handle:
        if kind == "csv":
            yield from _csv_rows(name, _lines(name, handle))
        else:
            yield from _jsonl_units(name, handle)


def read_rows(path: Path) -> Iterator[RawRow]:
    """Each row of the file with its line number: its raw value, or the problem that stops it being read.

    Raises InvalidInput for a file that cannot be read at all (wrong type, not UTF-8, a broken header)."""
    name = path.name
    for unit in read_units(path):
        yield parsed(name, unit)
