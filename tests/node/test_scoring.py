"""Fellegi–Sunter scoring: the child with any one realistic error is a match; twins and siblings never are."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from whoelse.federation.identity import Identity
from whoelse.node import scoring
from whoelse.node.matching import score_candidates
from whoelse.node.scoring import MATCH_THRESHOLD, POSSIBLE_THRESHOLD, MatchScore, score


def _dob(identity: Identity) -> dt.date:
    """The whole date of birth of a test identity (all of them have one)."""
    assert isinstance(identity.date_of_birth, dt.date)
    return identity.date_of_birth


CASES = json.loads((Path(__file__).parents[1] / "assets" / "match_cases.json").read_text(encoding="utf-8"))[
    "cases"
]

FIELD_LEVELS = {
    "nhs_number": scoring.NHS_LEVELS,
    "forename": scoring.FORENAME_LEVELS,
    "surname": scoring.SURNAME_LEVELS,
    "date_of_birth": scoring.DATE_OF_BIRTH_LEVELS,
    "sex": scoring.SEX_LEVELS,
    "postcode": scoring.POSTCODE_LEVELS,
}


def identity(fields: dict[str, Any]) -> Identity:
    values = dict(fields)
    values["date_of_birth"] = dt.date.fromisoformat(values["date_of_birth"])
    values["previous_surnames"] = tuple(values.get("previous_surnames", ()))
    return Identity(**values)


def level(result: MatchScore, field: str) -> str:
    return next(contribution.level for contribution in result.contributions if contribution.field == field)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["name"])
def test_named_vectors_score_in_their_band(case: dict[str, Any]) -> None:
    result = score(identity(case["query"]), identity(case["record"]))
    assert result.band in case["bands"], result.contributions


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["name"])
def test_scoring_is_symmetric(case: dict[str, Any]) -> None:
    query, record = identity(case["query"]), identity(case["record"])
    assert score(query, record).total == pytest.approx(score(record, query).total)


# The searched-for child, with no NHS number on either side (the hardest case: names and dates must carry it).
# Days are 12 or less so that day and month can be swapped.
CHILDREN = [
    Identity("Oliver", "Smith", dt.date(2015, 3, 7), "M", "LS6 2AB"),
    Identity("Amy", "Li", dt.date(2017, 2, 11), "F", "CF10 1EP"),
    Identity("Katherine", "de la Cruz", dt.date(2016, 8, 3), "F", "N1 9GU"),
    Identity("William", "Smith-Jones", dt.date(2010, 4, 12), "M", "SW1A 1AA"),
]

SINGLE_ERRORS: dict[str, Callable[[Identity], Identity]] = {
    "forename letter substituted": lambda child: replace(child, forename=child.forename[:-1] + "x"),
    "forename letter dropped": lambda child: replace(child, forename=child.forename[:-1]),
    "forename letter added": lambda child: replace(child, forename=child.forename + "e"),
    "forename letters transposed": lambda child: replace(
        child, forename=child.forename[0] + child.forename[2] + child.forename[1] + child.forename[3:]
    ),
    "surname letter substituted": lambda child: replace(child, surname="Q" + child.surname[1:]),
    "surname letter dropped": lambda child: replace(child, surname=child.surname[:-1]),
    "surname letters transposed": lambda child: replace(
        child, surname=child.surname[:-2] + child.surname[-1] + child.surname[-2]
    ),
    "day and month swapped": lambda child: replace(
        child,
        date_of_birth=dt.date(_dob(child).year, _dob(child).day, _dob(child).month),
    ),
    "birth year one out": lambda child: replace(
        child, date_of_birth=_dob(child).replace(year=_dob(child).year + 1)
    ),
    "day one digit out": lambda child: replace(child, date_of_birth=_dob(child) + dt.timedelta(days=1)),
    "moved to another town": lambda child: replace(child, postcode="EX1 1AA"),
    "no postcode given": lambda child: replace(child, postcode=""),
    "sex not known": lambda child: replace(child, sex="U"),
    "previous surname searched": lambda child: replace(child, surname="Walker"),
}


@pytest.mark.parametrize("moved", [False, True], ids=["same address", "and moved"])
@pytest.mark.parametrize("error", SINGLE_ERRORS, ids=str)
@pytest.mark.parametrize("child", CHILDREN, ids=lambda child: child.forename)
def test_the_true_child_with_one_error_is_a_match(child: Identity, error: str, moved: bool) -> None:
    record = replace(child, previous_surnames=("Walker",))
    search = SINGLE_ERRORS[error](child)
    if moved and search.postcode == child.postcode:
        search = replace(search, postcode="EX1 1AA")  # searched from another council, at a new address
    result = score(search, record)
    assert result.band == "match", result.contributions


TWIN_FORENAMES = [
    ("Oliver", "George"),
    ("Amy", "Emily"),
    ("Jack", "Jake"),
    ("Harry", "Oscar"),
    ("Ella", "Ellis"),
]


@pytest.mark.parametrize(("held", "searched"), TWIN_FORENAMES)
@pytest.mark.parametrize("postcode", ["LS6 2AB", ""], ids=["with postcode", "no postcode"])
def test_a_twin_is_never_a_match(held: str, searched: str, postcode: str) -> None:
    record = Identity(held, "Smith", dt.date(2015, 3, 7), "M", "LS6 2AB")
    twin = Identity(searched, "Smith", dt.date(2015, 3, 7), "M", postcode)
    assert score(twin, record).band in ("possible", "non-match")


def test_twins_with_nhs_numbers_are_a_non_match() -> None:
    record = Identity("Oliver", "Smith", dt.date(2015, 3, 7), "M", "LS6 2AB", "9434765919")
    twin = Identity("George", "Smith", dt.date(2015, 3, 7), "M", "LS6 2AB", "4010232137")
    result = score(twin, record)
    assert result.band == "non-match"
    assert level(result, "nhs_number") == "different"


def test_a_sibling_is_a_non_match() -> None:
    record = Identity("Oliver", "Smith", dt.date(2015, 3, 7), "M", "LS6 2AB")
    sibling = Identity("Owen", "Smith", dt.date(2016, 3, 9), "M", "LS6 2AB")
    assert score(sibling, record).band == "non-match"


def test_a_newborn_with_no_forename_matches_only_where_no_twin_is_held() -> None:
    searched = Identity("Baby", "Okafor", dt.date(2026, 6, 2), "M", "LS9 8AA")
    chidi = Identity("Chidi", "Okafor", dt.date(2026, 6, 2), "M", "LS9 8AA")
    alone = score_candidates(searched, [chidi])
    assert [r.band for r in alone] == ["match"]
    assert score(searched, chidi).band == "possible"  # scored on its own, a twin could not be ruled out
    twin = Identity("Emeka", "Okafor", dt.date(2026, 6, 2), "M", "LS9 8AA")
    assert [r.band for r in score_candidates(searched, [chidi, twin])] == ["possible", "possible"]


def test_of_two_brothers_given_one_name_neither_matches_a_third_date() -> None:
    """Census-style households have them: the same name at one address, two dates; a search with either
    date finds that brother, and a search with neither date may not pick one."""
    elder = Identity("Devin", "Gilchrest", dt.date(2010, 10, 30), "M", "N15 4DD")
    younger = Identity("Devin", "Gilchrest", dt.date(2013, 4, 18), "M", "N15 4DD")
    for searched, expected in ((elder, ["match", "possible"]), (younger, ["possible", "match"])):
        assert [r.band for r in score_candidates(searched, [elder, younger])] == expected
    third = replace(elder, date_of_birth=dt.date(2011, 7, 2))
    assert "match" not in [r.band for r in score_candidates(third, [elder, younger])]


def test_the_same_names_at_the_same_address_outweigh_a_wrong_date() -> None:
    held = Identity("Ryleigh", "Winiarski", dt.date(2019, 12, 4), "F", "HD9 2BJ")
    copied = replace(held, date_of_birth=dt.date(1988, 4, 7))  # a parent's date
    assert score(copied, held).band == "match"
    assert score(replace(copied, postcode="LS1 4AP"), held).band != "match"  # not at home: not enough


def test_contributions_explain_the_total() -> None:
    record = Identity("William", "Smith-Jones", dt.date(2010, 4, 12), "M", "SW1A 1AA")
    search = Identity("Bill", "Jones", dt.date(2010, 12, 4), "M", "SW1A 2AA")
    result = score(search, record)
    assert [c.field for c in result.contributions] == list(FIELD_LEVELS)
    assert {c.field: c.level for c in result.contributions} == {
        "nhs_number": "missing",
        "forename": "nickname",
        "surname": "part",
        "date_of_birth": "swapped",
        "sex": "agree",
        "postcode": "district",
    }
    assert result.total == pytest.approx(sum(c.weight for c in result.contributions))


@pytest.mark.parametrize(
    ("searched", "held", "expected"),
    [
        ("Oliver", "Oliver", "exact"),
        ("Ollie", "Oliver", "nickname"),
        ("Mary", "Mary-Jane", "nickname"),
        ("Olivr", "Oliver", "close"),
        ("Ian", "Ain", "close"),  # a transposition Jaro-Winkler alone scores low
        ("Jake", "Jack", "similar"),
        ("George", "Oliver", "different"),
    ],
)
def test_forename_levels(searched: str, held: str, expected: str) -> None:
    day = dt.date(2015, 3, 7)
    assert scoring.compare_forename(
        Identity(searched, "Smith", day, "M"), Identity(held, "Smith", day, "M")
    ).name == (expected)


def test_a_twin_named_for_the_other_twins_middle_name_is_not_the_same_child() -> None:
    day = dt.date(2015, 3, 7)
    record = Identity("Elliot", "Smith", day, "M", "LS6 2AB", middle_names="William")
    twin = Identity("William", "Smith", day, "M", "LS6 2AB", middle_names="Elliot")
    assert scoring.compare_forename(twin, record).name == "different"
    assert score(twin, record).band == "non-match"


@pytest.mark.parametrize(
    ("searched", "held", "expected"),
    [
        (dt.date(2015, 3, 7), dt.date(2015, 3, 7), "exact"),
        (dt.date(2015, 7, 3), dt.date(2015, 3, 7), "swapped"),
        (dt.date(2015, 3, 17), dt.date(2015, 3, 7), "digit"),
        (dt.date(2015, 12, 7), dt.date(2015, 2, 7), "digit"),
        (dt.date(2012, 11, 23), dt.date(2021, 11, 23), "digit"),
        (dt.date(2015, 9, 1), dt.date(2015, 3, 7), "same-year"),
        (dt.date(2013, 9, 1), dt.date(2015, 3, 7), "different"),
    ],
)
def test_date_of_birth_levels(searched: dt.date, held: dt.date, expected: str) -> None:
    assert scoring.compare_date_of_birth(searched, held).name == expected


def test_missing_fields_weigh_nothing() -> None:
    assert scoring.compare_nhs_number("", "9434765919").weight == 0
    assert scoring.compare_postcode("LS6 2AB", "").weight == 0
    assert scoring.compare_postcode("ZZ99 3VZ", "ZZ99 3VZ").weight == 0
    assert scoring.compare_sex("U", "F").weight == 0


@pytest.mark.parametrize("field", FIELD_LEVELS)
def test_m_and_u_are_probability_distributions(field: str) -> None:
    levels = FIELD_LEVELS[field].values()
    assert math.fsum(lvl.m for lvl in levels) == pytest.approx(1.0)
    assert math.fsum(lvl.u for lvl in levels) == pytest.approx(1.0, abs=1e-6)
    weights = [lvl.weight for lvl in levels]
    assert weights == sorted(weights, reverse=True), "levels run from strongest agreement to disagreement"
    assert all(lvl.weight == pytest.approx(math.log2(lvl.m / lvl.u)) for lvl in levels)


def test_thresholds_are_ordered() -> None:
    assert 0 < POSSIBLE_THRESHOLD < MATCH_THRESHOLD
    assert MatchScore(MATCH_THRESHOLD, ()).band == "match"
    assert MatchScore(MATCH_THRESHOLD - 0.01, ()).band == "possible"
    assert MatchScore(POSSIBLE_THRESHOLD - 0.01, ()).band == "non-match"
