"""The 153 English councils with children's services (April 2023 codes), read from harness/data/councils.csv.

``approx_children`` uses the council's share of England's postcodes as a population proxy, scaled to
12 million children (see harness/data/README.md). Neighbours are the nearest councils by postcode centroid,
used to place a child's second record somewhere a family could plausibly move to.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from whoelse.federation.errors import InvalidInput
from whoelse.node.records import CouncilCode

COUNCILS_CSV = Path(__file__).resolve().parent.parent / "data" / "councils.csv"

# Five West Yorkshire councils that border one another: a small, realistic default federation.
DEFAULT_COUNCILS: tuple[CouncilCode, ...] = tuple(
    CouncilCode(code) for code in ("E08000035", "E08000032", "E08000033", "E08000034", "E08000036")
)  # Leeds, Bradford, Calderdale, Kirklees, Wakefield


@dataclass(frozen=True, slots=True)
class Council:
    code: CouncilCode
    name: str
    approx_children: int
    postcode_count: int
    easting: int
    northing: int

    def distance_to(self, other: Council) -> float:
        """Distance in metres between postcode centroids (British National Grid)."""
        return math.hypot(self.easting - other.easting, self.northing - other.northing)

    @property
    def short_name(self) -> str:
        """'Bristol, City of' -> 'Bristol': the name a council uses on its letterhead."""
        return self.name.split(",")[0].strip()


@functools.cache
def all_councils() -> dict[CouncilCode, Council]:
    """Every council, keyed by ONS code, in code order."""
    with COUNCILS_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        CouncilCode(row["code"]): Council(
            code=CouncilCode(row["code"]),
            name=row["name"],
            approx_children=int(row["approx_children"]),
            postcode_count=int(row["postcode_count"]),
            easting=int(row["easting"]),
            northing=int(row["northing"]),
        )
        for row in rows
    }


def council(code: str) -> Council:
    """The council with this ONS code; InvalidInput naming the code if there is none."""
    try:
        return all_councils()[CouncilCode(code)]
    except KeyError:
        raise InvalidInput(
            f"unknown council code {code!r}: expected the ONS code of an English council with children's "
            "services, e.g. E08000035 (Leeds)"
        ) from None


def resolve(codes: Iterable[str]) -> list[Council]:
    """Councils for these codes, in the order given, duplicates dropped; InvalidInput on the first unknown."""
    seen: dict[str, Council] = {}
    for code in codes:
        if code not in seen:
            seen[code] = council(code)
    return list(seen.values())


def neighbours(code: str, k: int = 5, among: Sequence[Council] | None = None) -> list[Council]:
    """The k councils nearest to this one by centroid (nearest first), optionally only from ``among``."""
    home = council(code)
    candidates = all_councils().values() if among is None else among
    others = [c for c in candidates if c.code != home.code]
    return sorted(others, key=lambda c: (home.distance_to(c), c.code))[:k]
