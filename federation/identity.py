"""The identity a search or a record presents for matching, and the normalisation both sides share.

Match keys are turned into private tokens through an OPRF, so the searching council (from a search) and
the holding council (from a record) MUST derive them identically. Everything here is therefore a pure,
deterministic function of an `Identity`: no locale, no clock, no configuration. Changing any of it changes
every token in the federation, so it is versioned with the match keys (see federation/match_keys.py).

Name normalisation (`normalise_name`): Unicode NFKD, combining marks dropped (Zoë → zoe, Nguyễn → nguyen), a
few letters NFKD leaves alone folded by hand (ø, ł, æ, ß, …), casefold, apostrophes and full stops removed
(O'Neill → oneill, St. John → st john), any other non-letter dropped, whitespace collapsed, and hyphens kept
as a part separator.

Phonetic code (`phonetic`): Metaphone, chosen over NYSIIS, Soundex and the Match Rating codex after measuring
them on UK given names and surnames. Metaphone codes sounds rather than letters, so it equates the spelling
variants that UK records are full of: C/K (Catherine, Kathryn), PH/V (Stephen, Steven), I/Y (Smith, Smyth),
silent or doubled letters (Phillip, Philip), Mac/Mc. Soundex keeps the first letter literally and so splits
Catherine from Kathryn and Geoffrey from Jeffrey; NYSIIS splits Smith from Smyth and Jayden from Jaden. On
forty-three common UK variant pairs Metaphone agreed on 32, Soundex 35 but with first-letter misses that
matter most, NYSIIS 29, Match Rating 16. On random single-letter typos Metaphone keeps the code about a third
of the time (NYSIIS a fifth), with fewer accidental collisions than Soundex. Variants no phonetic code
catches (Sean/Shaun, Niamh/Neve, Rhys/Reece) are listed in federation/data/nicknames.csv instead, and single
typos are caught structurally: every typo leaves at least one match key that does not use the mistyped name.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources

import jellyfish

from federation.errors import InvalidInput

SEXES = frozenset({"F", "M", "U"})

# Letters that NFKD does not decompose into a base letter plus combining marks.
_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ı": "i",
        "ß": "ss",
    }
)
_APOSTROPHES_AND_STOPS = frozenset("'’‘ʼ`´.")
_HYPHENS = frozenset("-‐‑‒–—")
_SPACES_AROUND_HYPHEN = re.compile(r"\s*-+\s*")
_WHITESPACE = re.compile(r"\s+")

# Surname particles: kept in the joined form (de la Cruz → delacruz) but not a part on their own, so that
# "de la Cruz" shares a part with "Cruz" and the joined form with "Delacruz".
PARTICLES = frozenset(
    {
        "a",
        "ab",
        "abu",
        "al",
        "ap",
        "bin",
        "bint",
        "d",
        "da",
        "dal",
        "de",
        "degli",
        "dei",
        "del",
        "della",
        "den",
        "der",
        "des",
        "di",
        "do",
        "dos",
        "du",
        "el",
        "ibn",
        "la",
        "le",
        "les",
        "lo",
        "mac",
        "mc",
        "ni",
        "nic",
        "o",
        "san",
        "santa",
        "st",
        "ste",
        "te",
        "ten",
        "ter",
        "ua",
        "van",
        "vande",
        "vander",
        "von",
        "y",
        "zu",
    }
)

# UK postcode shape (BS 7666): outward code = area (1-2 letters) + district (digit, then digit or letter),
# inward code = sector digit + unit (2 letters). GIR 0AA is the one historic exception.
_POSTCODE = re.compile(r"^(?:([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})|(GIR)(0AA))$")
# NHS pseudo-postcodes (ZZ99 3VZ "no fixed abode", ZZ99 3WZ "not known", ...) are shared by unrelated
# children, so agreement on one says nothing about identity.
PSEUDO_POSTCODE_AREA = "ZZ99"


@functools.lru_cache(maxsize=65536)  # pure, and names repeat heavily across a council's records
def normalise_name(name: str) -> str:
    """Fold a name for comparison: no accents, apostrophes or full stops, casefolded, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_FOLD))
    kept: list[str] = []
    for char in decomposed:
        if unicodedata.combining(char) or char in _APOSTROPHES_AND_STOPS:
            continue
        if char in _HYPHENS:
            kept.append("-")
        elif char.isalpha():
            kept.append(char)
        else:
            kept.append(" ")  # whitespace, digits and stray punctuation separate words
    folded = "".join(kept).translate(_FOLD).casefold()
    folded = _SPACES_AROUND_HYPHEN.sub("-", folded)
    return _WHITESPACE.sub(" ", folded).strip(" -")


def compact(name: str) -> str:
    """The normalised name with its part separators removed: "Smith-Jones" → "smithjones"."""
    return normalise_name(name).replace("-", "").replace(" ", "")


@functools.lru_cache(maxsize=65536)
def name_parts(surname: str) -> tuple[str, ...]:
    """The joined form of a (possibly multi-part) name first, then each meaningful part, without repeats.

    "Smith-Jones" → ("smithjones", "smith", "jones"); "de la Cruz" → ("delacruz", "cruz");
    "O'Neill" → ("oneill",). Particles (de, la, van, al, ...) are kept in the joined form only.
    """
    words = [word for word in re.split(r"[ -]", normalise_name(surname)) if word]
    if not words:
        return ()
    parts = [word for word in words if word not in PARTICLES] if len(words) > 1 else []
    return _unique(["".join(words), *parts])


@functools.lru_cache(maxsize=65536)
def phonetic(name: str) -> str:
    """Metaphone code of a name (see the module docstring for why Metaphone), never empty for a real name.

    Names in a script Metaphone does not know (it only codes ASCII letters) fall back to their compact
    normalised form, so they still match exactly.
    """
    letters = compact(name)
    if not letters:
        return ""
    if letters.isascii():
        code: str = jellyfish.metaphone(letters)
        if code:
            return code.upper()
    return letters.upper()


@functools.cache
def _nickname_table() -> dict[str, tuple[str, ...]]:
    """nickname or variant spelling → canonical given names, in file order."""
    table: dict[str, list[str]] = {}
    source = resources.files("federation").joinpath("data", "nicknames.csv")
    with source.open(encoding="utf-8") as handle:
        for row in csv.DictReader(line for line in handle if not line.startswith("#")):
            name, canonical = compact(row["name"]), compact(row["canonical"])
            if name and canonical and canonical not in table.setdefault(name, []):
                table[name].append(canonical)
    return {name: tuple(canonicals) for name, canonicals in table.items()}


@functools.lru_cache(maxsize=65536)
def canonical_forenames(forename: str) -> tuple[str, ...]:
    """Every canonical given name a forename may stand for: "Bill" → ("william",), "Alex" → three names.

    A name not in federation/data/nicknames.csv is its own canonical form ("Zoë" → ("zoe",)).
    """
    name = compact(forename)
    if not name:
        return ()
    return _nickname_table().get(name, (name,))


def canonical_forename(forename: str) -> str:
    """The first canonical given name for a forename: "Katie" → "catherine", "Harry" → "henry"."""
    canonicals = canonical_forenames(forename)
    return canonicals[0] if canonicals else ""


def normalise_postcode(postcode: str) -> str:
    """Upper-case a UK postcode with one space before the inward code ("ls62ab" → "LS6 2AB"); "" stays "".

    Raises InvalidInput when the postcode does not have a UK shape; the message does not repeat the value.
    """
    squeezed = "".join(postcode.split()).upper()
    if not squeezed:
        return ""
    shape = _POSTCODE.match(squeezed)
    if shape is None:
        raise InvalidInput("postcode: not a UK postcode (e.g. SW1A 1AA)")
    outward, inward = (shape.group(1), shape.group(2)) if shape.group(1) else (shape.group(3), shape.group(4))
    return f"{outward} {inward}"


def postcode_for_matching(postcode: str) -> str:
    """The normalised postcode, or "" when it is missing or an NHS pseudo-postcode that identifies nobody."""
    normalised = normalise_postcode(postcode)
    return "" if normalised.startswith(PSEUDO_POSTCODE_AREA + " ") else normalised


def outward_code(postcode: str) -> str:
    """The outward code (postcode district) of a postcode: "LS6 2AB" → "LS6"; "" for a missing postcode."""
    return normalise_postcode(postcode).partition(" ")[0]


def valid_nhs_number(nhs_number: str) -> bool:
    """True for ten digits (spaces or hyphens allowed) whose last is the modulus-11 check digit.

    Numbers of one repeated digit (0000000000, 1111111111) pass the check but are placeholders, so are
    refused: two children with the same placeholder would otherwise look like one child.
    """
    digits = "".join(char for char in nhs_number if char not in " -")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit() or len(set(digits)) == 1:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def normalise_nhs_number(nhs_number: str) -> str:
    """The ten digits of a valid NHS number ("943 476 5919" → "9434765919"); "" stays "".

    Raises InvalidInput for anything else; the message does not repeat the value.
    """
    if not nhs_number.strip():
        return ""
    if not valid_nhs_number(nhs_number):
        raise InvalidInput("nhs_number: not a valid NHS number (10 digits with a modulus-11 check digit)")
    return "".join(char for char in nhs_number if char.isdigit())


@dataclass(frozen=True)
class Identity:
    """What a search asks for, or what a record holds, for matching. Constructed from plain fields.

    Values are kept as given (for display); matching normalises them. Construction validates the shape
    and raises InvalidInput naming the field, never repeating a child's details.
    """

    forename: str
    surname: str
    date_of_birth: dt.date
    sex: str
    postcode: str = ""
    nhs_number: str = ""
    middle_names: str = ""
    known_as: str = ""
    previous_surnames: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not compact(self.forename):
            raise InvalidInput("forename: must contain at least one letter")
        if not compact(self.surname):
            raise InvalidInput("surname: must contain at least one letter")
        if isinstance(self.date_of_birth, dt.datetime) or not isinstance(self.date_of_birth, dt.date):
            raise InvalidInput("date_of_birth: must be a date")
        if self.sex not in SEXES:
            raise InvalidInput("sex: must be F, M or U")
        normalise_postcode(self.postcode)
        normalise_nhs_number(self.nhs_number)
        # Accept any iterable of names but store a tuple, so the value stays hashable and comparable.
        object.__setattr__(self, "previous_surnames", tuple(self.previous_surnames))


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))
