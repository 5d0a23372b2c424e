"""Searches with the errors real records carry, through a real two-council federation (issue #8).

Leeds holds the records; a practitioner at Bradford searches with what another council's record says,
which differs from Leeds's copy the ways measured on data from outside the project: several errors at once,
missing or placeholder details, dates written the wrong way round. Each test names the loss it pins.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Federation
from tests.wire import search_identity
from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput
from whoelse.v1 import records_pb2 as pb

LEEDS, BRADFORD = "E08000035", "E08000032"


def record(
    record_id: str, forename: str, surname: str, dob: str, sex: str, postcode: str, since: str = "2025-09-01"
) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "forename": forename,
        "surname": surname,
        "date_of_birth": dob,
        "sex": sex,
        "address": {"line1": "1 High Street", "postcode": postcode},
        "involvements": [
            {
                "practitioner": "Sam Patel",
                "organisation": "Leeds Children's Services",
                "role": "Social worker",
                "contact": "0113 000 0100",
                "service_type": "social_care",
                "start_date": since,
            }
        ],
    }


KATHERINE = record("L-1", "Katherine", "Lowry", "2014-03-07", "F", "LS6 2AB")
KATHERINES_TWIN = record("L-2", "Eleanor", "Lowry", "2014-03-07", "F", "LS6 2AB")
SANDRA = record("L-3", "Sandra", "Woodward", "2016-11-29", "F", "LS16 6JW")
BABY = record(
    "L-4", "Baby", "Okafor", "2026-06-02", "M", "LS9 8AA", since="2026-06-03"
)  # named since; Leeds has not caught up
OLIVER = record("L-5", "Oliver", "Grant", "2012-10-05", "M", "LS1 4AP")
OLIVERS_BROTHER = record("L-6", "Harry", "Grant", "2012-10-05", "M", "LS1 4AP")  # his twin


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    fed = Federation(Path(tmp_path_factory.mktemp("realistic")))
    try:
        fed.add_council(LEEDS, "Leeds", [KATHERINE, KATHERINES_TWIN, SANDRA, BABY, OLIVER, OLIVERS_BROTHER])
        fed.add_council(BRADFORD, "Bradford", [])
        fed.run_upkeep()
        fed.add_practitioner(fed.councils[BRADFORD], "sw@bradford", "Jo Khan")
        yield fed
    finally:
        fed.stop()


def leeds_answer(fed: Federation, **identity: str) -> list[tuple[str, str]]:
    """(record id, band) of every candidate Leeds returned to a Bradford practitioner's search."""
    response = fed.client(fed.councils[BRADFORD], "sw@bradford").search(
        search_identity(**identity), "safeguarding"
    )
    assert not response.unanswered
    return [
        (c.disclosure.record_id, closed_sets.BAND.read(c))
        for result in response.results
        if result.council_code == LEEDS
        for c in result.candidates
    ]


@pytest.mark.parametrize(
    ("loss", "searched"),
    [
        # A wrong year digit and a new address: once a referral, as the two copies shared one key.
        ("wrong year digit, moved", {"date_of_birth": "2016-03-07", "postcode": "BD1 1AA"}),
        # Forename and surname the other way round.
        ("names swapped", {"forename": "Lowry", "surname": "Katherine", "postcode": "BD1 1AA"}),
        # A nickname with a typo in it ("Kaitie" for Katie, Katherine's short form).
        ("nickname with a typo", {"forename": "Kaitie", "postcode": "BD1 1AA"}),
        # No postcode at all: the search uses what it is given.
        ("no postcode", {"postcode": ""}),
        # Sex not known to the searching council.
        ("sex unknown, moved", {"sex": "U", "postcode": "BD1 1AA"}),
        # The year and month only, with the address.
        ("year and month only", {"date_of_birth": "2014-03"}),
    ],
)
def test_the_child_is_found_despite(federation: Federation, loss: str, searched: dict[str, str]) -> None:
    identity = {
        "forename": "Katherine",
        "surname": "Lowry",
        "date_of_birth": "2014-03-07",
        "sex": "F",
        "postcode": "LS6 2AB",
        **searched,
    }
    assert leeds_answer(federation, **identity) == [("L-1", "match")], loss  # never her twin Eleanor


def test_typos_in_both_names_with_the_same_date_of_birth(federation: Federation) -> None:
    found = leeds_answer(
        federation,
        forename="Sadnra",
        surname="Woodwar",
        date_of_birth="2016-11-29",
        sex="F",
        postcode="BD7 2HU",
    )
    assert found == [("L-3", "match")]


def test_a_date_invalid_as_written_is_read_with_day_and_month_swapped(federation: Federation) -> None:
    found = leeds_answer(
        federation, forename="Sandra", surname="Woodward", date_of_birth="2016-29-11", sex="F", postcode=""
    )
    assert found == [("L-3", "match")]


def test_a_wrong_year_and_a_day_month_swap_together_is_a_possible_match(federation: Federation) -> None:
    found = leeds_answer(
        federation,
        forename="Katherine",
        surname="Lowry",
        date_of_birth="2015-07-03",
        sex="F",
        postcode="BD1 1AA",
    )
    assert found == [("L-1", "possible")]  # two slips in the date: found, for a person to check


def test_a_placeholder_forename_finds_the_newborn(federation: Federation) -> None:
    """'Baby' counts as no forename; Leeds holds no other child of that surname and date of birth who could
    be a twin scoring the same, so it is a match."""
    for forename in ("", "Baby", "Baby Boy", "Unknown"):
        found = leeds_answer(
            federation,
            forename=forename,
            surname="Okafor",
            date_of_birth="2026-06-02",
            sex="M",
            postcode="LS9 8AA",
        )
        assert found == [("L-4", "match")], forename


def test_a_named_search_finds_the_record_still_called_baby(federation: Federation) -> None:
    found = leeds_answer(
        federation,
        forename="Chidi",
        surname="Okafor",
        date_of_birth="2026-06-02",
        sex="M",
        postcode="LS9 8AA",
    )
    assert found == [("L-4", "match")]


def test_without_a_forename_twins_held_together_are_both_only_possible(federation: Federation) -> None:
    """No forename to tell Oliver from his twin Harry, both held at Leeds: neither may be the match."""
    for forename in ("", "Baby", "O"):
        found = leeds_answer(
            federation,
            forename=forename,
            surname="Grant",
            date_of_birth="2012-10-05",
            sex="M",
            postcode="LS1 4AP",
        )
        assert sorted(found) == [("L-5", "possible"), ("L-6", "possible")], forename


def test_a_date_copied_from_a_parent_still_finds_the_child_at_home(federation: Federation) -> None:
    """A parent's date in the child's place: not refused; the same names at the same address find her."""
    found = leeds_answer(
        federation,
        forename="Sandra",
        surname="Woodward",
        date_of_birth="1988-04-17",
        sex="F",
        postcode="LS16 6JW",
    )
    assert found == [("L-3", "match")]


def test_a_twin_is_never_the_match(federation: Federation) -> None:
    found = leeds_answer(
        federation,
        forename="Oliver",
        surname="Grant",
        date_of_birth="2012-10-05",
        sex="M",
        postcode="BD1 1AA",
    )
    assert found == [("L-5", "match")]
    assert ("L-6", "match") not in leeds_answer(
        federation, forename="Olly", surname="Grant", date_of_birth="2012-10-05", sex="M", postcode="LS1 4AP"
    )


@pytest.mark.parametrize(
    ("searched", "helps"),
    [
        # A year of birth and names, nothing else: shared by too many children to open any record.
        (
            {"forename": "Katherine", "surname": "Lowry", "date_of_birth": "2014"},
            "add the full date of birth, a postcode (current or previous) or the NHS number",
        ),
        # A surname and a date of birth alone, no forename (a newborn) and no address.
        (
            {"forename": "Baby", "surname": "Okafor", "date_of_birth": "2026-06-02", "sex": "M"},
            "add the forename, a postcode (current or previous) or the NHS number",
        ),
    ],
)
def test_a_search_too_vague_to_open_any_record_is_refused_naming_what_would_help(
    federation: Federation, searched: dict[str, str], helps: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        leeds_answer(federation, **searched)
    assert "not enough details to find a child safely" in str(refused.value)
    assert helps in str(refused.value)


def test_a_partial_search_with_an_address_is_accepted(federation: Federation) -> None:
    found = leeds_answer(
        federation, forename="Kate", surname="Lowry", date_of_birth="2014", postcode="LS6 2AB"
    )
    assert found == [("L-1", "match")]


def test_the_practitioner_is_told_how_a_date_and_a_placeholder_were_read(federation: Federation) -> None:
    response = federation.client(federation.councils[BRADFORD], "sw@bradford").search(
        pb.SearchIdentity(
            forename="Baby",
            surname="Woodward",
            date_of_birth="2016-29-11",
            **closed_sets.SEX.fields("F"),
            postcode="LS16 6JW",
        ),
        "safeguarding",
    )
    assert list(response.notes) == [
        "date of birth 2016-29-11 is not a date as written; read with day and month swapped, as 2016-11-29",
        "forename 'Baby' is a placeholder: searched as no forename",
    ]
