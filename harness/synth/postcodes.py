"""A shipped sample of real postcodes per council (harness/data/postcodes.csv.gz), so addresses are realistic
and nothing reads the full postcode directory at run time."""

from __future__ import annotations

import csv
import functools
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from whoelse.node.records import CouncilCode

POSTCODES_CSV_GZ = Path(__file__).resolve().parent.parent / "data" / "postcodes.csv.gz"


@dataclass(frozen=True, slots=True)
class Postcode:
    postcode: str
    easting: int
    northing: int
    town: str  # the lower-tier district the postcode lies in, used as the address town


@functools.cache
def postcode_samples() -> dict[CouncilCode, tuple[Postcode, ...]]:
    """Up to 150 real postcodes per council, keyed by council code, each sample sorted by postcode."""
    samples: dict[CouncilCode, list[Postcode]] = {}
    text = gzip.decompress(POSTCODES_CSV_GZ.read_bytes()).decode("utf-8")
    for row in csv.DictReader(io.StringIO(text)):
        samples.setdefault(CouncilCode(row["council"]), []).append(
            Postcode(row["postcode"], int(row["easting"]), int(row["northing"]), row["town"])
        )
    return {code: tuple(rows) for code, rows in samples.items()}
