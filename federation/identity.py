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
from rapidfuzz.distance import DamerauLevenshtein

from whoelse.federation.errors import InvalidInput

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
_WORD_BREAK = re.compile(r"[ -]")  # between the words of a normalised name

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
    words = [word for word in _WORD_BREAK.split(normalise_name(surname)) if word]
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
    source = resources.files("whoelse.federation").joinpath("data", "nicknames.csv")
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


@functools.cache
def _nicknames_by_initial() -> dict[str, tuple[str, ...]]:
    by_initial: dict[str, list[str]] = {}
    for name in _nickname_table():
        by_initial.setdefault(name[:1], []).append(name)
    return {initial: tuple(names) for initial, names in by_initial.items()}


@functools.lru_cache(maxsize=65536)
def canonical_forenames_near(forename: str) -> tuple[str, ...]:
    """Like `canonical_forenames`, but a name of four letters or more that is not in the table and is one
    keying slip from a name that is ("Kaitie" for Katie) stands for that name's canonical forms. For
    scoring only: match keys use the exact table, so that both councils derive the same keys."""
    name = compact(forename)
    table = _nickname_table()
    if not name or name in table or len(name) < 4:
        return canonical_forenames(forename)
    near = [
        other
        for other in _nicknames_by_initial().get(name[:1], ())
        if abs(len(other) - len(name)) <= 1 and DamerauLevenshtein.distance(name, other) == 1
    ]
    return tuple(dict.fromkeys(c for other in near for c in table[other])) or (name,)


def canonical_forename(forename: str) -> str:
    """The first canonical given name for a forename: "Katie" → "catherine", "Harry" → "henry"."""
    canonicals = canonical_forenames(forename)
    return canonicals[0] if canonicals else ""


@functools.lru_cache(maxsize=65536)  # postcodes recur across a council's records; InvalidInput is not cached
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


@functools.lru_cache(maxsize=1024)  # each number is checked several times on its way from import to tags
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


@functools.lru_cache(maxsize=1024)  # as valid_nhs_number (InvalidInput is not cached)
def normalise_nhs_number(nhs_number: str) -> str:
    """The ten digits of a valid NHS number ("943 476 5919" → "9434765919"); "" stays "".

    Raises InvalidInput for anything else; the message does not repeat the value.
    """
    if not nhs_number.strip():
        return ""
    if not valid_nhs_number(nhs_number):
        raise InvalidInput("nhs_number: not a valid NHS number (10 digits with a modulus-11 check digit)")
    return "".join(char for char in nhs_number if char.isdigit())


# Words that stand in for a name nobody recorded: newborns registered before they are named ("Baby",
# "Baby Girl", "Infant", "Twin 1"), a clerk's filler ("Unknown", "Not Known", "No Name", "NK", "TBC"), or a
# relationship or title written where the name should be ("Son", "Daughter", "Child", "Mrs"). Census and
# NHS data-quality reports list the same kinds of filler (e.g. the US Census Bureau's Person Validation
# System list of "fake" names, and the NHS practice of recording an unnamed newborn as "Baby" + surname).
# A name made only of these words is treated as missing: two babies both recorded as "Baby" share nothing.
_FILLER_WORDS = frozenset(
    {
        "anon",
        "anonymous",
        "declined",
        "dont",
        "dontknow",
        "given",
        "known",
        "n/a",
        "name",
        "nk",
        "no",
        "noname",
        "none",
        "not",
        "null",
        "of",
        "refused",
        "stated",
        "tba",
        "tbc",
        "test",
        "the",
        "unk",
        "unknown",
        "unnamed",
        "xx",
        "xxx",
        "in",
        "household",
        "house",
        "occupant",
        "resident",
        "respondent",
        "person",
        "ref",
        "1",
        "2",
        "3",
        "i",
        "ii",
    }
)
PLACEHOLDER_FORENAME_WORDS = _FILLER_WORDS | {
    "adult",
    "baby",
    "babyboy",
    "babygirl",
    "boy",
    "brother",
    "child",
    "dau",
    "daughter",
    "female",
    "girl",
    "grandchild",
    "granddaughter",
    "grandson",
    "husband",
    "infant",
    "kid",
    "lady",
    "male",
    "man",
    "master",
    "minor",
    "miss",
    "mr",
    "mrs",
    "ms",
    "mstr",
    "newborn",
    "oldest",
    "one",
    "parent",
    "sister",
    "son",
    "twin",
    "two",
    "unborn",
    "wife",
    "woman",
    "youngest",
}
"""Forename words that are not a name (a forename of only these words is missing)."""
PLACEHOLDER_SURNAME_WORDS = _FILLER_WORDS | {"lastname", "nolastname", "surname", "hh", "hhm"}
"""Surname words that are not a name; narrower than for forenames, since Son, Man and Na are surnames."""


def _only_words(name: str, words: frozenset[str]) -> bool:
    parts = [w for w in _WORD_BREAK.split(normalise_name(name)) if w]
    return not parts or all(part in words for part in parts)


@functools.lru_cache(maxsize=65536)
def is_placeholder_forename(name: str) -> bool:
    """True for a missing forename or one made only of placeholder words ("Baby", "Not Known", "Twin 2")."""
    return _only_words(name, PLACEHOLDER_FORENAME_WORDS)


@functools.lru_cache(maxsize=65536)
def is_placeholder_surname(name: str) -> bool:
    """True for a missing surname or one made only of filler ("Unknown", "NK", "Not Given")."""
    return _only_words(name, PLACEHOLDER_SURNAME_WORDS)


@functools.lru_cache(maxsize=65536)
def given_forename(name: str) -> str:
    """The forename for matching: "" when it is missing, a placeholder or only an initial ("J", "J.")."""
    return "" if is_placeholder_forename(name) or len(compact(name)) < 2 else name


@functools.lru_cache(maxsize=65536)
def given_surname(name: str) -> str:
    """The surname for matching: "" when it is missing, filler or only an initial."""
    return "" if is_placeholder_surname(name) or len(compact(name)) < 2 else name


def initial_of(name: str, placeholder: bool) -> str:
    """The first letter of a real name, or of a name given only as an initial; "" for a placeholder."""
    return "" if placeholder else compact(name)[:1]


# Letters that optical character recognition and hurried typing put in place of digits (2O08, 2o15-0l-12).
_DIGIT_LOOKALIKES = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "I": "1",
        "l": "1",
        "|": "1",
        "i": "1",
        "Z": "2",
        "z": "2",
        "S": "5",
        "s": "5",
        "B": "8",
        "G": "6",
        "g": "9",
        "q": "9",
    }
)
_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_UK_DATE = re.compile(r"^(?:(\d{1,2})/)?(\d{1,2})/(\d{4})$")


@dataclass(frozen=True, slots=True)
class BirthDate:
    """A date of birth, whole or in part: the year alone, the year and month, or the full date.

    `swapped` marks a date that was written with day and month the wrong way round, so that it was invalid
    as written (2010-29-11); it is kept as the date it can only have meant (29 November 2010).
    """

    year: int
    month: int = 0
    day: int = 0
    swapped: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9999:
            raise InvalidInput("date_of_birth: the year must have four digits")
        if not 0 <= self.month <= 12:
            raise InvalidInput("date_of_birth: the month must be 1-12")
        if self.day and not self.month:
            raise InvalidInput("date_of_birth: a day needs a month")
        if self.day:
            try:
                dt.date(self.year, self.month, self.day)
            except ValueError as exc:
                raise InvalidInput("date_of_birth: not a real date") from exc

    @property
    def date(self) -> dt.date | None:
        """The full date, or None when only the year (and month) are known."""
        return dt.date(self.year, self.month, self.day) if self.day else None

    @property
    def complete(self) -> bool:
        return bool(self.day)

    def isoformat(self) -> str:
        """YYYY-MM-DD, YYYY-MM or YYYY (what is known), the form a search carries on the wire."""
        if self.day:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        return f"{self.year:04d}-{self.month:02d}" if self.month else f"{self.year:04d}"

    @classmethod
    def of(cls, date: dt.date) -> BirthDate:
        return cls(date.year, date.month, date.day)

    @classmethod
    def parse(cls, text: str) -> BirthDate:
        """YYYY-MM-DD, YYYY-MM or YYYY (or DD/MM/YYYY, MM/YYYY). A full date that is invalid as written
        but valid with day and month swapped is read swapped and marked so; letters that look like digits
        (O for 0, l for 1) are read as those digits. InvalidInput otherwise; the message does not repeat
        the value."""
        value = text.strip()
        if not (_ISO_DATE.match(value) or _UK_DATE.match(value)):
            value = value.translate(_DIGIT_LOOKALIKES)
        iso, uk = _ISO_DATE.match(value), _UK_DATE.match(value)
        if iso:
            year, month, day = int(iso.group(1)), int(iso.group(2) or 0), int(iso.group(3) or 0)
        elif uk:
            year, month, day = int(uk.group(3)), int(uk.group(2)), int(uk.group(1) or 0)
        else:
            raise InvalidInput("date_of_birth: use YYYY-MM-DD, YYYY-MM or YYYY (e.g. 2015-03-07)")
        written = (iso.group(2), iso.group(3)) if iso else (uk.group(2), uk.group(1)) if uk else ()
        if any(part is not None and int(part) == 0 for part in written):
            raise InvalidInput("date_of_birth: not a real date")
        if day and not _real(year, month, day) and _real(year, day, month):
            return cls(year, day, month, swapped=True)
        return cls(year, month, day)


def _real(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Identity:
    """What a search asks for, or what a record holds, for matching. Constructed from plain fields.

    Values are kept as given (for display); matching normalises them. A search may leave details out (no
    forename, a year of birth only, sex "U", no postcode): federation.match_keys.check_searchable decides
    whether what is left is enough. `date_of_birth` may be a date, a (partial) BirthDate or None; a whole
    date is stored as a plain date (`born` gives every form as a BirthDate). Construction validates the
    shape and raises InvalidInput naming the field, never repeating a child's details.
    """

    forename: str
    surname: str
    date_of_birth: dt.date | BirthDate | None
    sex: str
    postcode: str = ""
    nhs_number: str = ""
    middle_names: str = ""
    known_as: str = ""
    previous_surnames: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        born = self.date_of_birth
        if isinstance(born, dt.datetime) or not isinstance(born, dt.date | BirthDate | None):
            raise InvalidInput("date_of_birth: must be a date")
        if isinstance(born, BirthDate) and born.date is not None:
            object.__setattr__(self, "date_of_birth", born.date)  # a whole date stays a plain date
        if self.sex not in SEXES:
            raise InvalidInput("sex: must be F, M or U")
        normalise_postcode(self.postcode)
        normalise_nhs_number(self.nhs_number)
        # Accept any iterable of names but store a tuple, so the value stays hashable and comparable.
        object.__setattr__(self, "previous_surnames", tuple(self.previous_surnames))

    @property
    def born(self) -> BirthDate | None:
        """The date of birth as far as it is known (None when not given)."""
        born = self.date_of_birth
        if isinstance(born, dt.date):
            return BirthDate.of(born)
        return born


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))
