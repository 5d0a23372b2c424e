"""Near-holder exposure for `whoelse bench match`: how many councils open a searched identity without
holding the child, for today's keys and opening rule and for the design they replaced, in the same run.

A council "opens" a search when one of its records shares enough with it to decrypt the searched identity
(whoelse.federation.match_keys.opens; the old design opened on any two shared keys). Counted on a synthetic
population, the other children that would open a search are scaled to England: 12 million children in 153
councils, each such child most likely in a different council (at most 152 councils can be non-holders).

The old design is kept here, frozen, only to be measured against (`_legacy_keys` is the v1 key derivation
of federation/match_keys.py before issue #8); nothing in the product uses it.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from whoelse.federation.identity import (
    Identity,
    canonical_forename,
    canonical_forenames,
    compact,
    name_parts,
    normalise_nhs_number,
    phonetic,
    postcode_for_matching,
)
from whoelse.federation.match_keys import match_keys, opens

NATIONAL_CHILDREN = 12_000_000
NATIONAL_COUNCILS = 153


def _unique(codes: Iterable[str], limit: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(code for code in codes if code))[:limit]


def _legacy_keys(identity: Identity) -> frozenset[tuple[str, str]]:
    """The v1 match keys (kind, value), as they were before issue #8; records always have a whole date."""
    dob = identity.born.date if identity.born else None
    if dob is None:
        return frozenset()
    iso, year = dob.isoformat(), f"{dob.year:04d}"
    sn, fn = phonetic(identity.surname), phonetic(canonical_forename(identity.forename))
    surnames = [*name_parts(identity.surname)]
    for previous in identity.previous_surnames:
        surnames.extend(name_parts(previous))
    forenames: list[str] = []
    for given in (identity.forename, identity.known_as):
        if compact(given):
            forenames.extend([given, *canonical_forenames(given)])
    parts = name_parts(identity.forename)
    if len(parts) > 1:
        forenames.append(parts[1])
    keys = {("dob-sex-sn", f"{iso}|{identity.sex}|{c}") for c in _unique(map(phonetic, surnames), 4)}
    keys |= {("dob-fn", f"{iso}|{c}") for c in _unique(map(phonetic, forenames), 4)}
    keys |= {("yob-fn-sn", f"{year}|{c}|{sn}") for c in _unique([fn, phonetic(identity.forename)], 2)}
    low, high = sorted((dob.day, dob.month))
    keys.add(("dm-sorted-sn", f"{low:02d}-{high:02d}|{year}|{sn}"))
    keys.add(("date-digits-fn-sn", f"{''.join(sorted(iso.replace('-', '')))}|{fn}|{sn}"))
    keys.add(("dm-fn-sn", f"{dob.month:02d}-{dob.day:02d}|{fn}|{sn}"))
    keys.add(("dob-initials", f"{iso}|{compact(identity.forename)[:1] + compact(identity.surname)[:1]}"))
    if nhs := normalise_nhs_number(identity.nhs_number):
        keys.add(("nhs", nhs))
    if postcode := postcode_for_matching(identity.postcode):
        keys.add(("pc-fn-yob", f"{postcode}|{fn}|{year}"))
    return frozenset(keys)


def _current_keys(identity: Identity) -> frozenset[tuple[str, str]]:
    return frozenset((key.kind.value, key.value) for key in match_keys(identity))


Person = tuple[str, Sequence[tuple[str, Identity]]]
"""A child: its id and each council's copy of its record (council code, identity)."""


def _opened_per_search(
    people: Sequence[Person],
    keys_of: Callable[[Identity], frozenset[tuple[str, str]]],
    opening: Callable[[set[str], int], bool],
    searches: Sequence[int],
) -> float:
    """Mean count of children, at councils that hold no copy of the searched child, whose shared keys
    would open each sampled search (siblings and twins at the holding council are not counted: that
    council holds the child)."""
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    owner: list[str] = []
    council: list[str] = []
    held_by: dict[str, set[str]] = {}
    flat: list[Identity] = []
    for person_id, copies in people:
        held_by[person_id] = {code for code, _ in copies}
        for code, copy in copies:
            for key in keys_of(copy):
                holders[key].append(len(owner))
            owner.append(person_id)
            council.append(code)
            flat.append(copy)
    opened = 0
    for index in searches:
        holding = held_by[owner[index]]
        shared: dict[int, set[str]] = defaultdict(set)
        counts: dict[int, int] = defaultdict(int)
        for key in keys_of(flat[index]):
            for other in holders[key]:
                if council[other] not in holding:
                    shared[other].add(key[0])
                    counts[other] += 1
        opened += sum(1 for other, kinds in shared.items() if opening(kinds, counts[other]))
    return opened / max(1, len(searches))


def people_of(population: Any) -> list[Person]:
    """Each synthetic child with every council's copy of its record, as an Identity (node/synth)."""
    from whoelse.node.matching import identity_of

    by_council = {code: {r.record_id: r for r in recs} for code, recs in population.records.items()}
    return [
        (
            person.person_id,
            [(c.council, identity_of(by_council[c.council][c.record_id])) for c in person.copies],
        )
        for person in population.people
        if person.copies
    ]


def exposure_at(
    councils: Sequence[str], children: int, seed: int, samples: int, noise: str = "realistic"
) -> dict[str, Any]:
    """near_holder_exposure on the population `whoelse bench match` builds for these options."""
    from whoelse.harness.local_federation import SYNTHETIC_TODAY
    from whoelse.harness.synth.generate import generate

    population = generate(
        list(councils),
        children_per_council=children,
        seed=seed,
        noise=noise,  # type: ignore[arg-type]
        today=SYNTHETIC_TODAY,
    )
    return {
        "exposure_children_per_council": children,
        **near_holder_exposure(people_of(population), samples, seed),
    }


def _interval(openings: int) -> tuple[float, float]:
    """An approximate 95% interval for a count of rare, independent openings (Poisson; exact at 0)."""
    if openings == 0:
        return 0.0, 3.69
    spread = 1.96 * math.sqrt(openings)
    return max(0.0, openings - spread), openings + spread


def near_holder_exposure(people: Sequence[Person], samples: int, seed: int) -> dict[str, Any]:
    """opened_by_non_holders_per_search at the bench population, per 100,000 children and at national
    scale, for the current design and the old one (two shared keys), over the same sampled searches; with
    the count of openings behind each figure and its 95% interval, since openings are rare."""
    records = sum(len(copies) for _, copies in people)
    rng = random.Random(seed)
    searches = rng.sample(range(records), min(samples, records))
    current = _opened_per_search(people, _current_keys, lambda kinds, _: opens(kinds), searches)
    legacy = _opened_per_search(people, _legacy_keys, lambda _, count: count >= 2, searches)

    def national(value: float) -> float:
        return min(NATIONAL_COUNCILS - 1, value * NATIONAL_CHILDREN / max(1, records))

    def scaled(value: float) -> dict[str, Any]:
        openings = round(value * len(searches))
        low, high = (national(n / max(1, len(searches))) for n in _interval(openings))
        return {
            "opened_by_non_holders_per_search": round(national(value), 3),
            "opened_by_non_holders_per_search_95": [round(low, 2), round(high, 2)],
            "openings_counted": openings,
            "opened_per_search_per_100k_children_held": round(value * 100_000 / max(1, records), 4),
            "opened_per_search_in_this_population": round(value, 4),
        }

    return {
        "exposure_searches": len(searches),
        "exposure_population": records,
        "exposure_national_children": NATIONAL_CHILDREN,
        **scaled(current),
        "old_design": scaled(legacy),
    }
