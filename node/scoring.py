"""Scoring a candidate record against a search: a Fellegi–Sunter record-linkage model.

Match keys (federation/match_keys.py) only find candidates; this module decides which candidates are the
child searched for. It runs at the holding council, on the searched identity it decrypted and on each record
whose lookup tag the search hit.

The model. Each field of the pair is compared and falls into one *comparison level* (for the forename:
exact, a nickname of the same name, close, similar, different). For each level two probabilities are fixed:

- m: the probability of that level when the pair **is** the same child (how often records of one child
  disagree this way: typos, nicknames, moves, swapped day and month);
- u: the probability of that level when the pair is **not** the same child. Because only candidates that
  already share a match key are ever scored, u is taken among such candidates, where the non-matches are
  mostly siblings, twins and namesakes, not random children: that is why u for surname and postcode agreement
  is far higher than the population frequency of a surname or a postcode.

A level's weight is log2(m/u): positive when the level is more likely for the same child, negative when more
likely for different children, 0 when a field is missing on either side (m = u: it says nothing). Assuming
the fields independent given match status, the total weight is the log2 likelihood ratio that the pair is the
same child, and the contributions explain the decision field by field.

Weights (log2 m/u; "missing" is 0 everywhere, and a placeholder forename or surname such as "Baby" or
"Unknown" is missing):

    NHS number     equal +19.9, different -6.6
    forename       exact +7.8, nickname +5.1, close +4.6, similar -3.6, different -6.5
                   (one side only an initial: agrees +3.3, disagrees -1.6)
    surname        exact +5.4, part +3.9, close +3.6, similar +1.0, different -6.6
    date of birth  exact +9.7, swapped +7.6, digit +5.3, swapped and a digit +4.1, year wrong +3.3,
                   day or month wrong +2.3, same year -3.3, different -4.6
                   (a partial date: year and month agree +5.6, year agrees +3.0, differs -4.1)
    sex            agree +1.0, disagree -6.6
    postcode       exact +2.0 (+5.9 beside an agreeing forename and sex: a household; +8.2 beside the
                   same forename and surname), district +1.0, different -1.4

"Nickname" covers the nickname table, a name's short form (Ally for Allyson) and a typo of a nickname
(Kaitie for Katie); "close" a single typo or a spelling variant (Lucie, Lucy). A search whose forename and
surname fit only the other way round is scored swapped, less 4 bits.

Two choices keep twins apart. The postcode weighs little unless the forename agrees: among candidates the
one who shares the address is usually the twin, and a child searched for from another council has often
moved. A forename that is only "similar" (two letters or more apart) or "different" weighs heavily against,
because the forename is the one field in which twins differ; and a candidate whose forename cannot be
compared at all (missing, a placeholder, a lone initial) is **at most a possible match** unless the NHS
number agrees or the council holds no other candidate of that surname and date of birth scoring a possible
match (`MatchScore.twin_blind`, `keep_twins_apart`), since a twin held there would score the same. Of
candidates at one council who share a surname and either the date of birth (twins) or the postcode (brothers
and sisters, who in census-style data are sometimes given one name), only the best-scoring can be a match,
and on a tie none is.

Bands. `MATCH_THRESHOLD` (17) is set so that a search that differs from the record by any one realistic error
(a typo in a name, a nickname, one part of a double-barrelled or a previous surname, day and month swapped, a
wrong or transposed digit in the date, no NHS number) still scores a match even when the child has also moved
(the weakest such pair, a wrong date digit and a new postcode without NHS numbers, scores 18.1), while a twin
cannot: same surname, date of birth, sex and postcode with a "similar" forename scores 14.6, a different one
11.7, and a boy-girl pair with close names (Alexander, Alexandra) 15.2. Between `POSSIBLE_THRESHOLD` (12.5)
and `MATCH_THRESHOLD` a pair is a "possible" match, for a person to check; below, a "non-match".
tests/node/test_scoring.py and tests/assets/match_cases.json pin these promises.

How the values were set and checked: m and u are argued per level above (assumptions where no data
exists), then checked against data the project did not generate (FEBRL 1-3, census-style records from the
`pseudopeople` simulator) and the realistic synthetic England; `whoelse bench calibration` prints the share
of candidates that are truly the child by score (docs/benchmarks.md, with the plot) and the m and u that EM
estimates from unlabelled candidates beside these. EM on candidates is poorly conditioned here, because the
opening rule leaves almost only true pairs to score (1,545 of 1,614 candidates in its default run), so its
estimates are reported, not adopted.

Known limits: twins whose forenames are one letter apart (Lily and Lila) cannot be told from a typo by the
names alone; only a differing NHS number or sex keeps them apart. Two different children with the same
names and date of birth (namesakes) match unless their NHS numbers differ. A search without a forename
for a twin whose co-twin alone is held at a council matches the co-twin there (the council cannot know of
a twin it does not hold); so does a search for a child not held whose same-named brother is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from whoelse.federation.identity import (
    BirthDate,
    Identity,
    canonical_forenames_near,
    compact,
    given_forename,
    given_surname,
    initial_of,
    is_placeholder_forename,
    name_parts,
    normalise_nhs_number,
    postcode_for_matching,
)

Band = Literal["match", "possible", "non-match"]

CLOSE_JARO_WINKLER = 0.92
"""Names at least this similar, or one edit apart (a single typo), compare as "close"."""
SIMILAR_JARO_WINKLER = 0.80
"""Names at least this similar compare as "similar": too far for a typo, too near to call different."""


@dataclass(frozen=True, slots=True)
class Level:
    """One comparison level of a field, with its m and u probabilities (see the module docstring)."""

    name: str
    m: float
    u: float

    @property
    def weight(self) -> float:
        return math.log2(self.m / self.u)


MISSING = Level("missing", 1.0, 1.0)
"""A field absent on either side: no evidence either way."""

# NHS number, when both sides have one. Equal: mod-11 catches every single-digit error and transposition, so
# two different children share a valid number only by a data error (u ~ 1e-6). Different: the same child has
# two valid numbers rarely (adoption re-registers a child, or a sibling's number was keyed): m ~ 1%.
NHS_LEVELS = {
    "equal": Level("equal", 0.99, 1e-6),
    "different": Level("different", 0.01, 0.999999),
}

# Forename. Same child: mostly typed exactly; a nickname or a single typo a few per cent each (assumed);
# "similar" needs two slips in one name, and "different" a name change, so both are rare. Not the same child
# among candidates: siblings almost never share a forename or a nickname of it, so u is small except for
# "different", where almost every sibling and twin lands; "similar" is common enough among twins (Jack,
# Jake) to weigh against.
FORENAME_LEVELS = {
    "exact": Level("exact", 0.885, 0.004),
    "nickname": Level("nickname", 0.05, 0.0015),
    "close": Level("close", 0.05, 0.002),
    "similar": Level("similar", 0.005, 0.06),
    "different": Level("different", 0.01, 0.9325),
}

# Forename when one side gives only an initial ("J"): agreement is weak evidence, and disagreement weighs
# little because a lone letter is as often filler as the child's initial (census "fake name" lists are
# full of single letters).
INITIAL_LEVELS = {
    "initial": Level("initial", 0.7, 0.07),
    "initial-different": Level("initial-different", 0.3, 0.93),
}

# Surname. Among candidates, siblings and twins share a surname, so u for "exact" is high (0.02) compared
# with any one surname's frequency; double-barrelled names, previous surnames and typos share the rest of m.
# "Similar" (two slips, Tialor for Taylor) is rare for different children among candidates, because the
# children who share a forename or a date with the search and are not the child are siblings and twins,
# whose surname is the same, or strangers, whose surname is different: it weighs slightly for.
SURNAME_LEVELS = {
    "exact": Level("exact", 0.86, 0.02),
    "part": Level("part", 0.06, 0.004),
    "close": Level("close", 0.05, 0.004),
    "similar": Level("similar", 0.02, 0.01),
    "different": Level("different", 0.01, 0.962),
}

# Date of birth. Among candidates (which mostly share a name or a date), the same date is still uncommon
# for different children (twins, namesakes: u ~ 0.001); swapped day/month (US order) and single-digit
# slips are the usual keying errors. A different child born on exactly the swapped date is rarer still than
# one born on the same date, since twins never land there (u 0.0001).
DATE_OF_BIRTH_LEVELS = {
    "exact": Level("exact", 0.86, 0.001),
    "swapped": Level("swapped", 0.02, 0.0001),
    "digit": Level("digit", 0.04, 0.001),
    # Two slips at once: day and month swapped and one digit wrong (often the year).
    "swapped-digit": Level("swapped-digit", 0.005, 0.0003),
    "year-wrong": Level("year-wrong", 0.015, 0.0015),
    "part-wrong": Level("part-wrong", 0.015, 0.003),
    "same-year": Level("same-year", 0.005, 0.05),
    # Copied from a parent or sibling, or keyed from another document: census-style data shows a few per
    # cent of one child's records with an unrelated date, so this weighs less than a different name.
    "different": Level("different", 0.04, 0.9431),
}

# A partial date (a search that knows only the year, or the year and month) against a full one.
PARTIAL_DATE_LEVELS = {
    "year-month": Level("year-month", 0.95, 0.02),
    "year": Level("year", 0.95, 0.12),
    "different": Level("different", 0.05, 0.88),
}

# Sex: the same child's sex is recorded consistently; among candidates it splits about evenly.
SEX_LEVELS = {
    "agree": Level("agree", 0.995, 0.5),
    "disagree": Level("disagree", 0.005, 0.5),
}

# Postcode, when both sides have one. Children move, records lag, and a search from another council often
# has a newer or older address, so m for "exact" is only 0.6; among candidates u is high (0.15) because the
# non-match that shares an address is usually a twin.
POSTCODE_LEVELS = {
    "exact": Level("exact", 0.60, 0.15),
    "district": Level("district", 0.10, 0.05),
    "different": Level("different", 0.30, 0.80),
}

# The same address *and* the same forename (or a nickname, or a typo of it) and sex: the non-match that
# shares an address is a twin or sibling, and they do not share a forename, so among candidates that agree
# this way a shared postcode is far rarer for a different child (u 0.01, assumed) than in general. This is
# what lets a record whose date of birth was copied from a sibling, or is missing, still be found at home.
HOUSEHOLD_POSTCODE = Level("exact-same-forename", 0.60, 0.01)

# The same address and exactly the same forename and surname: a different child who agrees this way is a
# brother or sister given the same name, which parents almost never do (u 0.002, assumed; census-style data
# shows a few such households). This is what finds a child at home whose date of birth was recorded wrongly
# or copied from a parent, in either record.
HOUSEHOLD_SAME_NAME = Level("exact-same-name", 0.60, 0.002)

MATCH_THRESHOLD = 17.0
"""Total weight (log2 likelihood ratio) at or above which a candidate is the child searched for."""

POSSIBLE_THRESHOLD = 12.5
"""Total weight at or above which a candidate is a possible match, for a person to check."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """How one field compared and what it added to the total."""

    field: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class MatchScore:
    """The total weight of a candidate, the per-field contributions that explain it, and its band."""

    total: float
    contributions: tuple[Contribution, ...]
    outranked_by_twin: bool = False
    """Set by `keep_twins_apart`: a candidate at the same council scoring at least as well shares this one's
    surname and its date of birth or its address, so this one is probably the searched child's twin or
    brother or sister: at most a possible match."""
    no_twin_here: bool = False
    """Set by `keep_twins_apart`: no other candidate at the council shares this one's surname and date of
    birth and scores a possible match, so no twin held here could be the child instead."""

    @property
    def twin_blind(self) -> bool:
        """True when the forenames could not be compared (missing, a placeholder or a lone initial), no NHS
        number agrees, and the council may hold a twin who would score the same: such a candidate is at most
        a possible match. A council that holds no such twin (`no_twin_here`) can let it match."""
        levels = {c.field: c.level for c in self.contributions}
        blind = levels.get("forename") in ("missing", "initial", "initial-different")
        return blind and levels.get("nhs_number") != "equal" and not self.no_twin_here

    @property
    def band(self) -> Band:
        if self.total >= MATCH_THRESHOLD and not self.twin_blind and not self.outranked_by_twin:
            return "match"
        if self.total >= POSSIBLE_THRESHOLD:
            return "possible"
        return "non-match"


def keep_twins_apart(scored: Sequence[tuple[Identity, MatchScore]]) -> list[MatchScore]:
    """The scores of one council's candidates for one search (in the same order), each marked
    `outranked_by_twin` when another candidate with its surname and its date of birth or its postcode scores
    at least as well, and `no_twin_here` when no other candidate with its surname and date of birth scores
    a possible match.

    Twins whose forenames are a letter apart (Marie, Maria) both score a match when the search also has a
    slip elsewhere, and so do two brothers given one name when the search's date is neither's; only the
    better of the two can be the child, so the other is shown as possible (both, on a tie)."""
    out = []
    for identity, result in scored:
        surname, postcode = compact(identity.surname), postcode_for_matching(identity.postcode)
        twins, household = [], []
        for other_identity, other in scored:
            if other is result or compact(other_identity.surname) != surname:
                continue
            if other_identity.born == identity.born:
                twins.append(other)
            if other_identity.born == identity.born or (
                postcode and postcode_for_matching(other_identity.postcode) == postcode
            ):
                household.append(other)
        outranked = any(other.total >= result.total for other in household)
        alone = not any(other.total >= POSSIBLE_THRESHOLD for other in twins)
        out.append(dataclasses.replace(result, outranked_by_twin=outranked, no_twin_here=alone))
    return out


NAMES_SWAPPED_PENALTY = 4.0
"""Bits taken off when the search only fits with forename and surname swapped (about 1 record in 16 of
those that differ this way between councils: an assumption, argued in the module docstring)."""


def score(query: Identity, candidate: Identity) -> MatchScore:
    """Score a candidate record's identity against the searched identity.

    A search whose forename and surname fit the record only the other way round is scored swapped, less
    NAMES_SWAPPED_PENALTY, when that fits better."""
    straight = _score(query, candidate)
    if not (given_forename(query.forename) and given_surname(query.surname)):
        return straight
    swapped_query = dataclasses.replace(
        query, forename=query.surname, surname=query.forename, known_as="", previous_surnames=()
    )
    swapped = _score(swapped_query, candidate)
    if swapped.total - NAMES_SWAPPED_PENALTY > straight.total:
        penalty = Contribution("names", "swapped", -NAMES_SWAPPED_PENALTY)
        return MatchScore(swapped.total - NAMES_SWAPPED_PENALTY, (*swapped.contributions, penalty))
    return straight


def _score(query: Identity, candidate: Identity) -> MatchScore:
    forename = compare_forename(query, candidate)
    sex = compare_sex(query.sex, candidate.sex)
    postcode = compare_postcode(query.postcode, candidate.postcode)
    surname = compare_surname(query, candidate)
    if postcode is POSTCODE_LEVELS["exact"] and forename.weight > 0 and sex is not SEX_LEVELS["disagree"]:
        same_name = forename is FORENAME_LEVELS["exact"] and surname is SURNAME_LEVELS["exact"]
        postcode = HOUSEHOLD_SAME_NAME if same_name else HOUSEHOLD_POSTCODE
    levels = (
        ("nhs_number", compare_nhs_number(query.nhs_number, candidate.nhs_number)),
        ("forename", forename),
        ("surname", surname),
        ("date_of_birth", compare_date_of_birth(query.born, candidate.born)),
        ("sex", sex),
        ("postcode", postcode),
    )
    contributions = tuple(Contribution(field, level.name, level.weight) for field, level in levels)
    return MatchScore(sum(contribution.weight for contribution in contributions), contributions)


def compare_nhs_number(query: str, candidate: str) -> Level:
    """Equal, different, or missing when either side has none."""
    left, right = normalise_nhs_number(query), normalise_nhs_number(candidate)
    if not left or not right:
        return MISSING
    return NHS_LEVELS["equal" if left == right else "different"]


def compare_forename(query: Identity, candidate: Identity) -> Level:
    """The best level between any name the searcher used and any name the child is known by; missing when
    either side has no forename (or a placeholder), "initial" when one side gives only a matching initial."""
    asked = _names(query.forename, query.known_as)
    held = _names(candidate.forename, candidate.known_as)
    if not asked or not held:
        left = initial_of(query.forename, is_placeholder_forename(query.forename))
        right = initial_of(candidate.forename, is_placeholder_forename(candidate.forename))
        if left and right and (len(compact(query.forename)) == 1 or len(compact(candidate.forename)) == 1):
            return INITIAL_LEVELS["initial" if left == right else "initial-different"]
        return MISSING
    if asked & held:
        return FORENAME_LEVELS["exact"]
    asked_aliases, held_aliases = _canonical_names(query), _canonical_names(candidate)
    if (
        asked_aliases & held_aliases
        or asked_aliases & _other_names(candidate)
        or held_aliases & _other_names(query)
    ):
        return FORENAME_LEVELS["nickname"]
    if any(_short_form(left, right) for left in asked for right in held):
        return FORENAME_LEVELS["nickname"]  # Ally for Allyson, Sam for Samantha: not in the nickname table
    return FORENAME_LEVELS[_similarity_level(asked, held)]


def _short_form(left: str, right: str) -> bool:
    """One name is the other's first three or more letters (Ally / Allyson, Alex / Alexandria)."""
    short, long = sorted((left, right), key=len)
    return len(short) >= 3 and len(long) > len(short) and long.startswith(short)


def compare_surname(query: Identity, candidate: Identity) -> Level:
    """Exact, sharing a part or a previous surname, close, similar or different; missing when either side
    has no surname."""
    if not given_surname(query.surname) or not given_surname(candidate.surname):
        return MISSING
    if compact(query.surname) == compact(candidate.surname):
        return SURNAME_LEVELS["exact"]
    asked, held = _surname_parts(query), _surname_parts(candidate)
    if asked & held:
        return SURNAME_LEVELS["part"]
    return SURNAME_LEVELS[_similarity_level(asked, held)]


def compare_date_of_birth(query: BirthDate | dt.date | None, candidate: BirthDate | dt.date | None) -> Level:
    """Exact, day and month swapped, one digit wrong or two adjacent digits transposed, year or month and
    day wrong, same year or not. A partial date (year, or year and month) agrees or not on what it gives."""
    if query is None or candidate is None:
        return MISSING
    query = BirthDate.of(query) if isinstance(query, dt.date) else query
    candidate = BirthDate.of(candidate) if isinstance(candidate, dt.date) else candidate
    asked, held = query.date, candidate.date
    if asked is None or held is None:
        month = query.month and candidate.month
        if query.year != candidate.year or (month and query.month != candidate.month):
            return PARTIAL_DATE_LEVELS["different"]
        return PARTIAL_DATE_LEVELS["year-month" if month else "year"]
    if asked == held:
        return DATE_OF_BIRTH_LEVELS["exact"]
    if (asked.year, asked.month, asked.day) == (held.year, held.day, held.month):
        return DATE_OF_BIRTH_LEVELS["swapped"]
    if DamerauLevenshtein.distance(asked.strftime("%Y%m%d"), held.strftime("%Y%m%d")) == 1:
        return DATE_OF_BIRTH_LEVELS["digit"]
    unswapped = f"{asked.year:04d}{asked.day:02d}{asked.month:02d}"
    if asked.day <= 12 and DamerauLevenshtein.distance(unswapped, held.strftime("%Y%m%d")) == 1:
        return DATE_OF_BIRTH_LEVELS["swapped-digit"]
    if (asked.month, asked.day) == (held.month, held.day):
        return DATE_OF_BIRTH_LEVELS["year-wrong"]
    if asked.year == held.year and (asked.month == held.month or asked.day == held.day):
        return DATE_OF_BIRTH_LEVELS["part-wrong"]
    if asked.year == held.year:
        return DATE_OF_BIRTH_LEVELS["same-year"]
    return DATE_OF_BIRTH_LEVELS["different"]


def compare_sex(query: str, candidate: str) -> Level:
    """Agree, disagree, or missing when either side is U (unknown)."""
    if "U" in (query, candidate):
        return MISSING
    return SEX_LEVELS["agree" if query == candidate else "disagree"]


def compare_postcode(query: str, candidate: str) -> Level:
    """Exact, same postcode district (outward code), different, or missing on either side."""
    left, right = postcode_for_matching(query), postcode_for_matching(candidate)
    if not left or not right:
        return MISSING
    if left == right:
        return POSTCODE_LEVELS["exact"]
    if left.partition(" ")[0] == right.partition(" ")[0]:
        return POSTCODE_LEVELS["district"]
    return POSTCODE_LEVELS["different"]


def _names(*names: str) -> frozenset[str]:
    return frozenset(filter(None, (compact(given_forename(name)) for name in names)))


def _canonical_names(identity: Identity) -> frozenset[str]:
    """Canonical forms of the forename and the known-as name (Bill and Will both give william)."""
    return frozenset(
        canonical_forenames_near(given_forename(identity.forename))
        + canonical_forenames_near(given_forename(identity.known_as))
    )


def _other_names(identity: Identity) -> frozenset[str]:
    """Each part of a multi-part forename: Mary-Jane may be searched as Mary.

    Middle names are deliberately not used: siblings and twins are often given each other's forename, or a
    family name, as a middle name, so agreement there is not evidence of the same child. A child known by a
    middle name should have it recorded as the known-as name.
    """
    return frozenset(name_parts(identity.forename)[1:])


def _surname_parts(identity: Identity) -> frozenset[str]:
    parts = set(name_parts(given_surname(identity.surname)))
    for previous in identity.previous_surnames:
        parts.update(name_parts(given_surname(previous)))
    return frozenset(parts)


_DOUBLE_LETTERS = re.compile(r"(.)\1+")
_I_ENDING = re.compile(r"(ie|ey|ee|y)$")


def _spelling(name: str) -> str:
    """A name with the spelling choices that do not change it folded: doubled letters, ph for f, and an
    ending -ie, -ey, -ee or -y (Jack and Jake stay apart: twins are given names like these)."""
    return _I_ENDING.sub("i", _DOUBLE_LETTERS.sub(r"\1", name.replace("ph", "f")))


def _similarity_level(asked: frozenset[str], held: frozenset[str]) -> str:
    """close, similar or different: the best over every pair of names from the two sides. Spelling variants
    of one name (Lucie and Lucy, Tracie and Tracy, Elly and Ellie, Phillip and Filip) are close."""
    best = "different"
    for left in asked:
        for right in held:
            similarity = JaroWinkler.similarity(left, right)
            if similarity >= CLOSE_JARO_WINKLER or DamerauLevenshtein.distance(left, right) <= 1:
                return "close"
            if _spelling(left) == _spelling(right):
                return "close"
            if similarity >= SIMILAR_JARO_WINKLER:
                best = "similar"
    return best
