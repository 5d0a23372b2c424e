"""The searched identity as the practitioner's own council reads it (node/wire.identity_from_pb)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.wire import search_identity
from whoelse.federation.errors import InvalidInput
from whoelse.node.wire import identity_from_pb, reading_notes
from whoelse.v1 import records_pb2 as pb

TODAY = dt.date(2026, 12, 1)


def searched(**fields: str) -> pb.SearchIdentity:
    base = {"forename": "Zoe", "surname": "Okafor", "date_of_birth": "2015-03-07", "sex": "F"}
    return search_identity(**{**base, "postcode": "LS6 2AB", **fields})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"date_of_birth": "9999-12-31"}, "search: date_of_birth is in the future"),
        ({"date_of_birth": "1860-01-01"}, "search: date_of_birth is before 1900"),
        ({"surname": "Oka\x00for"}, "search: surname contains a control character"),
        ({"forename": "Zoe\u202e"}, "search: forename contains a control character"),
        ({"date_of_birth": "2015-13-45"}, "search: date_of_birth: the month must be 1-12"),
    ],
)
def test_an_impossible_search_is_refused_naming_the_field(fields: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        identity_from_pb(searched(**fields), today=TODAY)


def test_a_partial_search_keeps_what_it_was_given() -> None:
    identity = identity_from_pb(searched(date_of_birth="2015-03", forename="Baby Girl"), today=TODAY)
    assert identity.born is not None and (identity.born.year, identity.born.month, identity.born.day) == (
        2015,
        3,
        0,
    )
    assert reading_notes(searched(forename="Baby Girl")) == [
        "forename 'Baby Girl' is a placeholder: searched as no forename"
    ]


def test_an_adults_date_is_searched_on_the_rest_and_says_so() -> None:
    """A parent's date typed in the child's place: not refused, since names, postcode and the date's day
    and month can still find the child; the practitioner is told how it was read."""
    identity = identity_from_pb(searched(date_of_birth="1984-03-07"), today=TODAY)
    assert identity.born is not None and identity.born.year == 1984
    assert reading_notes(searched(date_of_birth="1984-03-07"), today=TODAY) == [
        "date of birth 1984-03-07 is more than 26 years ago, so not a child's (perhaps a parent's): searched"
        " on the other details and the date's day and month"
    ]
