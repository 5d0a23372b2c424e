"""Match keys: the few normalised combinations of an identity that a search and a record must share to meet.

Each key later becomes a private match token through the directory's OPRF, and the holding council stores a
lookup tag per token. A search finds a record when they share at least one key, so the keys are designed so
that **any single realistic error leaves at least one key intact**, while the more specific keys are rarely
shared by siblings or unrelated children. Finding a candidate is not deciding a match: node/scoring.py
scores every candidate and keeps twins and siblings apart.

MUST: `match_keys` is a pure function of an `Identity`, computed identically by the searching and the holding
council. Any change to it, to federation/identity.py or to federation/data/nicknames.csv changes tokens for
every council at once, so it MUST come with a new `MATCH_KEY_VERSION` and a re-derivation of all tokens.

Keys. Codes are Metaphone codes (`federation.identity.phonetic`). "F" are the forename codes: the forename,
its canonical names, the known-as name and its canonical names, and the first part of a multi-part forename
(not middle names: siblings share them, and node/scoring.py gives them no weight). "S" are the surname codes:
the joined surname, each part, and each previous surname. "fn" and "sn" are the primary codes: of the
canonical forename and of the joined surname.

- nhs (NHS number): survives every name, date and address error.
- dob-sex-sn (dob, sex, one of S): any forename error or nickname; a new address; one part of a
  double-barrelled surname; a previous surname.
- dob-fn (dob, one of F): any surname error or change; sex not known.
- yob-fn-sn (birth year, fn and the forename's own code, sn): a wrong day or month; day and month swapped.
- dm-sorted-sn (day and month in sorted order, year, sn): a day/month swap together with a forename error.
- date-digits-fn-sn (the date's eight digits sorted, fn, sn): digits transposed anywhere in the date.
- dm-fn-sn (month and day, fn, sn): a wrong year.
- pc-fn-yob (postcode, fn, birth year): a surname change together with a wrong day or month.
- dob-initials (dob, first letters of forename and surname): typos in both names at once (Sadnra Woodwar).

At most `MAX_KEYS` (16) keys per identity: 1 + up to 4 of S + up to 4 of F + up to 2 + 5 singles.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from federation.identity import (
    Identity,
    canonical_forename,
    canonical_forenames,
    compact,
    name_parts,
    normalise_nhs_number,
    phonetic,
    postcode_for_matching,
)

MATCH_KEY_VERSION = "v1"
"""Bump when anything that changes key values changes; tokens of different versions never meet."""

DOMAIN = b"whoelse/" + MATCH_KEY_VERSION.encode("ascii") + b"/mk/"
"""Prefix of every encoded key, so a match key can never collide with any other hashed WhoElse value."""

MAX_SURNAME_CODES = 4
MAX_FORENAME_CODES = 4
MAX_KEYS = 16


class KeyKind(enum.StrEnum):
    """Which combination of fields a match key is made of (the module docstring gives each one's purpose)."""

    NHS_NUMBER = "nhs"
    DOB_SEX_SURNAME = "dob-sex-sn"
    DOB_FORENAME = "dob-fn"
    YEAR_NAMES = "yob-fn-sn"
    SORTED_DAY_MONTH_SURNAME = "dm-sorted-sn"
    DATE_DIGITS_NAMES = "date-digits-fn-sn"
    DAY_MONTH_NAMES = "dm-fn-sn"
    DOB_INITIALS = "dob-initials"
    POSTCODE_FORENAME_YEAR = "pc-fn-yob"


@dataclass(frozen=True, slots=True)
class MatchKey:
    """One match key: its kind and its value, fields joined by "|" (no normalised field contains "|")."""

    kind: KeyKind
    value: str

    def encode(self) -> bytes:
        """Canonical bytes for the OPRF: b"whoelse/v1/mk/<kind>\\x00<value as UTF-8>"."""
        return DOMAIN + self.kind.value.encode("ascii") + b"\x00" + self.value.encode("utf-8")


def surname_codes(identity: Identity) -> tuple[str, ...]:
    """Phonetic codes of the joined surname, its parts and each previous surname, most specific first."""
    names = [*name_parts(identity.surname)]
    for previous in identity.previous_surnames:
        names.extend(name_parts(previous))
    return _first_unique([phonetic(name) for name in names], MAX_SURNAME_CODES)


def forename_codes(identity: Identity) -> tuple[str, ...]:
    """Phonetic codes of every name the child may be searched by, most likely first."""
    names: list[str] = []
    for given in (identity.forename, identity.known_as):
        if compact(given):
            names.append(given)
            names.extend(canonical_forenames(given))
    parts = name_parts(identity.forename)
    if len(parts) > 1:  # Mary-Jane may be searched as Mary
        names.append(parts[1])
    return _first_unique([phonetic(name) for name in names], MAX_FORENAME_CODES)


def match_keys(identity: Identity) -> frozenset[MatchKey]:
    """The match keys of an identity (at most MAX_KEYS); identical for a search and a record of one child."""
    dob = identity.date_of_birth
    iso = dob.isoformat()
    year = f"{dob.year:04d}"
    sn = phonetic(identity.surname)
    fn = phonetic(canonical_forename(identity.forename))
    low, high = sorted((dob.day, dob.month))
    keys: list[MatchKey] = []

    nhs_number = normalise_nhs_number(identity.nhs_number)
    if nhs_number:
        keys.append(MatchKey(KeyKind.NHS_NUMBER, nhs_number))
    keys.extend(
        MatchKey(KeyKind.DOB_SEX_SURNAME, f"{iso}|{identity.sex}|{code}") for code in surname_codes(identity)
    )
    keys.extend(MatchKey(KeyKind.DOB_FORENAME, f"{iso}|{code}") for code in forename_codes(identity))
    # The canonical code links nicknames; the forename's own code tolerates typos in names that are nicknames.
    for code in _first_unique([fn, phonetic(identity.forename)], 2):
        keys.append(MatchKey(KeyKind.YEAR_NAMES, f"{year}|{code}|{sn}"))
    keys.append(MatchKey(KeyKind.SORTED_DAY_MONTH_SURNAME, f"{low:02d}-{high:02d}|{year}|{sn}"))
    digits = "".join(sorted(iso.replace("-", "")))
    keys.append(MatchKey(KeyKind.DATE_DIGITS_NAMES, f"{digits}|{fn}|{sn}"))
    keys.append(MatchKey(KeyKind.DAY_MONTH_NAMES, f"{dob.month:02d}-{dob.day:02d}|{fn}|{sn}"))
    initials = compact(identity.forename)[:1] + compact(identity.surname)[:1]
    keys.append(MatchKey(KeyKind.DOB_INITIALS, f"{iso}|{initials}"))
    postcode = postcode_for_matching(identity.postcode)
    if postcode:
        keys.append(MatchKey(KeyKind.POSTCODE_FORENAME_YEAR, f"{postcode}|{fn}|{year}"))
    return frozenset(keys)


def _first_unique(codes: list[str], limit: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(code for code in codes if code))[:limit]
