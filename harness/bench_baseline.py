"""A plain, non-private Fellegi–Sunter linkage: the yardstick `whoelse bench match --dataset febrl…` prints
beside the federated search.

It sees every record in the clear, which no WhoElse party ever does, and uses the fields a WhoElse search
carries (forename, surname, date of birth as written, postcode). Steps, after Fellegi and Sunter (1969,
"A theory for record linkage", JASA 64) and the EM estimation of Winkler (1988) / Jaro (1989):

1. blocking: candidate pairs are the union of several passes (same date of birth; same surname Soundex, or
   the duplicate's forename Soundex, for swapped names; same forename's first three letters and birth year;
   same surname's first three letters and birth year; same postcode), so a true pair is rarely lost;
2. a comparison vector per pair, a few levels per field (LEVELS), "missing" when either side lacks it;
3. m and u for every level by EM (two classes, levels multinomial, fields conditionally independent,
   missing fields left out of both likelihoods), run until no parameter moves by more than 1e-9;
   (names are compared both ways round, keeping the closer: forename and surname are often swapped);
4. a one-to-one assignment in the direction the federated search runs: each duplicate gets at most one
   original, its best-scoring candidate, kept when the EM posterior match probability is at least 0.5 (no
   threshold tuned on the truth). Several duplicates may share an original, as in FEBRL 2 and 3.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import jellyfish
from rapidfuzz.distance import JaroWinkler

MISSING = -1
NAME_LEVELS = ("exact", "jaro-winkler ≥ 0.92", "jaro-winkler ≥ 0.8", "different")
DATE_LEVELS = ("exact", "day and month swapped", "one digit differs", "same year", "different")
POSTCODE_LEVELS = ("exact", "different")
LEVELS = {"forename": NAME_LEVELS, "surname": NAME_LEVELS, "date_of_birth": DATE_LEVELS,
          "postcode": POSTCODE_LEVELS}  # fmt: skip
POSTERIOR_THRESHOLD = 0.5
TOLERANCE = 1e-9
MAX_ITERATIONS = 2000
U_SAMPLES = 100_000


class Person(Protocol):
    """What the baseline reads from a record (whoelse.harness.bench_febrl.ChildCopy has these)."""

    @property
    def record_id(self) -> str: ...
    @property
    def entity(self) -> int: ...
    @property
    def forename(self) -> str: ...
    @property
    def surname(self) -> str: ...
    @property
    def written_date(self) -> str: ...
    @property
    def postcode(self) -> str: ...


# ---- blocking --------------------------------------------------------------------------------------------


# Each pass and the fields (indices into LEVELS) whose agreement it forces or favours among non-matches, so
# that m for those fields is not estimated from its pairs.
BLOCKED_FIELDS = {
    "dob": {2},
    "soundex": {0, 1},
    "forename3+year": {0, 2},
    "surname3+year": {1, 2},
    "postcode": {3},
}


def _soundex(name: str) -> str:
    letters = "".join(c for c in name.lower() if c.isascii() and c.isalpha())
    return str(jellyfish.soundex(letters)) if letters else ""


def _original_keys(r: Person) -> Iterator[tuple[str, ...]]:
    year = r.written_date[:4]
    forename, surname = r.forename.lower(), r.surname.lower()
    if r.written_date:
        yield ("dob", r.written_date)
    if surname:
        yield ("soundex", _soundex(surname))
    if forename and year:
        yield ("forename3+year", forename[:3], year)
    if surname and year:
        yield ("surname3+year", surname[:3], year)
    if r.postcode:
        yield ("postcode", r.postcode)


def _duplicate_keys(r: Person) -> Iterator[tuple[str, ...]]:
    yield from _original_keys(r)
    if r.forename:
        yield ("soundex", _soundex(r.forename.lower()))  # forename and surname swapped


def blocks(originals: Sequence[Person], duplicates: Sequence[Person]) -> dict[str, set[tuple[int, int]]]:
    """Each blocking pass's (duplicate index, original index) pairs: those sharing that pass's key."""
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, r in enumerate(originals):
        for key in set(_original_keys(r)):
            index[key].append(i)
    by_pass: dict[str, set[tuple[int, int]]] = {name: set() for name in BLOCKED_FIELDS}
    for d, r in enumerate(duplicates):
        for key in set(_duplicate_keys(r)):
            by_pass[key[0]].update((d, o) for o in index.get(key, ()))
    return by_pass


def candidate_pairs(by_pass: dict[str, set[tuple[int, int]]]) -> list[tuple[int, int]]:
    """The union of the passes, sorted."""
    return sorted(set().union(*by_pass.values()))


# ---- comparison ------------------------------------------------------------------------------------------


def _name_level(a: str, b: str) -> int:
    a, b = a.lower(), b.lower()
    if not a or not b:
        return MISSING
    if a == b:
        return 0
    similarity = JaroWinkler.similarity(a, b)
    return 1 if similarity >= 0.92 else 2 if similarity >= 0.8 else 3


def _date_level(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    if a == b:
        return 0
    parts_a, parts_b = a.split("-"), b.split("-")
    if len(parts_a) != 3 or len(parts_b) != 3:  # written some other way (census OCR): only "different"
        return 4
    (ya, ma, da), (yb, mb, db) = parts_a, parts_b
    if ya == yb and ma == db and da == mb:
        return 1
    digits_a, digits_b = ya + ma + da, yb + mb + db
    if len(digits_a) == len(digits_b) and sum(x != y for x, y in zip(digits_a, digits_b, strict=True)) == 1:
        return 2
    return 3 if ya == yb else 4


def _postcode_level(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    return 0 if a == b else 1


def _closeness(levels: tuple[int, int]) -> tuple[int, int]:
    present = [level for level in levels if level != MISSING]
    return (-len(present), sum(present))


def compare(a: Person, b: Person) -> tuple[int, ...]:
    """The comparison vector of two records: one level index per field of LEVELS, or MISSING. Names are
    compared both ways round (forename with forename, and forename with the other's surname), keeping the
    closer, because forename and surname are often entered in each other's place."""
    direct = (_name_level(a.forename, b.forename), _name_level(a.surname, b.surname))
    crossed = (_name_level(a.forename, b.surname), _name_level(a.surname, b.forename))
    names = min(direct, crossed, key=_closeness)
    return (
        *names,
        _date_level(a.written_date, b.written_date),
        _postcode_level(a.postcode, b.postcode),
    )


# ---- estimation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """Fellegi–Sunter parameters: the match proportion among candidate pairs and, per field, m and u for
    each level."""

    proportion: float
    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    iterations: int

    def weight(self, vector: tuple[int, ...]) -> float:
        """log(P(vector | match) / P(vector | non-match)); missing fields add nothing."""
        return sum(
            math.log(self.m[f][level] / self.u[f][level])
            for f, level in enumerate(vector)
            if level != MISSING
        )

    def posterior(self, vector: tuple[int, ...]) -> float:
        log_odds = math.log(self.proportion / (1 - self.proportion)) + self.weight(vector)
        return 1 / (1 + math.exp(-log_odds)) if log_odds > -700 else 0.0


SIZES = tuple(len(levels) for levels in LEVELS.values())


def _normalised(values: Sequence[float]) -> tuple[float, ...]:
    floor = [max(v, 1e-12) for v in values]
    total = sum(floor)
    return tuple(v / total for v in floor)


def u_by_sampling(
    originals: Sequence[Person], duplicates: Sequence[Person], samples: int = U_SAMPLES, seed: int = 1
) -> tuple[tuple[float, ...], ...]:
    """u for every level: level frequencies over random (duplicate, original) pairs, nearly all
    non-matches, with add-one smoothing. Deterministic for a seed."""
    rng = random.Random(seed)
    counts = [Counter[int]() for _ in SIZES]
    for _ in range(samples):
        for f, level in enumerate(compare(rng.choice(duplicates), rng.choice(originals))):
            if level != MISSING:
                counts[f][level] += 1
    return tuple(_normalised([counts[f][level] + 1 for level in range(n)]) for f, n in enumerate(SIZES))


def em(patterns: Counter[tuple[int, ...]], start: Model, free: set[int]) -> Model:
    """EM for two classes with multinomial levels and conditionally independent fields: re-estimates the
    match proportion and m for the `free` fields (others and u stay fixed), until no parameter moves by more
    than TOLERANCE. Fields outside `free` are left out of the likelihood, as missing fields are."""
    total = sum(patterns.values())
    model = start
    view = {v: tuple(level if f in free else MISSING for f, level in enumerate(v)) for v in patterns}
    for iteration in range(1, MAX_ITERATIONS + 1):
        m_sum = [[0.0] * n for n in SIZES]
        matched = 0.0
        for vector, count in patterns.items():
            g = model.posterior(view[vector]) * count
            matched += g
            for f, level in enumerate(vector):
                if f in free and level != MISSING:
                    m_sum[f][level] += g
        new = Model(
            min(1 - 1e-9, max(1e-9, matched / total)),
            tuple(_normalised(m_sum[f]) if f in free else model.m[f] for f in range(len(SIZES))),
            model.u,
            iteration,
        )
        change = max(
            abs(new.proportion - model.proportion),
            *(abs(a - b) for x, y in zip(new.m, model.m, strict=True) for a, b in zip(x, y, strict=True)),
        )
        model = new
        if change < TOLERANCE:
            break
    return model


def estimate(
    originals: Sequence[Person],
    duplicates: Sequence[Person],
    by_pass: dict[str, set[tuple[int, int]]],
    vectors: dict[tuple[int, int], tuple[int, ...]],
) -> Model:
    """u by random sampling; m for each field by EM within every blocking pass that does not block on it
    (averaged over those passes), because a pass makes its own fields agree among non-matches too, which
    breaks the conditional independence EM assumes; then the match proportion among all candidate pairs
    by EM with m and u fixed. Initial m falls away from exact agreement; initial proportion one half."""
    u = u_by_sampling(originals, duplicates)
    first = tuple(_normalised([0.5**level * (4 if level == 0 else 1) for level in range(n)]) for n in SIZES)
    estimates: list[list[tuple[float, ...]]] = [[] for _ in SIZES]
    iterations = 0
    for name, pairs in by_pass.items():
        free = set(range(len(SIZES))) - BLOCKED_FIELDS[name]
        if not pairs:
            continue
        fitted = em(Counter(vectors[p] for p in pairs), Model(0.5, first, u, 0), free)
        iterations = max(iterations, fitted.iterations)
        for f in free:
            estimates[f].append(fitted.m[f])
    m = tuple(
        _normalised([sum(col) / len(col) for col in zip(*rows, strict=True)]) if rows else first[f]
        for f, rows in enumerate(estimates)
    )
    start = Model(min(0.5, len(duplicates) / max(1, len(vectors))), m, u, 0)
    fitted = em(Counter(vectors.values()), start, set())
    return Model(fitted.proportion, m, u, max(iterations, fitted.iterations))


# ---- linkage ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Linkage:
    """The baseline's answer for one data set, and how well it did against the truth (entity ids)."""

    assigned: dict[str, str]  # duplicate record id → original record id
    model: Model
    candidate_pairs: int
    true_pairs_in_blocks: int
    precision: float
    recall: float
    seconds: float
    rule: str = f"each duplicate's best original, kept when its EM posterior ≥ {POSTERIOR_THRESHOLD}"


def link(originals: Sequence[Person], duplicates: Sequence[Person]) -> Linkage:
    """Link every duplicate to at most one original, and score the result against the entity ids."""
    started = time.perf_counter()
    by_pass = blocks(originals, duplicates)
    pairs = candidate_pairs(by_pass)
    vectors = {(d, o): compare(duplicates[d], originals[o]) for d, o in pairs}
    model = estimate(originals, duplicates, by_pass, vectors)
    best: dict[int, tuple[float, int, tuple[int, ...]]] = {}
    for (d, o), vector in vectors.items():
        weight = model.weight(vector)
        if d not in best or weight > best[d][0]:
            best[d] = (weight, o, vector)
    assigned = {
        duplicates[d].record_id: originals[o].record_id
        for d, (_, o, vector) in best.items()
        if model.posterior(vector) >= POSTERIOR_THRESHOLD
    }
    entity_of = {r.record_id: r.entity for r in (*originals, *duplicates)}
    correct = sum(entity_of[dup] == entity_of[org] for dup, org in assigned.items())
    in_blocks = sum(duplicates[d].entity == originals[o].entity for d, o in pairs)
    return Linkage(
        assigned=assigned,
        model=model,
        candidate_pairs=len(pairs),
        true_pairs_in_blocks=in_blocks,
        precision=correct / max(1, len(assigned)),
        recall=correct / max(1, len(duplicates)),
        seconds=time.perf_counter() - started,
    )
