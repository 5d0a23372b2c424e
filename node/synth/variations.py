"""The realistic ways two councils' records of the same child differ, applied to a child's second copy.

Each function returns the changed value, or None when the change does not apply to this child (no known
short form, a day of month above 12, a single-part surname...), so the caller can pick another change.
"""

from __future__ import annotations

import datetime as dt
import enum
import random

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
