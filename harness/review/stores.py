"""What each party stores, and what a breach of its store exposes, read from the stores themselves.

Every figure here comes from opening a party's SQLite file read-only after the run and reading every row of
every table: nothing is taken from the code's intentions. A child counts as *identifiable* from a store when
a row holds the child's NHS number, or holds the child's forename, surname and date of birth together —
what an attacker copying that file could read off without any key.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NHS = re.compile(r"(?<!\d)\d{10}(?!\d)")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class Truth:
    """The synthetic population as written for import, with which records are the same child."""

    rows: dict[tuple[str, str], dict[str, Any]]  # (council, record id) -> import row
    person_of: dict[tuple[str, str], str]
    copies: dict[str, list[tuple[str, str]]]  # person id -> its records

    @classmethod
    def load(cls, data_dir: Path) -> Truth:
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for path in sorted(data_dir.glob("E*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                rows[(path.stem, row["record_id"])] = row
        person_of: dict[tuple[str, str], str] = {}
        copies: dict[str, list[tuple[str, str]]] = {}
        for line in (data_dir / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines():
            child = json.loads(line)
            refs = [(c["council"], c["record_id"]) for c in child["copies"]]
            copies[child["person_id"]] = refs
            for ref in refs:
                person_of[ref] = child["person_id"]
        return cls(rows, person_of, copies)

    def shared(self) -> list[str]:
        """Children held by two or more councils."""
        return [p for p, refs in self.copies.items() if len({c for c, _ in refs}) >= 2]

    def held_by(self, person: str) -> set[str]:
        return {council for council, _ in self.copies[person]}


def _cells(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)


def _rows(path: Path) -> Iterator[tuple[str, str]]:
    """(table, the row's text) for every row of every table of a SQLite file, opened read-only."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):  # names from the file's own schema
                yield table, " ".join(_cells(c) for c in row)
    finally:
        con.close()


class Scanner:
    """Finds which children a store's rows identify (NHS number, or name and date of birth together)."""

    def __init__(self, truth: Truth) -> None:
        self._by_nhs: dict[str, set[str]] = defaultdict(set)
        self._by_dob: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for ref, row in truth.rows.items():
            person = truth.person_of[ref]
            if row.get("nhs_number"):
                self._by_nhs[row["nhs_number"]].add(person)
            if row.get("date_of_birth"):
                self._by_dob[row["date_of_birth"]].append(
                    (person, row["forename"].lower(), row["surname"].lower())
                )

    def identified(self, path: Path, only: set[str] | None = None) -> set[str]:
        found: set[str] = set()
        for _, text in _rows(path):
            for number in NHS.findall(text):
                found |= self._by_nhs.get(number, set())
            if ISO_DATE.search(text):
                lowered = text.lower()
                for dob in set(ISO_DATE.findall(text)):
                    for person, forename, surname in self._by_dob.get(dob, ()):
                        if forename in lowered and surname in lowered:
                            found.add(person)
        return found if only is None else found & only


def log_entry(stored: str) -> dict[str, Any]:
    """A log entry's fields (the transparency log stores {"entry": fields, "index": n})."""
    value: dict[str, Any] = json.loads(stored)
    inner = value.get("entry")
    return inner if isinstance(inner, dict) else value


def _count(con: sqlite3.Connection, sql: str) -> int:
    try:
        return int(con.execute(sql).fetchone()[0] or 0)
    except sqlite3.OperationalError:  # this party has no such table
        return 0


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.is_file())


def inventory(path: Path, scanner: Scanner) -> dict[str, Any]:
    """Counts of what one party's store holds."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        involvements = 0
        try:
            for (details,) in con.execute("SELECT details FROM children"):
                involvements += len(json.loads(details or "{}").get("involvements", []))
        except sqlite3.OperationalError:
            pass
        log_kinds: dict[str, int] = defaultdict(int)
        for table in ("audit_log", "routing_log"):
            try:
                for (entry,) in con.execute(f"SELECT entry FROM {table}"):
                    log_kinds[log_entry(entry).get("kind", table)] += 1
            except sqlite3.OperationalError:
                pass
        out = {
            "children_records": _count(con, "SELECT count(*) FROM children"),
            "nhs_numbers": _count(con, "SELECT count(*) FROM children WHERE nhs_number != ''"),
            "match_tags": _count(con, "SELECT count(*) FROM match_tags"),
            "involvements": involvements,
            "practitioner_accounts": _count(con, "SELECT count(*) FROM practitioners"),
            "query_log_entries": sum(
                v for k, v in log_kinds.items() if k.startswith("search") or k == "routing_log"
            ),
            "token_usage_rows": _count(con, "SELECT count(*) FROM token_usage"),
            "councils_listed": _count(con, "SELECT count(*) FROM councils"),
            "keys": _count(con, "SELECT count(*) FROM node_settings WHERE key LIKE '%key%'")
            + _count(con, "SELECT count(*) FROM oprf_keys")
            + _count(con, "SELECT count(*) FROM directory_settings WHERE key LIKE '%key%'"),
        }
    finally:
        con.close()
    out["children_identifiable"] = len(scanner.identified(path))
    out["bytes"] = _size(path)
    return out


def breach_curve(per_council: dict[str, set[str]], seed: int, orderings: int = 30) -> list[dict[str, Any]]:
    """Children identifiable by an attacker holding k councils' stores, k = 1..N: the mean, lowest and
    highest over random sets of k councils (a child held by two of them counts once)."""
    rng = random.Random(seed)
    codes = sorted(per_council)
    out = []
    for k in range(1, len(codes) + 1):
        sizes = [len(set().union(*(per_council[c] for c in rng.sample(codes, k)))) for _ in range(orderings)]
        out.append({"k": k, "mean": sum(sizes) / len(sizes), "min": min(sizes), "max": max(sizes)})
    return out
