"""Each kind of match key added for realistic data (issue #8) against the brothers and sisters it could
confuse: they either share no such key, or sharing it they are never scored a match."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import KeyKind, match_keys
from whoelse.node.scoring import keep_twins_apart, score

JACK = Identity("Jack", "Okafor", dt.date(2015, 3, 7), "M", "LS6 2AB")
TWIN = replace(JACK, forename="Jacob")  # same birthday, address and first two letters
SISTER = replace(JACK, forename="Ada", sex="F", date_of_birth=dt.date(2015, 12, 30))  # same year
BROTHER = replace(JACK, forename="Samuel", date_of_birth=dt.date(2012, 3, 7))  # same day and month


@pytest.mark.parametrize(
    ("kind", "sibling"),
    [
        (KeyKind.DOB_NAMES, TWIN),
        (KeyKind.YEAR_MONTH_NAMES, TWIN),
        (KeyKind.YEAR_NAMES, SISTER),
        (KeyKind.DAY_MONTH_NAMES, BROTHER),
        (KeyKind.DOB_FORENAME_SURNAME_INITIAL, TWIN),
        (KeyKind.POSTCODE_NAMES, SISTER),
        (KeyKind.POSTCODE_DOB, TWIN),
        (KeyKind.POSTCODE_SURNAME_YEAR, SISTER),
        (KeyKind.POSTCODE_SURNAME_YEAR, TWIN),
        (KeyKind.DOB_SEX_PREFIXES, TWIN),
    ],
)
def test_a_sibling_is_never_matched_through_a_new_key(kind: KeyKind, sibling: Identity) -> None:
    shares = kind in {key.kind for key in match_keys(sibling) & match_keys(JACK)}
    assert not shares or score(sibling, JACK).band != "match"
    assert score(sibling, JACK).band != "match"


def test_the_twin_shares_the_keys_of_his_address_and_birthday_and_still_is_no_match() -> None:
    kinds = {key.kind for key in match_keys(TWIN) & match_keys(JACK)}
    assert {KeyKind.POSTCODE_DOB, KeyKind.POSTCODE_SURNAME_YEAR, KeyKind.DOB_SEX_PREFIXES} <= kinds
    assert score(TWIN, JACK).band == "possible"  # shown only as something for a person to check


def test_of_twins_a_letter_apart_only_the_better_scoring_one_is_the_match() -> None:
    """Marie and Maria Lees, twins; a search for Marie from another council with a slip in the surname and a
    new address scores a match against both records; only Marie's may be the match."""
    marie = Identity("Marie", "Lees", dt.date(2019, 12, 7), "F", "WS3 2HW")
    maria = replace(marie, forename="Maria")
    searched = replace(marie, surname="Les", postcode="B66 1PU")
    assert score(searched, maria).band == "match"  # on its own, the typo and the twin look alike
    kept = keep_twins_apart([(marie, score(searched, marie)), (maria, score(searched, maria))])
    assert [s.band for s in kept] == ["match", "possible"]
