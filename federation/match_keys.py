"""Match keys: the normalised combinations of an identity that a search and a record must share to meet,
and the evidence a set of shared keys amounts to.

Each key later becomes a private match token through the directory's OPRF, and the holding council stores a
lookup tag per token (with the key's kind). Finding a candidate is not deciding a match: node/scoring.py
scores every candidate and keeps twins and siblings apart. Between the two sits the **opening rule**
(`opens`): a council decrypts the searched identity only when what its record shares with the search is
specific enough that a different child would rarely share it (P3). Shared keys are not counted: each key is
made of *atoms* (the year, the day, the forename's code, the postcode...), and the evidence of a set of keys
is the information in the union of their atoms, so two keys that both contain the date of birth and the
forename's first letter count that detail once.

Atom bits are -log2 of the probability that two different children agree on it (the collision probability
sum(p^2)), measured on the synthetic England of node/synth (100,000 children in 5 councils, seed 3): forename
code 8.0, surname code 8.3, an initial 4.0, a name's first two letters 6.1, the birth year 4.2, month 3.6, day
4.9, the day and month in either order 8.1, the date's sorted digits 8.9, sex 1.0 (0.25 beside a forename,
which mostly implies it). The postcode is given 14 bits: England's 12 million children live at roughly 1.4
million residential postcodes (a unit is about 15 households), so two children picked at random share one with
a probability near 2^-20; but the children who do share one are mostly brothers and sisters, at the same
council, so 14 bits is taken, between that and the 8.2 measured where each synthetic council uses only 150
postcodes. An NHS number identifies one child.

`OPENING_BITS` (24.1) is the evidence at which a council opens: at national scale (12 million children, about
2^23.5) a set of atoms worth b bits is shared by 2^(23.5-b) other children on average, so one combination at
the threshold opens at about 0.5 councils that do not hold the child. `whoelse bench match` measures the real
figure (`opened_by_non_holders_per_search`), which docs/threat-model.md P3 quotes.

Keys ("pair" is the forename and surname codes in sorted order, so a search with forename and surname
swapped still meets the record; F are the forename codes, S the surname codes):

- nhs: the NHS number.
- dob-sex-sn (dob, sex, one of S): any forename error, nickname or missing forename.
- dob-fn (dob, one of F): any surname error or change; sex unknown.
- dob-names (dob, pair): names swapped; the strongest key without an NHS number.
- yob-names (year, pair): a wrong day or month; a search that knows only the year.
- ym-names (year, month, pair): a search that knows the year and month.
- dm-sorted-sn (day and month unordered, year, sn): a day/month swap together with a forename error.
- date-digits-names (the date's digits sorted, pair): digits transposed anywhere in the date.
- dm-names (day and month unordered, pair): a wrong year, with or without day and month swapped.
- dob-fn-si (dob, fn, the surname's initial): a surname change or typo together with a move.
- dob-initials (dob, forename and surname initials): typos in both names at once.
- dob-sex-prefixes (dob, sex, each name's first two letters, sorted): typos in both names and a move.
- pc-fn-yob (postcode, fn, year): a surname change together with a wrong day or month.
- pc-names (postcode, pair): any error in the date, or no date of birth at all.
- pc-dob (postcode, dob): both names wrong or missing (a newborn recorded as "Baby").
- pc-sn-yob (postcode, sn, year): a forename error together with a wrong day or month.

A record or search whose sex is unknown ("U") has its dob-sex-sn and dob-sex-prefixes keys for both sexes,
so an unknown sex on either side never loses them (the sex atom then counts a bit it did not really carry).
Names are not quite independent of each other: forename and surname codes together carry 15.7 bits on the
synthetic population, not the 16.3 of their sum; the measured exposure, not this arithmetic, is the figure.

MUST: `match_keys` is a pure function of an `Identity`, computed identically by the searching and the holding
council. Any change to it, to federation/identity.py or to federation/data/nicknames.csv changes tokens for
every council at once, so it MUST come with a new `MATCH_KEY_VERSION` and a re-derivation of all tokens.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable
from typing import NamedTuple

from whoelse.federation.errors import InvalidInput
from whoelse.federation.identity import (
    Identity,
    canonical_forename,
    canonical_forenames,
    compact,
    given_forename,
    given_surname,
    initial_of,
    is_placeholder_forename,
    is_placeholder_surname,
    name_parts,
    normalise_nhs_number,
    phonetic,
    postcode_for_matching,
)

MATCH_KEY_VERSION = "v2"
"""Bump when anything that changes key values changes; tokens of different versions never meet."""

DOMAIN = b"whoelse/" + MATCH_KEY_VERSION.encode("ascii") + b"/mk/"
"""Prefix of every encoded key, so a match key can never collide with any other hashed WhoElse value."""

MAX_SURNAME_CODES = 4
MAX_FORENAME_CODES = 4
MAX_KEYS = 32


class KeyKind(enum.StrEnum):
    """Which combination of fields a match key is made of (the module docstring gives each one's purpose)."""

    NHS_NUMBER = "nhs"
    DOB_SEX_SURNAME = "dob-sex-sn"
    DOB_FORENAME = "dob-fn"
    DOB_NAMES = "dob-names"
    YEAR_NAMES = "yob-names"
    YEAR_MONTH_NAMES = "ym-names"
    SORTED_DAY_MONTH_SURNAME = "dm-sorted-sn"
    DATE_DIGITS_NAMES = "date-digits-names"
    DAY_MONTH_NAMES = "dm-names"
    DOB_FORENAME_SURNAME_INITIAL = "dob-fn-si"
    DOB_INITIALS = "dob-initials"
    POSTCODE_FORENAME_YEAR = "pc-fn-yob"
    POSTCODE_NAMES = "pc-names"
    POSTCODE_DOB = "pc-dob"
    POSTCODE_SURNAME_YEAR = "pc-sn-yob"
    DOB_SEX_PREFIXES = "dob-sex-prefixes"


class Atom(enum.StrEnum):
    """One detail a key is made of; its bits (ATOM_BITS) say how rarely two different children share it."""

    NHS = "nhs"
    YEAR = "year"
    MONTH = "month"
    DAY = "day"
    DAY_MONTH_SET = "day-month-set"
    DATE_DIGITS = "date-digits"
    SEX = "sex"
    FORENAME = "forename"
    SURNAME = "surname"
    FORENAME_INITIAL = "forename-initial"
    SURNAME_INITIAL = "surname-initial"
    FORENAME_PREFIX = "forename-prefix"
    SURNAME_PREFIX = "surname-prefix"
    POSTCODE = "postcode"


ATOM_BITS: dict[Atom, float] = {
    Atom.NHS: 40.0,
    Atom.YEAR: 4.2,
    Atom.MONTH: 3.6,
    Atom.DAY: 4.9,
    Atom.DAY_MONTH_SET: 8.1,
    Atom.DATE_DIGITS: 8.9,
    Atom.SEX: 1.0,
    Atom.FORENAME: 8.0,
    Atom.SURNAME: 8.3,
    Atom.FORENAME_INITIAL: 4.0,
    Atom.SURNAME_INITIAL: 4.1,
    Atom.FORENAME_PREFIX: 6.1,
    Atom.SURNAME_PREFIX: 6.2,
    Atom.POSTCODE: 14.0,
}
"""Bits of evidence per atom (the module docstring says how they were measured)."""

_DATE = frozenset({Atom.YEAR, Atom.MONTH, Atom.DAY})
_NAMES = frozenset({Atom.FORENAME, Atom.SURNAME})

KEY_ATOMS: dict[KeyKind, frozenset[Atom]] = {
    KeyKind.NHS_NUMBER: frozenset({Atom.NHS}),
    KeyKind.DOB_SEX_SURNAME: _DATE | {Atom.SEX, Atom.SURNAME},
    KeyKind.DOB_FORENAME: _DATE | {Atom.FORENAME},
    KeyKind.DOB_NAMES: _DATE | _NAMES,
    KeyKind.YEAR_NAMES: _NAMES | {Atom.YEAR},
    KeyKind.YEAR_MONTH_NAMES: _NAMES | {Atom.YEAR, Atom.MONTH},
    KeyKind.SORTED_DAY_MONTH_SURNAME: frozenset({Atom.YEAR, Atom.DAY_MONTH_SET, Atom.SURNAME}),
    KeyKind.DATE_DIGITS_NAMES: _NAMES | {Atom.DATE_DIGITS},
    KeyKind.DAY_MONTH_NAMES: _NAMES | {Atom.DAY_MONTH_SET},
    KeyKind.DOB_FORENAME_SURNAME_INITIAL: _DATE | {Atom.FORENAME, Atom.SURNAME_INITIAL},
    KeyKind.DOB_INITIALS: _DATE | {Atom.FORENAME_INITIAL, Atom.SURNAME_INITIAL},
    KeyKind.POSTCODE_FORENAME_YEAR: frozenset({Atom.POSTCODE, Atom.FORENAME, Atom.YEAR}),
    KeyKind.POSTCODE_NAMES: _NAMES | {Atom.POSTCODE},
    KeyKind.POSTCODE_DOB: _DATE | {Atom.POSTCODE},
    KeyKind.POSTCODE_SURNAME_YEAR: frozenset({Atom.POSTCODE, Atom.SURNAME, Atom.YEAR}),
    KeyKind.DOB_SEX_PREFIXES: _DATE | {Atom.SEX, Atom.FORENAME_PREFIX, Atom.SURNAME_PREFIX},
}
"""What each kind of key is made of: the opening rule counts the union of these, never the keys."""

OPENING_BITS = 24.1
"""Evidence (bits) a record's shared keys must reach before its council opens the searched identity."""


def evidence_bits(atoms: Iterable[Atom]) -> float:
    """The information in a set of atoms, each detail counted once (a code implies its initial; the full
    date implies its digits and its unordered day and month; a forename mostly implies the sex)."""
    present = set(atoms)
    if Atom.FORENAME in present or Atom.FORENAME_PREFIX in present:
        present.discard(Atom.FORENAME_INITIAL)
    if Atom.SURNAME in present or Atom.SURNAME_PREFIX in present:
        present.discard(Atom.SURNAME_INITIAL)
    if Atom.FORENAME in present:
        present.discard(Atom.FORENAME_PREFIX)
    if Atom.SURNAME in present:
        present.discard(Atom.SURNAME_PREFIX)
    if {Atom.MONTH, Atom.DAY} <= present:
        present.discard(Atom.DAY_MONTH_SET)
    if Atom.YEAR in present and ({Atom.MONTH, Atom.DAY} <= present or Atom.DAY_MONTH_SET in present):
        present.discard(Atom.DATE_DIGITS)
    bits = sum(ATOM_BITS[atom] for atom in present)
    if Atom.SEX in present and Atom.FORENAME in present:
        bits -= 0.75
    return bits


def kinds_evidence(kinds: Iterable[KeyKind | str]) -> float:
    """The evidence of a set of shared key kinds (unknown kind names count for nothing)."""
    atoms: set[Atom] = set()
    for kind in kinds:
        try:
            atoms |= KEY_ATOMS[KeyKind(kind)]
        except ValueError:
            continue
    return evidence_bits(atoms)


def opens(kinds: Iterable[KeyKind | str]) -> bool:
    """True when keys of these kinds, shared by one record, are enough to open the searched identity."""
    return kinds_evidence(kinds) >= OPENING_BITS


class MatchKey(NamedTuple):
    """One match key: its kind and its value, fields joined by "|" (no normalised field contains "|").

    A named tuple rather than a frozen dataclass: an import makes about 16 for every child and puts them
    in a set, and a tuple is several times cheaper to make and to hash."""

    kind: KeyKind
    value: str

    def encode(self) -> bytes:
        """Canonical bytes for the OPRF: b"whoelse/v2/mk/<kind>\\x00<value as UTF-8>"."""
        return _ENCODED_KIND[self.kind] + self.value.encode("utf-8")


_ENCODED_KIND = {kind: DOMAIN + kind.value.encode("ascii") + b"\x00" for kind in KeyKind}
"""The start of each kind's encoded keys, made once: a council's import encodes millions of keys."""


def surname_codes(identity: Identity) -> tuple[str, ...]:
    """Phonetic codes of the joined surname, its parts and each previous surname, most specific first."""
    return _surname_codes(identity.surname, identity.previous_surnames)


def forename_codes(identity: Identity) -> tuple[str, ...]:
    """Phonetic codes of every name the child may be searched by, most likely first."""
    return _forename_codes(identity.forename, identity.known_as)


# The name details of the keys are pure functions of the names alone, cached because names recur across a
# council's records (an import makes keys for every child; a search for one).
@functools.lru_cache(maxsize=65536)
def _surname_codes(surname: str, previous_surnames: tuple[str, ...]) -> tuple[str, ...]:
    names = [*name_parts(given_surname(surname))]
    for previous in previous_surnames:
        names.extend(name_parts(given_surname(previous)))
    return _first_unique([phonetic(name) for name in names], MAX_SURNAME_CODES)


@functools.lru_cache(maxsize=65536)
def _forename_codes(forename: str, known_as: str) -> tuple[str, ...]:
    names: list[str] = []
    for given in (given_forename(forename), given_forename(known_as)):
        if compact(given):
            names.append(given)
            names.extend(canonical_forenames(given))
    parts = name_parts(given_forename(forename))
    if len(parts) > 1:  # Mary-Jane may be searched as Mary
        names.append(parts[1])
    return _first_unique([phonetic(name) for name in names], MAX_FORENAME_CODES)


class _Forename(NamedTuple):
    code: str  # the phonetic code of its canonical form ("Katie" → catherine's), "" for no usable forename
    own_code: str  # the phonetic code of the name as given
    initial: str  # "" for a placeholder ("Baby")
    prefix: str  # its first two letters, folded


@functools.lru_cache(maxsize=65536)
def _forename(name: str) -> _Forename:
    """What a record's or a search's forename brings to its keys."""
    forename = given_forename(name)
    return _Forename(
        code=phonetic(canonical_forename(forename)) if forename else "",
        own_code=phonetic(forename) if forename else "",
        initial=initial_of(name, is_placeholder_forename(name)),
        prefix=compact(forename)[:2],
    )


class _Surname(NamedTuple):
    code: str  # "" for no usable surname
    initial: str  # "" for filler ("Unknown")
    prefix: str  # its first two letters, folded


@functools.lru_cache(maxsize=65536)
def _surname(name: str) -> _Surname:
    """What a record's or a search's surname brings to its keys."""
    surname = given_surname(name)
    return _Surname(
        code=phonetic(surname),
        initial=initial_of(name, is_placeholder_surname(name)),
        prefix=compact(surname)[:2],
    )


def match_keys(identity: Identity) -> frozenset[MatchKey]:
    """The match keys of an identity (at most MAX_KEYS); identical for a search and a record of one child.

    Keys need only the details they are made of: an identity without a forename, a full date of birth or a
    postcode simply has fewer keys (`check_searchable` says whether they are enough for a search)."""
    keys: list[MatchKey] = []

    def add(kind: KeyKind, *parts: str) -> None:
        keys.append(MatchKey(kind, "|".join(parts)))

    nhs_number = normalise_nhs_number(identity.nhs_number)
    if nhs_number:
        add(KeyKind.NHS_NUMBER, nhs_number)
    fn, own_fn, fi, fp = _forename(identity.forename)
    sn, si, sp = _surname(identity.surname)
    postcode = postcode_for_matching(identity.postcode)
    # The canonical code links nicknames; the forename's own code tolerates typos in names that are nicknames.
    pairs = [_pair(code, sn) for code in _first_unique([fn, own_fn], 2)] if sn else []
    born = identity.born
    year = f"{born.year:04d}" if born else ""
    if born and born.month:
        for pair in pairs:
            add(KeyKind.YEAR_MONTH_NAMES, year, f"{born.month:02d}", pair)
    for pair in pairs:
        if year:
            add(KeyKind.YEAR_NAMES, year, pair)
        if postcode:
            add(KeyKind.POSTCODE_NAMES, postcode, pair)
    if fn and year and postcode:
        add(KeyKind.POSTCODE_FORENAME_YEAR, postcode, fn, year)
    if sn and year and postcode:
        add(KeyKind.POSTCODE_SURNAME_YEAR, postcode, sn, year)
    dob = born.date if born else None
    if dob is not None:
        iso = dob.isoformat()
        sexes = ("F", "M") if identity.sex == "U" else (identity.sex,)
        for code in surname_codes(identity):
            for sex in sexes:
                add(KeyKind.DOB_SEX_SURNAME, iso, sex, code)
        for code in forename_codes(identity):
            add(KeyKind.DOB_FORENAME, iso, code)
        low, high = sorted((dob.day, dob.month))
        if pairs:
            add(KeyKind.DOB_NAMES, iso, pairs[0])
            add(KeyKind.DATE_DIGITS_NAMES, "".join(sorted(iso.replace("-", ""))), pairs[0])
            add(KeyKind.DAY_MONTH_NAMES, f"{low:02d}-{high:02d}", pairs[0])
        if sn:
            add(KeyKind.SORTED_DAY_MONTH_SURNAME, f"{low:02d}-{high:02d}", year, sn)
        if fn and si:
            add(KeyKind.DOB_FORENAME_SURNAME_INITIAL, iso, fn, si)
        if fi and si:
            add(KeyKind.DOB_INITIALS, iso, fi + si)  # in order: sorted, its space would halve (P4)
        if len(fp) == 2 and len(sp) == 2:
            for sex in ("F", "M") if identity.sex == "U" else (identity.sex,):
                add(KeyKind.DOB_SEX_PREFIXES, iso, sex, _pair(fp, sp))
        if postcode:
            add(KeyKind.POSTCODE_DOB, postcode, iso)
    return frozenset(keys)


def check_searchable(identity: Identity) -> None:
    """Refuse a search whose details could never open a record safely, naming what else would help.

    A search is accepted when the union of its keys' atoms reaches OPENING_BITS, so that a council holding
    the child can open it; otherwise no council could answer more than a referral."""
    atoms: set[Atom] = set()
    for key in match_keys(identity):
        atoms |= KEY_ATOMS[key.kind]
    if evidence_bits(atoms) >= OPENING_BITS:
        return
    born = identity.born
    helps = []
    if not given_forename(identity.forename):
        helps.append("the forename")
    if not given_surname(identity.surname):
        helps.append("the surname")
    if born is None or not born.complete:
        helps.append("the full date of birth")
    if not postcode_for_matching(identity.postcode):
        helps.append("a postcode (current or previous)")
    helps.append("the NHS number")
    raise InvalidInput(
        "search: not enough details to find a child safely; add " + ", ".join(helps[:-1]) + " or " + helps[-1]
    )


def _pair(first: str, second: str) -> str:
    """Two codes in sorted order, so forename and surname swapped give the same pair."""
    return "|".join(sorted((first, second)))


def _first_unique(codes: list[str], limit: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(code for code in codes if code))[:limit]
