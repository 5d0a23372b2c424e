"""Census-style child records from outside the project for `whoelse bench match --dataset census`.

The `pseudopeople` package (IHME, a dev extra, never a runtime dependency) simulates a decennial census of
a fictional town with realistic noise applied independently to every copy: typos, OCR and phonetic errors,
nicknames, fake names ("Baby", "Girl", "Mr"), blank fields, swapped month and day, wrong date digits, dates
and names copied from another member of the household. Two copies noised with different seeds stand for
two councils' records of the same children; its households give siblings and twins at one address.

Adapted deterministically (`dataset`): only people under 17 in the first copy (so that six years on none
has turned 18 and been archived); the census year (2020) is
moved to 2026 by adding six years to every birth year written with four digits (other dates are passed as
written, so an OCR-garbled year stays an error); each household gets a real UK postcode from node/synth's
sample, and a share of the second copies (MOVED_SHARE) a different one, since a child known to two councils
has often moved; sex as recorded (blank becomes "U"); no NHS number. The first copy is loaded into one
council; every second copy whose child is in it is searched for from another.
"""

from __future__ import annotations

import functools
import importlib.util
import random
from typing import Any

from whoelse.federation.errors import InvalidInput
from whoelse.harness.synth.postcodes import postcode_samples

SEEDS = (1, 2)
"""pseudopeople seeds of the two copies (the held one, the searched one)."""
YEAR_SHIFT = 6
MAX_AGE = 17
MOVED_SHARE = 0.2
POSTCODE_SEED = "census-postcodes-v1"
_SEX = {"Female": "F", "Male": "M"}


def available() -> bool:
    return importlib.util.find_spec("pseudopeople") is not None


@functools.cache
def _copies() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    if not available():
        raise InvalidInput("--dataset census: needs the pseudopeople package (pip install -e '.[dev]')")
    import pseudopeople

    frames = [pseudopeople.generate_decennial_census(seed=seed, verbose=False) for seed in SEEDS]
    return tuple(  # type: ignore[return-value]
        [{k: ("" if v is None or v != v else str(v)) for k, v in row.items()} for row in f.to_dict("records")]
        for f in frames
    )


def _date(written: str) -> str:
    """MM/DD/YYYY as written → YYYY-MM-DD with the year moved on; other shapes as written (or "")."""
    parts = written.split("/")
    if len(parts) != 3:
        return written
    month, day, year = parts
    if len(year) == 4 and year.isdigit():
        year = f"{int(year) + YEAR_SHIFT:04d}"
    return f"{year}-{month}-{day}"


def dataset() -> tuple[list[Any], list[Any]]:
    """(held copies, searched copies) as whoelse.harness.bench_febrl.ChildCopy, children only."""
    from whoelse.harness.bench_febrl import ChildCopy

    held_rows, searched_rows = _copies()
    # Under 17 at the census: six years on, every one of them is still under 18 (none archived yet).
    children = {r["simulant_id"] for r in held_rows if r["age"].isdigit() and int(r["age"]) < MAX_AGE}
    postcodes = sorted(p.postcode for sample in postcode_samples().values() for p in sample)
    rng = random.Random(POSTCODE_SEED)
    rng.shuffle(postcodes)
    households: dict[str, str] = {}

    def home(household: str) -> str:
        return households.setdefault(household, postcodes[len(households) % len(postcodes)])

    entity = {simulant: n for n, simulant in enumerate(sorted(children))}

    def copy(row: dict[str, str], suffix: str, postcode: str) -> ChildCopy:
        written = _date(row["date_of_birth"])
        return ChildCopy(
            record_id=f"rec-{entity[row['simulant_id']]}-{suffix}",  # FEBRL's naming: rec-7-org, rec-7-dup-0
            entity=entity[row["simulant_id"]],
            forename=row["first_name"],
            surname=row["last_name"],
            written_date=written,
            date_of_birth=written,
            postcode=postcode,
            address_line1=f"{row['street_number']} {row['street_name']}".strip() or "Address not recorded",
            sex=_SEX.get(row["sex"], "U"),
        )

    held = [copy(r, "org", home(r["household_id"])) for r in held_rows if r["simulant_id"] in children]
    moves = random.Random(POSTCODE_SEED + "-moves")

    def now_at(row: dict[str, str]) -> str:
        moved = moves.random() < MOVED_SHARE
        return postcodes[moves.randrange(len(postcodes))] if moved else home(row["household_id"])

    searched = [copy(r, "dup-0", now_at(r)) for r in searched_rows if r["simulant_id"] in children]
    return held, searched
