"""Rebuild the import golden file: rows as a council exports them, some made wrong, and what the import's
validation pass (node/import_workers.check_chunk) made of each: the problems of a refused row, the stored
columns and lookup tags of an accepted one (issue #11, item 4).

tests/node/test_import_golden.py checks that the import still makes exactly this. The tags are what other
councils look up, so regenerate the file only with a deliberate change to match keys or validation (a new
MATCH_KEY_VERSION), never to make that test pass after a speed-up.
Run: python tests/assets/import_golden/make_golden.py
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TODAY = dt.date(2026, 12, 4)
KEY = bytes(range(32))  # a fixed tag key: the golden tags are made under it
ROWS = 160

# (field, values one of which replaces it); "address.X" and "involvement.X" change the nested object
CHANGES: list[tuple[str, list[Any]]] = [
    (
        "forename",
        ["Baby", "Baby Girl", "J.", "Zoë", "Nguyễn", "O'Neill", "  Ann  ", "Mary-Jane", "Ann2", "ʼ"],
    ),
    ("forename", ["", None, "Twin 1", "Æthel", "Łucja", "Søren", "\u202eAnn", "A" * 120, 5, "Bill", "Alex"]),
    ("forename", ["Jo Ann", "St. John", "Not Known", "Katie", "Harry", "Seán", "Niamh"]),
    (
        "surname",
        ["de la Cruz", "Smith-Jones", "O'Neill", "Unknown", "NK", "", None, "Mc Donald", "van der Berg"],
    ),
    ("surname", ["S", "Nguyễn", "Son", "  ", "Straße", "Al-Hassan", "X\x00Y", "\ud800", "Ó Briain"]),
    ("known_as", ["Billy", "Katie", "", "Jo-Jo", "3"]),
    ("middle_names", ["Ann Marie", "", "Zoë", "?"]),
    ("date_of_birth", ["2010-29-11", "20150307", "2015-W10-1", "2015-02-30", "", None, "1990-01-01"]),
    ("date_of_birth", ["2030-01-01", "2015-3-7", " 2015-03-07 ", "2016-02-29", "2O15-01-12", 20150307]),
    ("sex", ["U", "u", "X", "", None, " f "]),
    ("nhs_number", ["943 476 5919", "9434765919", "9434765918", "1111111111", 9434765919, "", True]),
    ("nhs_number", ["94347659190000000000000", "943-476-5919", "4010232137"]),
    ("previous_surnames", [["Smith", "Jones"], "Smith;Jones", ["", "x"], ["A" * 90] * 5, [1], "Brown"]),
    ("retention_consent_to_25", ["yes", "no", 1, "maybe", True, ""]),
    ("record_id", ["", None, "A B", "x" * 70, "ok/1.2_3-4", 7]),
    ("case_notes", ["secret"]),
    (
        "shielding",
        [{}, {"reason": "DV", "shielded_by": "Sam Patel", "shielded_on": "2025-01-01"}, {"reason": "x"}],
    ),
    ("education", [None, {"institution": ""}, {"institution": "X", "grades": "A"}]),
    (
        "carers",
        [[], [{"name": "Ann", "relationship": "mother"}], [{"name": "", "relationship": ""}], "x", [1]],
    ),
    ("concerns", [[{"raised_by": "Sam Patel", "contact": "0113", "raised_on": "2025-01-01"}]]),
    ("concerns", [[{"raised_by": "Sam", "contact": "", "raised_on": "2030-01-01"}]]),
    ("address.postcode", ["ls62ab", "ZZ99 3VZ", "GIR0AA", "NOTAPC", "", " b18 7aa ", "SW1A1AA", "B187AAX"]),
    ("address.line1", ["", "  "]),
    ("address.town", ["T" * 150]),
    ("involvement.service_type", ["camhs_tier2", "bogus", "sexual_health"]),
    ("involvement.sensitive_basis", ["consent", "override", "maybe"]),
    ("involvement.override_reason", ["risk of harm", ""]),
    ("involvement.start_date", ["1999-01-01", "2030-01-01", ""]),
    ("involvement.end_date", ["2000-01-01", "2099-01-01"]),
    ("involvement.practitioner", ["", "Dr. Who", "R2D2"]),
    ("involvement.contact", ["", "\u200b"]),
]


def changed(row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        field, values = rng.choice(CHANGES)
        value = rng.choice(values)
        where, _, name = field.partition(".")
        if where == "address":
            row["address"][name] = value
        elif where == "involvement":
            if row["involvements"]:
                row["involvements"][0][name] = value
        else:
            row[field] = value
    return row


def line_of(row: dict[str, Any]) -> str:
    text = json.dumps(row, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate: only JSON's \u escape can carry it
        text = json.dumps(row)
    return text


def tags_digest(tags: Any) -> str:
    """One hex digest of a row's (tag, kind) pairs, in order."""
    h = hashlib.sha256()
    for tag, kind in tags:
        h.update(tag + b"\x00" + kind.encode() + b"\x00")
    return h.hexdigest()


def values_digest(values: Any) -> str:
    """One hex digest of a row's stored columns (their repr: type and value)."""
    return hashlib.sha256(repr(values).encode()).hexdigest()


def outcomes(lines: list[str], tagger: Any = None) -> list[dict[str, Any]]:
    """What check_chunk makes of the lines, one object per line (`tagger`: a LocalTagger, by default one
    under KEY)."""
    from whoelse.node.import_files import RawLine
    from whoelse.node.import_workers import _Job, check_chunk, load_prepared
    from whoelse.node.matching import record_tags
    from whoelse.node.tags import LocalTagger

    job = _Job("golden.jsonl", TODAY, tagger or LocalTagger(KEY), record_tags, False)
    checked, blob = check_chunk(job, [RawLine(n, text) for n, text in enumerate(lines, start=1)])
    prepared = {p.line: p for p in load_prepared(blob)}
    out: list[dict[str, Any]] = []
    for row in checked:
        if row.problems:
            out.append({"line": row.line, "problems": [[p.field, p.reason] for p in row.problems]})
        else:
            p = prepared[row.line]
            out.append({"line": row.line, "values": values_digest(p.values), "tags": tags_digest(p.tags)})
    return out


def main() -> None:
    from whoelse.harness.synth.generate import generate
    from whoelse.harness.synth.writer import record_to_json

    council = "E08000025"
    records = generate([council], children_per_council=ROWS, seed=7).records[council]  # type: ignore[index]
    rng = random.Random(11)
    lines = [
        line_of(changed(record_to_json(r), rng) if n % 4 else record_to_json(r))
        for n, r in enumerate(records)
    ]
    (HERE / "rows.jsonl").write_text("".join(text + "\n" for text in lines), encoding="utf-8")
    results = outcomes(lines)
    text = "".join(json.dumps(result, ensure_ascii=False) + "\n" for result in results)
    (HERE / "expected.jsonl").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
