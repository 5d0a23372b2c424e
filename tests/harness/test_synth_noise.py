"""The realistic error model of `whoelse synth --noise realistic`, and that --noise today has not moved."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.node.records_factory import born
from whoelse.federation.errors import InvalidInput
from whoelse.harness.synth import cli
from whoelse.harness.synth.councils import DEFAULT_COUNCILS
from whoelse.harness.synth.generate import Population, generate
from whoelse.harness.synth.noise import FAR, Noise
from whoelse.harness.synth.variations import (
    NICKNAMES,
    OCR_CONFUSIONS,
    PLACEHOLDER_FORENAMES,
    Difference,
    digits_transposed,
    keyed_typo,
    ocr_confusion,
    phonetic_misspelling,
    placeholder_forename,
    surname_parts_joined,
    surname_separator_changed,
    wrong_day,
    wrong_month,
    year_digit_error,
)
from whoelse.node.records import ChildRecord, Sex

D = Difference
TODAY = dt.date(2025, 6, 1)
EIGHTEEN_YEARS_AGO = dt.date(2007, 6, 1)
# generate(DEFAULT_COUNCILS, children_per_council=600, seed=7, today=TODAY) and
# generate(["E08000035", "E08000036"], children_per_council=3000, seed=11, today=TODAY), digested by
# _digest, as computed from the code before noise levels existed (commit 81cd64d). The ground truth
# files of a 50,000-record run were also byte-identical before and after.
TODAY_DIGESTS = {
    "five": "76f3a673555480f19fbb34971b79009a06a609b9dcad83b05f80e8bf7c0afd2e",
    "two": "b2ba27a9d59dd64ddea4c64ad19cba49cd67afc5348f74bd188374cb6540e777",
}
FORENAME_KINDS = {
    D.FORENAME_TYPO, D.FORENAME_OCR, D.FORENAME_PHONETIC, D.NICKNAME, D.FORENAME_IS_MIDDLE_NAME,
    D.FORENAME_PLACEHOLDER, D.NAMES_SWAPPED,
}  # fmt: skip
SURNAME_KINDS = {
    D.SURNAME_TYPO, D.SURNAME_OCR, D.SURNAME_PHONETIC, D.SURNAME_CHANGED, D.SURNAME_ONE_PART,
    D.SURNAME_SEPARATOR_CHANGED, D.SURNAME_PARTS_JOINED, D.NAMES_SWAPPED,
}  # fmt: skip
DOB_KINDS = {
    D.DOB_YEAR_DIGIT, D.DOB_WRONG_DAY, D.DOB_WRONG_MONTH, D.DOB_DIGITS_TRANSPOSED, D.DOB_DAY_MONTH_SWAPPED,
    D.DOB_DAY_MONTH_SWAPPED_INVALID,
}  # fmt: skip


def _digest(population: Population) -> str:
    h = hashlib.sha256()
    for code in sorted(population.records):
        for r in population.records[code]:
            identity = (r.forename, r.middle_names, r.surname, r.known_as, born(r).isoformat())
            others = (r.sex.value, r.nhs_number, r.address.postcode, r.previous_surnames)
            fields = (code, r.record_id, *identity, *others)
            h.update(repr(fields).encode())
    for p in population.people:
        copies = [(c.council, c.record_id, [d.value for d in c.differences]) for c in p.copies]
        h.update(repr((p.person_id, p.family_id, p.twin_of, copies)).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def realistic() -> Population:
    return generate(DEFAULT_COUNCILS, children_per_council=5000, seed=3, today=TODAY, noise="realistic")


def _pairs(population: Population) -> list[tuple[ChildRecord, ChildRecord, tuple[Difference, ...]]]:
    """(first record, second record, the second's differences) for every child known to two councils."""
    records = {(code, r.record_id): r for code, recs in population.records.items() for r in recs}
    pairs = []
    for person in population.people:
        if len(person.copies) == 2:
            first, second = person.copies
            a, b = records[(first.council, first.record_id)], records[(second.council, second.record_id)]
            pairs.append((a, b, second.differences))
    return pairs


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, ignoring case."""
    a, b = a.lower(), b.lower()
    rows = [list(range(len(b) + 1))] + [[i] + [0] * len(b) for i in range(1, len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


def _one_ocr_misread(a: str, b: str) -> bool:
    for x, y in OCR_CONFUSIONS:
        for old, new in ((x, y), (y, x)):
            i = a.find(old)
            while i >= 0:
                if a[:i] + new + a[i + len(old) :] == b:
                    return True
                i = a.find(old, i + 1)
    return False


def _digits_apart(a: int, b: int, width: int) -> int:
    return sum(x != y for x, y in zip(f"{a:0{width}d}", f"{b:0{width}d}", strict=True))


# -- noise="today" is what it was --------------------------------------------------------------------------


def test_todays_noise_gives_the_same_records_as_before_noise_levels_existed() -> None:
    five = generate(DEFAULT_COUNCILS, children_per_council=600, seed=7, today=TODAY)
    two = generate(["E08000035", "E08000036"], children_per_council=3000, seed=11, today=TODAY, noise="today")
    assert five.noise == "today"
    assert {"five": _digest(five), "two": _digest(two)} == TODAY_DIGESTS


@pytest.mark.parametrize("noise", ["today", "realistic"])
def test_the_same_seed_gives_the_same_population_at_either_level(noise: Noise) -> None:
    def run(seed: int) -> str:
        population = generate(
            DEFAULT_COUNCILS[:2],
            children_per_council=1500,
            seed=seed,
            today=TODAY,
            noise=noise,
        )
        return _digest(population)

    assert run(5) == run(5) != run(6)


def test_realistic_noise_changes_only_second_records() -> None:
    today = generate(DEFAULT_COUNCILS[:2], children_per_council=1500, seed=5, today=TODAY)
    realistic = generate(
        DEFAULT_COUNCILS[:2], children_per_council=1500, seed=5, today=TODAY, noise="realistic"
    )
    assert _digest(today) != _digest(realistic)
    firsts = {p.person_id: p.copies[0] for p in today.people}
    assert {p.person_id: p.copies[0] for p in realistic.people} == firsts


def test_an_unknown_noise_level_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match="noise must be one of today, realistic, not 'loud'"):
        generate(DEFAULT_COUNCILS[:1], children_per_council=10, today=TODAY, noise="loud")  # type: ignore[arg-type]


# -- several errors per record -----------------------------------------------------------------------------


def test_realistic_second_records_carry_about_two_differences_each(realistic: Population) -> None:
    counts = [len(differences) for _, _, differences in _pairs(realistic)]
    assert len(counts) > 900
    mean = sum(counts) / len(counts)
    assert 1.5 <= mean <= 3.0
    spread = Counter(min(n, 4) for n in counts)
    assert spread[2] + spread[3] + spread[4] > spread[0] + spread[1]  # several at once is the usual case
    assert spread[0] > 0  # and a few copies still agree with the first record exactly


def test_every_difference_kind_occurs_at_the_realistic_level(realistic: Population) -> None:
    seen = {d for _, _, differences in _pairs(realistic) for d in differences}
    assert seen == set(Difference)


def test_at_most_one_of_forename_surname_and_date_of_birth_ends_far_from_the_truth(
    realistic: Population,
) -> None:
    for _, _, differences in _pairs(realistic):
        far = 0
        for kinds in (FORENAME_KINDS, SURNAME_KINDS, DOB_KINDS):
            on_field = [d for d in differences if d in kinds and d is not D.NAMES_SWAPPED]
            far += len(on_field) >= 2 or bool(set(on_field) & FAR)
        assert far <= 1, differences
        assert len([d for d in differences if d in DOB_KINDS]) <= 2


def test_each_field_differs_exactly_when_its_difference_is_recorded(realistic: Population) -> None:
    for a, b, differences in _pairs(realistic):
        kinds = set(differences)
        assert (a.forename != b.forename) == bool(kinds & FORENAME_KINDS), (a.forename, b.forename, kinds)
        assert (a.surname != b.surname) == bool(kinds & SURNAME_KINDS), (a.surname, b.surname, kinds)
        assert (a.date_of_birth != b.date_of_birth) == bool(
            kinds & DOB_KINDS - {D.DOB_DAY_MONTH_SWAPPED_INVALID}
        )
        assert (a.nhs_number != b.nhs_number) == (D.NHS_NUMBER_MISSING in kinds)
        assert (a.sex != b.sex) == (D.SEX_UNKNOWN in kinds)
        assert (a.middle_names != b.middle_names) == bool(
            kinds & {D.MIDDLE_NAMES_MISSING, D.FORENAME_IS_MIDDLE_NAME}
        )
        assert (b.address.postcode == "") == (D.POSTCODE_MISSING in kinds)
        if D.MOVED in kinds:
            assert b.address != a.address
        elif D.POSTCODE_MISSING not in kinds:
            assert b.address == a.address


def _alone(kinds: tuple[Difference, ...], kind: Difference, field: set[Difference]) -> bool:
    return kind in kinds and [d for d in kinds if d in field] == [kind]


def test_each_name_difference_is_the_change_it_names(realistic: Population) -> None:
    checked: Counter[Difference] = Counter()
    kept_old_surname = dropped_old_surname = 0
    for a, b, kinds in _pairs(realistic):
        for kind, field in ((D.FORENAME_TYPO, "forename"), (D.SURNAME_TYPO, "surname")):
            if _alone(kinds, kind, FORENAME_KINDS if field == "forename" else SURNAME_KINDS):
                assert _edit_distance(getattr(a, field), getattr(b, field)) == 1
                checked[kind] += 1
        for kind, field in ((D.FORENAME_OCR, "forename"), (D.SURNAME_OCR, "surname")):
            if _alone(kinds, kind, FORENAME_KINDS if field == "forename" else SURNAME_KINDS):
                assert _one_ocr_misread(getattr(a, field), getattr(b, field)), (a, b)
                checked[kind] += 1
        for kind, field in ((D.FORENAME_PHONETIC, "forename"), (D.SURNAME_PHONETIC, "surname")):
            if _alone(kinds, kind, FORENAME_KINDS if field == "forename" else SURNAME_KINDS):
                assert 1 <= _edit_distance(getattr(a, field), getattr(b, field)) <= 2
                checked[kind] += 1
        if _alone(kinds, D.NICKNAME, FORENAME_KINDS):
            assert b.forename in NICKNAMES.get(a.forename, ()) or a.forename in NICKNAMES.get(b.forename, ())
            checked[D.NICKNAME] += 1
        if _alone(kinds, D.FORENAME_IS_MIDDLE_NAME, FORENAME_KINDS):
            assert b.forename == a.middle_names.split(" ")[0]
            assert b.middle_names.split(" ")[0] == a.forename
            checked[D.FORENAME_IS_MIDDLE_NAME] += 1
        if D.FORENAME_PLACEHOLDER in kinds:
            assert b.forename in PLACEHOLDER_FORENAMES
            assert (TODAY - born(a)).days < 366
            wrong = {Sex.MALE: "Girl", Sex.FEMALE: "Boy"}.get(a.sex)
            assert wrong is None or wrong not in b.forename
            checked[D.FORENAME_PLACEHOLDER] += 1
        if D.NAMES_SWAPPED in kinds:
            assert (b.forename, b.surname) == (a.surname, a.forename)
            checked[D.NAMES_SWAPPED] += 1
        if _alone(kinds, D.SURNAME_CHANGED, SURNAME_KINDS):
            assert _edit_distance(a.surname, b.surname) >= 1
            kept_old_surname += a.surname in b.previous_surnames
            dropped_old_surname += a.surname not in b.previous_surnames
            checked[D.SURNAME_CHANGED] += 1
        if _alone(kinds, D.SURNAME_ONE_PART, SURNAME_KINDS):
            assert b.surname in a.surname.split("-")
            checked[D.SURNAME_ONE_PART] += 1
        if _alone(kinds, D.SURNAME_SEPARATOR_CHANGED, SURNAME_KINDS):
            assert b.surname in {a.surname.replace("-", " "), a.surname.replace(" ", "-")}
            checked[D.SURNAME_SEPARATOR_CHANGED] += 1
        if _alone(kinds, D.SURNAME_PARTS_JOINED, SURNAME_KINDS):
            assert b.surname == a.surname.replace("-", "").replace(" ", "")
            checked[D.SURNAME_PARTS_JOINED] += 1
    assert set(checked) == FORENAME_KINDS | SURNAME_KINDS
    assert (
        kept_old_surname and dropped_old_surname
    )  # the old surname is kept as a previous one only sometimes


def test_each_date_of_birth_difference_is_the_change_it_names(realistic: Population) -> None:
    checked: Counter[Difference] = Counter()
    for a, b, kinds in _pairs(realistic):
        x, y = born(a), born(b)
        if D.DOB_DAY_MONTH_SWAPPED_INVALID in kinds:
            assert y.day > 12  # written day-for-month this would be month 13 or more
            if _alone(kinds, D.DOB_DAY_MONTH_SWAPPED_INVALID, DOB_KINDS):
                assert y == x  # the record keeps the true date; the difference says how it was written
            checked[D.DOB_DAY_MONTH_SWAPPED_INVALID] += 1
        if _alone(kinds, D.DOB_DAY_MONTH_SWAPPED, DOB_KINDS):
            assert (y.year, y.month, y.day) == (x.year, x.day, x.month)
            checked[D.DOB_DAY_MONTH_SWAPPED] += 1
        if _alone(kinds, D.DOB_YEAR_DIGIT, DOB_KINDS):
            assert (y.month, y.day) == (x.month, x.day)
            assert _digits_apart(x.year, y.year, 4) == 1  # exactly one digit of the year is wrong
            assert y <= TODAY and (x < EIGHTEEN_YEARS_AGO or y > EIGHTEEN_YEARS_AGO)  # still a child's age
            checked[D.DOB_YEAR_DIGIT] += 1
        if _alone(kinds, D.DOB_WRONG_DAY, DOB_KINDS):
            assert (y.year, y.month) == (x.year, x.month) and _digits_apart(x.day, y.day, 2) == 1
            checked[D.DOB_WRONG_DAY] += 1
        if _alone(kinds, D.DOB_WRONG_MONTH, DOB_KINDS):
            assert (y.year, y.day) == (x.year, x.day) and _digits_apart(x.month, y.month, 2) == 1
            checked[D.DOB_WRONG_MONTH] += 1
        if _alone(kinds, D.DOB_DIGITS_TRANSPOSED, DOB_KINDS):
            day, month, year = f"{x.day:02d}", f"{x.month:02d}", f"{x.year}"
            assert f"{y.day:02d}{y.month:02d}{y.year}" in {
                day[::-1] + month + year,
                day + month[::-1] + year,
                day + month + year[:2] + year[:1:-1],
            }
            checked[D.DOB_DIGITS_TRANSPOSED] += 1
    assert set(checked) == DOB_KINDS


def test_siblings_and_twins_are_still_there_and_move_together(realistic: Population) -> None:
    families: dict[str, list[str]] = {}
    for person in realistic.people:
        families.setdefault(person.family_id, []).append(person.person_id)
    assert sum(len(children) >= 2 for children in families.values()) > 1000
    assert sum(p.twin_of is not None for p in realistic.people) > 50
    moved_together = Counter(
        (p.family_id, p.copies[1].council) for p in realistic.people if len(p.copies) == 2
    )
    assert any(n >= 2 for n in moved_together.values())  # siblings in one household at the new council
    twins_copied = [p for p in realistic.people if p.twin_of is not None and len(p.copies) == 2]
    assert twins_copied
    assert all(D.FORENAME_PLACEHOLDER not in p.copies[1].differences for p in twins_copied)


# -- the single changes ------------------------------------------------------------------------------------


NAMES = ("Emily", "Christopher", "Anne-Marie", "McAllister", "O'Neill", "de la Cruz", "Zoë", "Oliver", "Ng")


def test_keyed_typos_are_one_slip_and_still_a_name() -> None:
    rng = random.Random(4)
    for name in NAMES:
        for _ in range(50):
            changed = keyed_typo(name, rng)
            if name == "Ng":
                assert changed is None
                continue
            assert changed is not None and _edit_distance(name, changed) == 1
            assert changed[0].isalpha() and changed[-1].isalpha()
            assert changed[0].isupper() == name[0].isupper()


def test_ocr_misreads_swap_look_alike_letters_and_never_add_digits() -> None:
    rng = random.Random(5)
    assert {ocr_confusion("Emily", rng) for _ in range(40)} >= {"Ernily", "EmiIy"}
    assert ocr_confusion("Zoë", rng) is None  # nothing in it to misread
    for name in set(NAMES) - {"Zoë", "Ng"}:
        for _ in range(30):
            changed = ocr_confusion(name, rng)
            assert changed is not None and _one_ocr_misread(name, changed)
            assert not any(ch.isdigit() for ch in changed)


def test_phonetic_misspellings_sound_the_same() -> None:
    rng = random.Random(6)
    variants = {
        name: {phonetic_misspelling(name, rng) for _ in range(60)}
        for name in ("Stephen", "Sarah", "Callum", "McAllister")
    }
    assert {"Steven", "Stefen"} <= variants["Stephen"]
    assert "Sara" in variants["Sarah"]
    assert {"Kallum", "Calum"} <= variants["Callum"]
    assert "McAlister" in variants["McAllister"]
    assert all(str(v).startswith("McA") for v in variants["McAllister"])  # the inner capital's prefix stays


def test_placeholders_match_the_childs_recorded_sex() -> None:
    rng = random.Random(7)
    girls = {placeholder_forename(Sex.FEMALE, rng) for _ in range(200)}
    unknown = {placeholder_forename(Sex.UNKNOWN, rng) for _ in range(200)}
    assert "Girl" in girls and not any("Boy" in p for p in girls)
    assert not any("Boy" in p or "Girl" in p for p in unknown)
    assert girls | unknown <= set(PLACEHOLDER_FORENAMES)
    assert {"Baby", "Girl", "Boy", "Infant", "Unknown", "No Name"} <= set(PLACEHOLDER_FORENAMES)


def test_double_barrelled_variants() -> None:
    assert surname_separator_changed("Smith-Jones") == "Smith Jones"
    assert surname_separator_changed("de la Cruz") == "de-la-Cruz"
    assert surname_parts_joined("Smith-Jones") == "SmithJones"
    assert surname_separator_changed("Smith") is None and surname_parts_joined("Smith") is None


def test_date_errors_stay_valid_plausible_and_one_digit_away() -> None:
    rng = random.Random(8)
    dob = dt.date(2013, 6, 17)
    for _ in range(50):
        year = year_digit_error(dob, EIGHTEEN_YEARS_AGO, TODAY, rng)
        assert year is not None and _digits_apart(dob.year, year.year, 4) == 1
        assert EIGHTEEN_YEARS_AGO <= year <= TODAY
        day = wrong_day(dob, EIGHTEEN_YEARS_AGO, TODAY, rng)
        assert day is not None and day.month == 6 and _digits_apart(17, day.day, 2) == 1
        month = wrong_month(dob, EIGHTEEN_YEARS_AGO, TODAY, rng)
        assert month is not None and month.day == 17 and _digits_apart(6, month.month, 2) == 1
    # a newborn's year has nowhere plausible to go but back
    assert year_digit_error(dt.date(2025, 5, 1), EIGHTEEN_YEARS_AGO, TODAY, rng) in {
        dt.date(y, 5, 1) for y in (2020, 2021, 2022, 2023, 2024, 2015)
    }
    assert digits_transposed(dt.date(2012, 1, 13), EIGHTEEN_YEARS_AGO, TODAY, rng) in {
        dt.date(2012, 1, 31),
        dt.date(2012, 10, 13),
        dt.date(2021, 1, 13),
    }
    assert digits_transposed(dt.date(2011, 11, 11), EIGHTEEN_YEARS_AGO, TODAY, rng) is None
    assert year_digit_error(dt.date(2012, 2, 29), EIGHTEEN_YEARS_AGO, TODAY, rng) == dt.date(2016, 2, 29)


# -- the command -------------------------------------------------------------------------------------------


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_whoelse_synth_noise_realistic_writes_its_differences_to_the_ground_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(["synth", "--councils", "E08000035,E08000036", "--children", "1500", "--seed", "2",
                   "--today", "2025-06-01", "--noise", "realistic", "--out", str(tmp_path)])  # fmt: skip
    assert args.handler(args) == 0
    assert "noise realistic" in capsys.readouterr().out
    truth = [
        json.loads(line)
        for line in (tmp_path / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    kinds = {d for line in truth for copy in line["copies"] for d in copy.get("differences", ())}
    assert (
        {"moved", "forename_typo", "dob_day_month_swapped_invalid"} <= kinds <= {d.value for d in Difference}
    )
    assert json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["noise"] == "realistic"


def test_whoelse_synth_defaults_to_todays_noise(tmp_path: Path) -> None:
    args = _parse(["synth", "--councils", "E08000035", "--children", "20", "--out", str(tmp_path)])
    assert args.noise == "today"
    with pytest.raises(SystemExit):
        _parse(["synth", "--noise", "loud", "--out", str(tmp_path)])
