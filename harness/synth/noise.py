"""The realistic error model (``noise="realistic"``): how often each difference hits a child's second record,
where each rate comes from, and the draw of several differences on one record.

Real records of one child often differ in two or three ways at once (a forename typo and a wrong year digit
and a new postcode). Here each field is hit independently at its own rate, so differences combine the way
they do in real data, with two limits that keep the pair recognisably one child to a human reader: a field
takes at most two errors, and at most one of forename, surname and date of birth may end up far from the
truth (a placeholder or other forename, a new surname, or two errors in one field). The rates and their
sources are tabled in docs/synthetic-noise.md; the functions that make each change are in variations.py.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from whoelse.harness.synth.variations import (
    Difference,
    day_month_swap_is_invalid,
    digits_transposed,
    keyed_typo,
    nickname,
    ocr_confusion,
    phonetic_misspelling,
    placeholder_forename,
    surname_one_part,
    surname_parts_joined,
    surname_separator_changed,
    swap_day_month,
    wrong_day,
    wrong_month,
    year_digit_error,
)
from whoelse.node.records import Sex

Noise = Literal["today", "realistic"]
NOISE_LEVELS: tuple[Noise, ...] = ("today", "realistic")

D = Difference
T = TypeVar("T", str, dt.date)

# -- how often a field is wrong on a second record --------------------------------------------------------
# Sources: FEBRL = the FEBRL data set generator's default field settings (Christen, "Probabilistic data
# generation for deduplication and data linkage", IDEAL 2005; dsgen/generate.py, as carried by its Python 3
# port mayerantoine/duplicategenerator config.py): select_prob is the chance that a duplicate's field is
# modified. These are the figures the FEBRL benchmark sets were made with, the heavily corrupted benchmark
# issue #8 measures against. Published NHS figures are far lower for the date of birth (Hagger-Johnson et
# al. 2017, BMC Med Res Methodol 17:23: sex or date of birth disagreed or was missing on 0.11% of HES
# records linked to PDS) and far higher for the postcode (53%): this model is deliberately the harder case.
FORENAME_ERROR_RATE = 0.35  # FEBRL given_name select_prob
SURNAME_ERROR_RATE = 0.30  # FEBRL surname select_prob
DOB_ERROR_RATE = 0.20  # FEBRL date_of_birth select_prob
NAMES_SWAPPED_RATE = 0.05  # FEBRL field_swap_prob for (given_name, surname)
# FEBRL lets a field take more than one modification (max_modification_per_field, 2 in its example runs);
# how often it takes a second is an assumption.
SECOND_ERROR_RATE = 0.15
# A double-barrelled (or particle) surname is recorded some other way on half of second records: the
# assumption noise="today" already makes (generate.SURNAME_ONE_PART_SHARE).
MULTI_PART_SURNAME_VARIANT_RATE = 0.5
# Missing fields. Assumptions, each stated as such: the NHS number is missing from one second record in
# seven where the child has one (the Children's Wellbeing and Schools Act 2026 makes it the consistent
# identifier, but many council systems do not hold it yet); the postcode from one in twenty (on top of the
# moves, which with Hagger-Johnson et al.'s 53% postcode disagreement in HES are the bigger effect); sex is
# recorded as unknown on one in fifty; middle names are left out on one in four (many systems have no field).
NHS_NUMBER_MISSING_RATE = 0.15
POSTCODE_MISSING_RATE = 0.05
SEX_UNKNOWN_RATE = 0.02
MIDDLE_NAMES_MISSING_RATE = 0.25
# Assumption: a quarter of second records of a child under one still carry the name given before the family
# named the child ("Baby", "Girl"...: the NHS birth notification precedes registration by up to 42 days, and
# early-years records are not always updated). Not applied to twins, who are recorded as "Twin 1"/"Twin 2"
# at birth, which this model does not generate.
PLACEHOLDER_UNDER_ONE_RATE = 0.25
# Assumption: when a child's surname changes, the new record keeps the old one as a previous surname half the
# time.
OLD_SURNAME_KEPT_RATE = 0.5

# -- which error, given that a field is wrong (relative weights) ------------------------------------------
# Forename: FEBRL given_name misspell_prob 0.3 (a table of real misspellings and variants: here the
# nickname and known-as table), pho_prob 0.3, typing ins+del+sub+trans 0.6 (0.05+0.15+0.35+0.05). FEBRL's
# ocr_prob is 0.01; raised to 0.05 as an assumption because councils still scan paper referral forms. Known
# by a middle name: assumption.
FORENAME_ERROR_WEIGHTS: dict[Difference, float] = {
    D.FORENAME_TYPO: 0.6,
    D.FORENAME_PHONETIC: 0.3,
    D.NICKNAME: 0.3,
    D.FORENAME_OCR: 0.05,
    D.FORENAME_IS_MIDDLE_NAME: 0.05,
}
# Surname: FEBRL surname typing ins+del+sub+trans 0.59 (0.1+0.1+0.35+0.04), pho_prob 0.3; OCR as for
# forenames. A changed surname (a carer's new surname, step-family, adoption): assumption, chosen so that
# about 4% of second records carry one, twice the 2% of children the generator gives a previous surname.
SURNAME_ERROR_WEIGHTS: dict[Difference, float] = {
    D.SURNAME_TYPO: 0.59,
    D.SURNAME_PHONETIC: 0.3,
    D.SURNAME_OCR: 0.05,
    D.SURNAME_CHANGED: 0.15,
}
# A multi-part surname recorded another way. Assumption: one part is the commonest (a system with one
# surname field, a clerk who keeps the name the child uses), then a space for the hyphen, then run together.
MULTI_PART_SURNAME_WEIGHTS: dict[Difference, float] = {
    D.SURNAME_ONE_PART: 0.6,
    D.SURNAME_SEPARATOR_CHANGED: 0.25,
    D.SURNAME_PARTS_JOINED: 0.15,
}
# Date of birth: FEBRL date_of_birth sub_prob 0.5 (one digit replaced: split here between the day 0.2, the
# month 0.1 and the year 0.2, an assumption), trans_prob 0.3 (split between the day/month swap 0.2, which
# GeCo also models as its own corruptor, and two digits within a part 0.1, an assumption). FEBRL's
# val_swap_prob 0.05 (a different date altogether) and miss_prob 0.1 are left out: the first makes the pair
# unrecognisable, and a record must hold a date of birth. A swap is recorded as invalid when the day is
# above 12.
DOB_ERROR_WEIGHTS: dict[Difference, float] = {
    D.DOB_WRONG_DAY: 0.2,
    D.DOB_WRONG_MONTH: 0.1,
    D.DOB_YEAR_DIGIT: 0.2,
    D.DOB_DAY_MONTH_SWAPPED: 0.2,
    D.DOB_DIGITS_TRANSPOSED: 0.1,
}
# Changes that leave the field far from the truth: at most one field per record may be far.
FAR = frozenset({D.FORENAME_PLACEHOLDER, D.FORENAME_IS_MIDDLE_NAME, D.SURNAME_CHANGED})
CHILD_AGES = 18.0  # years: a wrong year keeps a child's record within child ages (else within 26, for care
ADULT_AGES = 26.0  # leavers kept with consent to 25)
_YEAR = 365.2425


@dataclass(frozen=True, slots=True)
class TrueIdentity:
    """What the child's first record says: the truth a second record departs from."""

    forename: str
    middle_names: str
    surname: str
    sex: Sex
    dob: dt.date
    nhs_number: str
    twin: bool


@dataclass(slots=True)
class NoisyIdentity:
    """A second record's identity fields, and every difference applied to them, in the order applied."""

    forename: str
    middle_names: str
    surname: str
    sex: Sex
    dob: dt.date
    nhs_number: str
    postcode_missing: bool = False
    old_surname_kept: bool = False
    differences: list[Difference] = field(default_factory=list)


# The changes that need nothing but the name and a random source.
_NAME_CHANGES: dict[Difference, Callable[[str, random.Random], str | None]] = {
    D.FORENAME_TYPO: keyed_typo,
    D.SURNAME_TYPO: keyed_typo,
    D.FORENAME_PHONETIC: phonetic_misspelling,
    D.SURNAME_PHONETIC: phonetic_misspelling,
    D.FORENAME_OCR: ocr_confusion,
    D.SURNAME_OCR: ocr_confusion,
    D.NICKNAME: nickname,
    D.SURNAME_ONE_PART: surname_one_part,
    D.SURNAME_SEPARATOR_CHANGED: lambda name, _rng: surname_separator_changed(name),
    D.SURNAME_PARTS_JOINED: lambda name, _rng: surname_parts_joined(name),
}


class _Draw:
    def __init__(
        self, true: TrueIdentity, today: dt.date, rng: random.Random, new_surname: Callable[[], str]
    ):
        self.true, self.today, self.rng, self.new_surname = true, today, rng, new_surname
        self.out = NoisyIdentity(
            true.forename, true.middle_names, true.surname, true.sex, true.dob, true.nhs_number
        )
        self.far: str | None = None  # the one field allowed to end far from the truth
        age = (today - true.dob).days / _YEAR
        self.earliest = today - dt.timedelta(
            days=int((CHILD_AGES if age < CHILD_AGES else ADULT_AGES) * _YEAR)
        )
        self.age = age

    def errors(
        self,
        name: str,
        value: T,
        weights: dict[Difference, float],
        change: Callable[[Difference, T], T | None],
    ) -> T:
        """One error on this field, or two; returns the new value. Kinds that do not apply are skipped."""
        second = self.rng.random() < SECOND_ERROR_RATE and self.far is None
        wanted = 2 if second else 1
        kinds, kind_weights = list(weights), list(weights.values())
        applied: list[Difference] = []
        current = value
        while len(applied) < wanted and kinds:
            kind = self.rng.choices(kinds, weights=kind_weights)[0]
            i = kinds.index(kind)
            del kinds[i], kind_weights[i]
            if kind in FAR and self.far not in (None, name):
                continue
            new = change(kind, current)
            if new is None:
                continue
            if kind is D.DOB_DAY_MONTH_SWAPPED and new == current:
                kind = D.DOB_DAY_MONTH_SWAPPED_INVALID
            current = new
            applied.append(kind)
            if kind in FAR or len(applied) == 2:
                self.far = name
            if kind in (D.DOB_DAY_MONTH_SWAPPED, D.DOB_DAY_MONTH_SWAPPED_INVALID):
                break  # a later digit error would make a different swap than the one recorded
        if current == value and D.DOB_DAY_MONTH_SWAPPED_INVALID not in applied:
            if self.far == name and applied:
                self.far = None
            return value  # two errors that cancelled out
        self.out.differences.extend(applied)
        return current

    def name_change(self, kind: Difference, name: str) -> str | None:
        if kind in _NAME_CHANGES:
            return _NAME_CHANGES[kind](name, self.rng)
        if kind is D.FORENAME_IS_MIDDLE_NAME and self.true.middle_names and name == self.true.forename:
            return self.true.middle_names.split(" ")[0]
        if kind is D.SURNAME_CHANGED:
            other = self.new_surname()
            return other if other != name else None
        return None

    def dob_change(self, kind: Difference, dob: dt.date) -> dt.date | None:
        earliest, today, rng = self.earliest, self.today, self.rng
        if kind is D.DOB_WRONG_DAY:
            return wrong_day(dob, earliest, today, rng)
        if kind is D.DOB_WRONG_MONTH:
            return wrong_month(dob, earliest, today, rng)
        if kind is D.DOB_YEAR_DIGIT:
            return year_digit_error(dob, earliest, today, rng)
        if kind is D.DOB_DIGITS_TRANSPOSED:
            return digits_transposed(dob, earliest, today, rng)
        if kind is D.DOB_DAY_MONTH_SWAPPED:
            # the date as written is invalid: keep the true date, the difference says how it was written
            return dob if day_month_swap_is_invalid(dob) else swap_day_month(dob, today)
        return None


def realistic_copy(
    true: TrueIdentity, today: dt.date, rng: random.Random, new_surname: Callable[[], str]
) -> NoisyIdentity:
    """Draw a second record's identity with the realistic error model; ``new_surname`` gives a surname for
    a child whose surname changed. Deterministic for a given ``rng`` state."""
    draw = _Draw(true, today, rng, new_surname)
    out = draw.out
    if rng.random() < NAMES_SWAPPED_RATE and true.forename != true.surname:
        out.forename, out.surname = true.surname, true.forename
        out.differences.append(D.NAMES_SWAPPED)
    else:
        if draw.age < 1 and not true.twin and rng.random() < PLACEHOLDER_UNDER_ONE_RATE:
            out.forename = placeholder_forename(true.sex, rng)
            out.differences.append(D.FORENAME_PLACEHOLDER)
            draw.far = "forename"
        elif rng.random() < FORENAME_ERROR_RATE:
            out.forename = draw.errors("forename", true.forename, FORENAME_ERROR_WEIGHTS, draw.name_change)
        multi_part = "-" in true.surname or " " in true.surname
        if multi_part and rng.random() < MULTI_PART_SURNAME_VARIANT_RATE:
            weights = MULTI_PART_SURNAME_WEIGHTS
        elif rng.random() < SURNAME_ERROR_RATE:
            weights = SURNAME_ERROR_WEIGHTS
        else:
            weights = {}
        if weights:
            out.surname = draw.errors("surname", true.surname, weights, draw.name_change)
            if D.SURNAME_CHANGED in out.differences:
                out.old_surname_kept = rng.random() < OLD_SURNAME_KEPT_RATE
    if rng.random() < DOB_ERROR_RATE:
        out.dob = draw.errors("dob", true.dob, DOB_ERROR_WEIGHTS, draw.dob_change)
    known_by_middle = D.FORENAME_IS_MIDDLE_NAME in out.differences
    if true.middle_names and rng.random() < MIDDLE_NAMES_MISSING_RATE and not known_by_middle:
        out.middle_names = ""
        out.differences.append(D.MIDDLE_NAMES_MISSING)
    if known_by_middle:
        # known by the middle name: the first forename moves into the middle names
        out.middle_names = " ".join([true.forename, *true.middle_names.split(" ")[1:]])
    if true.nhs_number and rng.random() < NHS_NUMBER_MISSING_RATE:
        out.nhs_number = ""
        out.differences.append(D.NHS_NUMBER_MISSING)
    if true.sex is not Sex.UNKNOWN and rng.random() < SEX_UNKNOWN_RATE:
        out.sex = Sex.UNKNOWN
        out.differences.append(D.SEX_UNKNOWN)
    if rng.random() < POSTCODE_MISSING_RATE:
        out.postcode_missing = True
        out.differences.append(D.POSTCODE_MISSING)
    return out
