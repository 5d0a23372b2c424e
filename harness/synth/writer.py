"""Write a synthetic population to disk in the import format (docs/import-format.md), plus its ground truth.

Output directory layout::

    <CODE>.jsonl or <CODE>.csv  one file per council in record-id order, for `whoelse node import`
    ground_truth.jsonl          one line per real child: which records are that child, family, twin
    practitioners.jsonl         a handful of practitioners per council, to become demo accounts
    manifest.json               seed, scale, reference date, noise level, councils and counts

Files are written byte-for-byte reproducibly (fixed key order, "\\n" line ends, no timestamps).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from whoelse.federation.errors import InvalidInput
from whoelse.harness.synth.generate import Population, TrueChild
from whoelse.harness.synth.sampling import gc_paused
from whoelse.harness.synth.services import Practitioner
from whoelse.node.records import ChildRecord
from whoelse.node.validation import record_to_row

FORMATS = ("jsonl", "csv")

record_to_json = record_to_row  # the import-format object for one record (node/validation.py)


_SCALARS = ("record_id", "forename", "middle_names", "surname", "known_as")
_AFTER_NAMES = ("date_of_birth", "sex", "nhs_number")
_OBJECTS = {
    "address": ("line1", "line2", "town", "postcode"),
    "education": ("institution", "contact"),
    "gp": ("practice", "contact"),
}
_LISTS = {
    "carers": ("carer", ("name", "relationship", "contact")),
    "involvements": (
        "involvement",
        (
            "practitioner",
            "organisation",
            "role",
            "contact",
            "service_type",
            "start_date",
            "end_date",
            "sensitive_basis",
            "override_reason",
        ),
    ),
    "concerns": ("concern", ("raised_by", "contact", "raised_on")),
}
_SHIELDING = ("reason", "shielded_by", "shielded_on")


def csv_header(max_items: dict[str, int]) -> list[str]:
    """CSV columns for records with at most ``max_items[list]`` carers, involvements and concerns."""
    header = [*_SCALARS, "previous_surnames", *_AFTER_NAMES]
    for name, keys in _OBJECTS.items():
        header += [f"{name}_{key}" for key in keys]
    for name, (prefix, keys) in _LISTS.items():
        for n in range(1, max_items[name] + 1):
            header += [f"{prefix}_{n}_{key}" for key in keys]
    header += [f"shielding_{key}" for key in _SHIELDING]
    header.append("retention_consent_to_25")
    return header


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def record_to_csv_row(obj: dict[str, Any], header: list[str]) -> list[str]:
    """Flatten one import-format object into cells for ``header`` (empty cell = absent)."""
    flat: dict[str, str] = {key: _cell(obj[key]) for key in (*_SCALARS, *_AFTER_NAMES)}
    flat["previous_surnames"] = ";".join(obj["previous_surnames"])
    for name, keys in _OBJECTS.items():
        if obj[name] is not None:
            for key in keys:
                flat[f"{name}_{key}"] = _cell(obj[name][key])
    for name, (prefix, keys) in _LISTS.items():
        for n, item in enumerate(obj[name], start=1):
            for key in keys:
                flat[f"{prefix}_{n}_{key}"] = _cell(item[key])
    if obj["shielding"] is not None:
        for key in _SHIELDING:
            flat[f"shielding_{key}"] = _cell(obj["shielding"][key])
    flat["retention_consent_to_25"] = _cell(obj["retention_consent_to_25"])
    return [flat.get(column, "") for column in header]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)  # default separators ", " and ": ", as in the format doc


def _write_jsonl(path: Path, lines: Iterable[Any]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(_dumps(line) + "\n" for line in lines)


def _write_csv(path: Path, records: tuple[ChildRecord, ...]) -> None:
    objects = [record_to_json(r) for r in records]
    max_items = {name: max((len(o[name]) for o in objects), default=0) for name in _LISTS}
    header = csv_header(max_items)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(record_to_csv_row(o, header) for o in objects)


def truth_to_json(child: TrueChild) -> dict[str, Any]:
    copies: list[dict[str, Any]] = []
    for copy in child.copies:
        entry: dict[str, Any] = {"council": copy.council, "record_id": copy.record_id}
        if copy.differences:
            entry["differences"] = [d.value for d in copy.differences]
        copies.append(entry)
    line: dict[str, Any] = {"person_id": child.person_id, "copies": copies, "family_id": child.family_id}
    if child.twin_of is not None:
        line["twin_of"] = child.twin_of
    return line


def practitioner_to_json(practitioner: Practitioner) -> dict[str, Any]:
    return {
        "council": practitioner.council,
        "name": practitioner.name,
        "role": practitioner.role,
        "organisation": practitioner.organisation,
        "contact": practitioner.contact,
        "username": practitioner.username,
        "service_type": practitioner.service_type.value,
    }


def manifest(population: Population, fmt: str) -> dict[str, Any]:
    return {
        "seed": population.seed,
        "scale": population.scale,
        "children_per_council": population.children_per_council,
        "today": population.today.isoformat(),
        "noise": population.noise,
        "format": fmt,
        "councils": [
            {"code": c.code, "name": c.name, "records": len(population.records[c.code])}
            for c in population.councils
        ],
        "children": len(population.people),
        "records": population.record_count,
        "children_known_to_two_councils": sum(1 for p in population.people if len(p.copies) > 1),
        "twins": sum(1 for p in population.people if p.twin_of is not None),
    }


def write(population: Population, out_dir: str | Path, fmt: str = "jsonl") -> list[Path]:
    """Write the population to ``out_dir`` (created if needed); returns the files written, councils first."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use jsonl or csv")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with gc_paused():
        return _write_all(population, out, fmt)


def _write_all(population: Population, out: Path, fmt: str) -> list[Path]:
    written: list[Path] = []
    for council in population.councils:
        path = out / f"{council.code}.{fmt}"
        records = population.records[council.code]
        if fmt == "jsonl":
            _write_jsonl(path, (record_to_json(r) for r in records))
        else:
            _write_csv(path, records)
        written.append(path)
    truth = out / "ground_truth.jsonl"
    _write_jsonl(truth, (truth_to_json(p) for p in population.people))
    staff = out / "practitioners.jsonl"
    _write_jsonl(
        staff,
        (practitioner_to_json(p) for c in population.councils for p in population.practitioners[c.code]),
    )
    summary = out / "manifest.json"
    summary.write_text(
        json.dumps(manifest(population, fmt), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return [*written, truth, staff, summary]
