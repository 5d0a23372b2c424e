"""The realistic ways two councils' records of the same child differ, applied to a child's second copy.

Each function returns the changed value, or None when the change does not apply to this child (no known
short form, a day of month above 12, a single-part surname...), so the caller can pick another change.
How often each change happens is harness/synth/noise.py's business; this module only makes the change.
"""

from __future__ import annotations

import datetime as dt
import enum
import random
import re

from whoelse.node.records import Sex

# Full name -> common short forms. Looked up in both directions: a record may hold either.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will", "Billy", "Liam"),
    "Elizabeth": ("Liz", "Beth", "Lizzie", "Eliza", "Betty"),
    "Alexander": ("Alex", "Sandy", "Xander"),
    "Alexandra": ("Alex", "Lexi", "Sasha"),
    "Robert": ("Rob", "Bob", "Bobby", "Robbie"),
    "Richard": ("Rich", "Richie", "Rick"),
    "Thomas": ("Tom", "Tommy"),
    "James": ("Jim", "Jamie", "Jimmy"),
    "Jonathan": ("Jon", "Jonny"),
    "Christopher": ("Chris", "Kit"),
    "Michael": ("Mike", "Mikey", "Mick"),
    "Matthew": ("Matt", "Matty"),
    "Daniel": ("Dan", "Danny"),
    "Samuel": ("Sam", "Sammy"),
    "Benjamin": ("Ben", "Benny"),
    "Joseph": ("Joe", "Joey"),
    "Joshua": ("Josh",),
    "Nicholas": ("Nick", "Nicky"),
    "Anthony": ("Tony", "Ant"),
    "Edward": ("Ed", "Eddie", "Ted", "Ned"),
    "Henry": ("Harry", "Hal"),
    "Charles": ("Charlie", "Chas"),
    "Stephen": ("Steve", "Stevie"),
    "Steven": ("Steve", "Stevie"),
    "Andrew": ("Andy", "Drew"),
    "Peter": ("Pete",),
    "David": ("Dave", "Davey"),
    "Timothy": ("Tim", "Timmy"),
    "Frederick": ("Fred", "Freddie"),
    "Oliver": ("Ollie", "Olly"),
    "Katherine": ("Kate", "Katie", "Kathy"),
    "Catherine": ("Cath", "Kate", "Cathy"),
    "Margaret": ("Maggie", "Meg", "Peggy"),
    "Rebecca": ("Becky", "Becca"),
    "Jessica": ("Jess", "Jessie"),
    "Samantha": ("Sam", "Sammie"),
    "Victoria": ("Vicky", "Tori"),
    "Jennifer": ("Jen", "Jenny"),
    "Abigail": ("Abbie", "Abby"),
    "Charlotte": ("Lottie", "Charlie"),
    "Olivia": ("Liv", "Livvy"),
    "Isabella": ("Bella", "Izzy"),
    "Isabel": ("Izzy", "Bel"),
    "Eleanor": ("Ellie", "Nell"),
    "Amelia": ("Millie", "Amy"),
    "Deborah": ("Debbie", "Deb"),
    "Susan": ("Sue", "Suzy"),
    "Patricia": ("Pat", "Trish"),
    "Christine": ("Chris", "Chrissie"),
    "Jacqueline": ("Jackie",),
    "Natalie": ("Nat",),
    "Nicola": ("Nicky", "Nikki"),
    "Gemma": ("Gem",),
    "Joanne": ("Jo",),
    "Josephine": ("Jo", "Josie"),
    "Kimberley": ("Kim",),
    "Danielle": ("Dani",),
    "Mohammed": ("Mo",),
    "Muhammad": ("Mo",),
}
_SHORT_TO_FULL: dict[str, tuple[str, ...]] = {}
for _full, _shorts in NICKNAMES.items():
    for _short in _shorts:
        _SHORT_TO_FULL[_short] = (*_SHORT_TO_FULL.get(_short, ()), _full)


class Difference(enum.StrEnum):
    """What differs in a child's second record; written to ground_truth.jsonl for the matching benchmark."""

    FORENAME_TYPO = "forename_typo"
    SURNAME_TYPO = "surname_typo"
    NICKNAME = "nickname"
    DOB_DAY_MONTH_SWAPPED = "dob_day_month_swapped"
    SURNAME_ONE_PART = "surname_one_part"
    NHS_NUMBER_MISSING = "nhs_number_missing"
    MIDDLE_NAMES_MISSING = "middle_names_missing"
    # Only at noise="realistic" (harness/synth/noise.py):
    FORENAME_OCR = "forename_ocr"  # a scanned form misread: rn/m, cl/d, l/I...
    SURNAME_OCR = "surname_ocr"
    FORENAME_PHONETIC = "forename_phonetic"  # spelt as it sounds: ph/f, ck/k, ee/ea, y/i, doubled letters
    SURNAME_PHONETIC = "surname_phonetic"
    FORENAME_IS_MIDDLE_NAME = "forename_is_middle_name"  # the child is known by a middle name
    FORENAME_PLACEHOLDER = "forename_placeholder"  # a newborn recorded as "Baby", "Girl"...
    NAMES_SWAPPED = "names_swapped"  # forename in the surname field and surname in the forename field
    SURNAME_CHANGED = "surname_changed"  # a new surname (carer's, step-family's, adoptive)
    SURNAME_SEPARATOR_CHANGED = "surname_separator_changed"  # Smith-Jones as Smith Jones
    SURNAME_PARTS_JOINED = "surname_parts_joined"  # Smith-Jones as SmithJones
    DOB_YEAR_DIGIT = "dob_year_digit"  # one digit of the year wrong
    # Day and month swapped where the day is above 12, so the date as written is invalid (2010-29-11). A
    # ChildRecord needs a valid date, so the copy keeps the true date; a searcher-side test renders it
    # swapped.
    DOB_DAY_MONTH_SWAPPED_INVALID = "dob_day_month_swapped_invalid"
    DOB_WRONG_DAY = "dob_wrong_day"  # one digit of the day wrong
    DOB_WRONG_MONTH = "dob_wrong_month"  # one digit of the month wrong
    DOB_DIGITS_TRANSPOSED = "dob_digits_transposed"  # two digits of the day, month or year swapped: 13 as 31
    POSTCODE_MISSING = "postcode_missing"
    SEX_UNKNOWN = "sex_unknown"  # recorded as U
    MOVED = "moved"  # at the family's new address (noise="today" moves children without saying so)


# Forenames given to a newborn before the family names them (and left on records that are never updated).
# node/synth records each one as FORENAME_PLACEHOLDER; normalisation must treat them as a missing forename.
PLACEHOLDER_FORENAMES: tuple[str, ...] = (
    "Baby", "Baby Boy", "Baby Girl", "Boy", "Girl", "Infant", "Unknown", "Not Known", "No Name", "Unnamed",
)  # fmt: skip
_PLACEHOLDERS_BY_SEX: dict[Sex, tuple[str, ...]] = {
    Sex.FEMALE: tuple(p for p in PLACEHOLDER_FORENAMES if "Boy" not in p),
    Sex.MALE: tuple(p for p in PLACEHOLDER_FORENAMES if "Girl" not in p),
    Sex.UNKNOWN: tuple(p for p in PLACEHOLDER_FORENAMES if "Boy" not in p and "Girl" not in p),
}


def nickname(name: str, rng: random.Random) -> str | None:
    """A short form of a full name, or the full name behind a short form."""
    if name in NICKNAMES:
        return rng.choice(NICKNAMES[name])
    if name in _SHORT_TO_FULL:
        return rng.choice(_SHORT_TO_FULL[name])
    return None


def typo(name: str, rng: random.Random) -> str | None:
    """One keying slip: two adjacent letters transposed, a letter dropped, or a letter doubled."""
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    if len(letters) < 3:
        return None
    for _attempt in range(6):
        kind = rng.randrange(3)
        if kind == 0:
            # transpose two adjacent letters (not the first, which clerks rarely get wrong)
            pairs = [
                i
                for i in letters[1:]
                if i + 1 < len(name) and name[i + 1].isalpha() and name[i] != name[i + 1]
            ]
            if pairs:
                i = rng.choice(pairs)
                changed = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
                return changed
        elif kind == 1:
            i = rng.choice(letters[1:])
            changed = name[:i] + name[i + 1 :]
            if changed[-1].isalpha() and changed != name:
                return changed
        else:
            i = rng.choice(letters[1:])
            changed = name[: i + 1] + name[i] + name[i + 1 :]
            if changed.lower() != name.lower():
                return changed
    return None


def swap_day_month(dob: dt.date, today: dt.date) -> dt.date | None:
    """07/03 keyed as 03/07: only possible when both parts are 12 or less and they differ."""
    if dob.day > 12 or dob.day == dob.month:
        return None
    swapped = dob.replace(month=dob.day, day=dob.month)
    return swapped if swapped <= today else None


def surname_one_part(surname: str, rng: random.Random) -> str | None:
    """'Smith-Jones' recorded as 'Smith' or 'Jones' (only for double-barrelled surnames)."""
    if "-" not in surname:
        return None
    parts = [
        part for part in surname.split("-") if len(part) >= 3
    ]  # 'Al-Hassan' may become 'Hassan', not 'Al'
    return rng.choice(parts) if len(parts) > 1 else None


def placeholder_forename(sex: Sex, rng: random.Random) -> str:
    """A placeholder a maternity or early-years record holds instead of a name ("Girl" only for girls)."""
    return rng.choice(_PLACEHOLDERS_BY_SEX[sex])


# -- keyed typos ---------------------------------------------------------------------------------------------

# Single-error typing slips. Weights from Peterson (1986), the mean of his two studies as quoted in the
# FEBRL data generator's notes: delete 33%, substitute 33%, insert 20%, transpose 8%. FEBRL's default
# single_typo_prob puts 70% of substitutions on a neighbouring key (same row 0.40, same column 0.30), so
# substitutions split into 23 keyboard-adjacent and 10 arbitrary letters.
TYPO_KIND_WEIGHTS: dict[str, float] = {
    "delete": 33,
    "keyboard": 23,
    "substitute": 10,
    "insert": 20,
    "transpose": 8,
}
# Pollock and Zamora (1984): only 7.8% of misspellings get the first letter wrong.
FIRST_LETTER_SHARE = 0.078
_QWERTY = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_AT = {ch: (r, c) for r, row in enumerate(_QWERTY) for c, ch in enumerate(row)}


def _neighbours(ch: str) -> str:
    r, c = _KEY_AT[ch]
    near = [(r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1), (r + 1, c - 1), (r + 1, c)]
    return "".join(_QWERTY[rr][cc] for rr, cc in near if 0 <= rr < 3 and 0 <= cc < len(_QWERTY[rr]))


def _like(letter: str, case_of: str) -> str:
    return letter.upper() if case_of.isupper() else letter.lower()


def _position(letters: list[int], rng: random.Random) -> int:
    if len(letters) > 1 and rng.random() >= FIRST_LETTER_SHARE:
        return rng.choice(letters[1:])
    return letters[0]


def keyed_typo(name: str, rng: random.Random) -> str | None:
    """One typing slip in a name: a letter deleted, inserted, substituted (often by a neighbouring key), or
    two adjacent letters transposed. The result has Damerau-Levenshtein distance 1 from the name, ignoring
    case, and still reads as a name (letters only, capitalised as before)."""
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    if len(letters) < 3:
        return None
    kinds = list(TYPO_KIND_WEIGHTS)
    weights = list(TYPO_KIND_WEIGHTS.values())
    for _attempt in range(6):
        kind = rng.choices(kinds, weights=weights)[0]
        i = _position(letters, rng)
        ch = name[i]
        if kind == "delete":
            changed = name[:i] + name[i + 1 :]
            if i == 0 and ch.isupper():
                changed = changed[:1].upper() + changed[1:]
        elif kind == "transpose":
            if i + 1 >= len(name) or not name[i + 1].isalpha() or name[i].lower() == name[i + 1].lower():
                continue
            changed = name[:i] + _like(name[i + 1], ch) + _like(ch, name[i + 1]) + name[i + 2 :]
        elif kind == "insert":
            # an extra key struck next to the intended one, or the same key twice
            extra = ch.lower()
            if ch.lower() in _KEY_AT and rng.random() < 0.5:
                extra = rng.choice(_neighbours(ch.lower()))
            changed = name[: i + 1] + extra + name[i + 1 :]
        else:
            if kind == "keyboard" and ch.lower() in _KEY_AT:
                new = rng.choice(_neighbours(ch.lower()))
            else:
                new = rng.choice("abcdefghijklmnopqrstuvwxyz")
            changed = name[:i] + _like(new, ch) + name[i + 1 :]
        if changed.lower() != name.lower() and changed[-1].isalpha() and changed[0].isalpha():
            return changed
    return None


# -- OCR confusions ------------------------------------------------------------------------------------------

# Letter shapes a scanner (or a tired reader of handwriting) confuses, both ways. The digit look-alikes
# (l/1, I/1, O/0, S/5, B/8) are real OCR errors too, but a name with a digit in it is refused at import
# (node/validation.py), so that record would never reach matching: they are listed, not applied to names.
OCR_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("rn", "m"), ("cl", "d"), ("vv", "w"), ("li", "h"), ("ri", "n"), ("l", "I"), ("e", "c"), ("O", "Q"),
    ("u", "v"), ("nn", "m"),
)  # fmt: skip
OCR_DIGIT_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("l", "1"), ("I", "1"), ("O", "0"), ("S", "5"), ("B", "8"),
)  # fmt: skip


def ocr_confusion(name: str, rng: random.Random) -> str | None:
    """One look-alike misread in a name (case-sensitive: 'l' read as 'I', 'rn' as 'm', 'd' as 'cl')."""
    options = [
        (i, old, new)
        for a, b in OCR_CONFUSIONS
        for old, new in ((a, b), (b, a))
        for i in _find_all(name, old)
    ]
    if not options:
        return None
    i, old, new = rng.choice(options)
    return name[:i] + new + name[i + len(old) :]


def _find_all(text: str, part: str) -> list[int]:
    found, i = [], text.find(part)
    while i >= 0:
        found.append(i)
        i = text.find(part, i + 1)
    return found


# -- phonetic misspellings -----------------------------------------------------------------------------------

# Spellings that sound alike, as (pattern on the lower-cased name, replacement): the ways a clerk writes a
# name they heard. Context keeps each rule where it sounds the same (a hard c before a, o or u; a silent k
# only before n at the start).
PHONETIC_RULES: tuple[tuple[str, str], ...] = (
    (r"ph", "f"), (r"f", "ph"), (r"ph(?=en)", "v"), (r"v(?=en)", "ph"),
    (r"ck", "k"), (r"(?<=[aeiou])k", "ck"), (r"c(?=[aou])", "k"), (r"k(?=[aou])", "c"), (r"^chr", "kr"),
    (r"^kr", "chr"), (r"x", "ks"), (r"(?<!c)ks", "x"),
    (r"ee", "ea"), (r"ea", "ee"), (r"ei", "ie"), (r"ie", "ei"), (r"ai", "ay"), (r"ay", "ai"), (r"ou", "ow"),
    (r"ow", "ou"), (r"ae", "a"),
    (r"y", "i"), (r"i$", "y"), (r"ie$", "y"), (r"y$", "ie"), (r"ey$", "y"), (r"y$", "ey"), (r"ah$", "a"),
    (r"(?<=[^aeiou])a$", "ah"),
    (r"(?<=[aeiou])s(?=[aeiou])", "z"), (r"z", "s"),
    (r"th", "t"), (r"^t(?!h)", "th"),
    (r"(?<=[aeiou])gh(?=[aeiou])", "g"), (r"(?<=[aeiou])g(?=[aeiou])", "gh"),
    (r"^kn", "n"), (r"^wr", "r"), (r"mb$", "m"),
    (r"([a-z])\1", r"\1"), (r"(?<=[aeiouy])([bdfglmnprst])(?=[aeiouy])", r"\1\1"),
)  # fmt: skip
_PHONETIC = tuple((re.compile(pattern), replacement) for pattern, replacement in PHONETIC_RULES)


def phonetic_misspelling(name: str, rng: random.Random) -> str | None:
    """The name spelt another way it could be heard: ph/f, ck/k, ee/ea, y/i, a silent letter dropped or
    added (Thomas as Tomas, Sarah as Sara), a letter doubled or undoubled. The first letter keeps its case."""
    lower = name.lower()
    options: list[tuple[int, int, str]] = []
    for pattern, replacement in _PHONETIC:
        for m in pattern.finditer(lower):
            # leave inner capitals (McAllister, O'Neill) and what comes just before them alone
            if not any(ch.isupper() for ch in name[max(m.start(), 1) : m.end() + 1]):
                options.append((m.start(), m.end(), m.expand(replacement)))
    for _attempt in range(4):
        if not options:
            return None
        start, end, new = options.pop(rng.randrange(len(options)))
        changed = name[:start] + new + name[end:]
        if start == 0 and name[:1].isupper():
            changed = changed[:1].upper() + changed[1:]
        if changed.lower() != lower and len(changed) >= 2 and changed[0].isalpha():
            return changed
    return None


# -- surnames ------------------------------------------------------------------------------------------------


def surname_separator_changed(surname: str) -> str | None:
    """'Smith-Jones' as 'Smith Jones', or 'de la Cruz' as 'de-la-Cruz'."""
    if "-" in surname:
        return surname.replace("-", " ")
    if " " in surname:
        return surname.replace(" ", "-")
    return None


def surname_parts_joined(surname: str) -> str | None:
    """'Smith-Jones' as 'SmithJones', 'de la Cruz' as 'delaCruz': the separator a system would not take."""
    if "-" not in surname and " " not in surname:
        return None
    return surname.replace("-", "").replace(" ", "")


# -- dates of birth ------------------------------------------------------------------------------------------


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _pick_date(candidates: list[dt.date | None], dob: dt.date, earliest: dt.date, today: dt.date,
               rng: random.Random) -> dt.date | None:  # fmt: skip
    ok = [d for d in candidates if d is not None and d != dob and earliest <= d <= today]
    return rng.choice(ok) if ok else None


# Which digit of the year is wrong. Assumption (no published split found): the last digit four times in
# five, the tens digit otherwise; the century digits would give an age no child record could have.
YEAR_LAST_DIGIT_SHARE = 0.8


def year_digit_error(dob: dt.date, earliest: dt.date, today: dt.date, rng: random.Random) -> dt.date | None:
    """The same day and month in a year one digit away from the true year, between earliest and today."""
    digit = 3 if rng.random() < YEAR_LAST_DIGIT_SHARE else 2
    for position in (digit, 5 - digit):  # the other of digits 2 and 3 if this one has no plausible year
        text = f"{dob.year:04d}"
        years = [int(text[:position] + d + text[position + 1 :]) for d in "0123456789" if d != text[position]]
        found = _pick_date([_date(y, dob.month, dob.day) for y in years], dob, earliest, today, rng)
        if found is not None:
            return found
    return None


def _one_digit_away(value: int, highest: int) -> list[int]:
    text = f"{value:02d}"
    return [
        int(text[:i] + d + text[i + 1 :])
        for i in (0, 1)
        for d in "0123456789"
        if d != text[i] and 1 <= int(text[:i] + d + text[i + 1 :]) <= highest
    ]


def wrong_day(dob: dt.date, earliest: dt.date, today: dt.date, rng: random.Random) -> dt.date | None:
    """A day of month one digit away (13 keyed as 18 or 23); never the day/month swap."""
    days = [d for d in _one_digit_away(dob.day, 31) if (d, dob.month) != (dob.month, dob.day)]
    return _pick_date([_date(dob.year, dob.month, d) for d in days], dob, earliest, today, rng)


def wrong_month(dob: dt.date, earliest: dt.date, today: dt.date, rng: random.Random) -> dt.date | None:
    """A month one digit away (01 keyed as 07, 11 as 12); never the day/month swap."""
    months = [m for m in _one_digit_away(dob.month, 12) if m != dob.day]
    return _pick_date([_date(dob.year, m, dob.day) for m in months], dob, earliest, today, rng)


def digits_transposed(dob: dt.date, earliest: dt.date, today: dt.date, rng: random.Random) -> dt.date | None:
    """Two adjacent digits of the day, the month or the year's last two keyed the wrong way round
    (13 as 31, 01 as 10, 2012 as 2021); not the day/month swap, which is its own kind."""
    day, month, year = f"{dob.day:02d}", f"{dob.month:02d}", f"{dob.year:04d}"
    candidates = [
        _date(dob.year, dob.month, int(day[::-1])),
        _date(dob.year, int(month[::-1]), dob.day),
        _date(int(year[:2] + year[3] + year[2]), dob.month, dob.day),
    ]
    swapped = _date(dob.year, dob.day, dob.month) if dob.day <= 12 else None
    return _pick_date([d for d in candidates if d != swapped], dob, earliest, today, rng)


def day_month_swap_is_invalid(dob: dt.date) -> bool:
    """Whether writing this date day-for-month gives an impossible date (a day above 12 as a month)."""
    return dob.day > 12
