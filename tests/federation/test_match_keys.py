"""Match keys: every realistic single error leaves a key in common; siblings and strangers share none."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import MAX_KEYS, KeyKind, MatchKey, match_keys, opens
from whoelse.federation.query import MAX_TAGS
from whoelse.node.scoring import score


def _dob(identity: Identity) -> dt.date:
    """The whole date of birth of a test identity (all of them have one)."""
    assert isinstance(identity.date_of_birth, dt.date)
    return identity.date_of_birth


CASES = json.loads((Path(__file__).parents[1] / "assets" / "match_cases.json").read_text(encoding="utf-8"))[
    "cases"
]


def identity(fields: dict[str, Any]) -> Identity:
    values = dict(fields)
    values["date_of_birth"] = dt.date.fromisoformat(values["date_of_birth"])
    values["previous_surnames"] = tuple(values.get("previous_surnames", ()))
    return Identity(**values)


def shared(left: Identity, right: Identity) -> frozenset[MatchKey]:
    return match_keys(left) & match_keys(right)


OLIVER = Identity("Oliver", "Smith", dt.date(2015, 3, 7), "M", "LS6 2AB", "9434765919")


@pytest.mark.parametrize(
    "case", [case for case in CASES if "shares_key" in case], ids=lambda case: case["name"]
)
def test_named_vectors_share_a_key_as_expected(case: dict[str, Any]) -> None:
    assert bool(shared(identity(case["query"]), identity(case["record"]))) is case["shares_key"]


def test_encoding_is_domain_separated_and_versioned() -> None:
    assert MatchKey(KeyKind.NHS_NUMBER, "9434765919").encode() == b"whoelse/v2/mk/nhs\x009434765919"
    assert MatchKey(KeyKind.DOB_FORENAME, "2015-03-07|ALFR").encode() == (
        b"whoelse/v2/mk/dob-fn\x002015-03-07|ALFR"
    )
    # the same value under another kind is another key
    assert MatchKey(KeyKind.DOB_FORENAME, "x").encode() != MatchKey(KeyKind.DOB_SEX_SURNAME, "x").encode()
    assert MatchKey(KeyKind.DOB_FORENAME, "é").encode().endswith("é".encode())


def test_golden_keys_pin_version_2() -> None:
    """If this changes, every token in the federation changes: bump MATCH_KEY_VERSION with it."""
    keys = {(key.kind.value, key.value) for key in match_keys(OLIVER)}
    assert keys == {
        ("nhs", "9434765919"),
        ("dob-sex-sn", "2015-03-07|M|SM0"),
        ("dob-fn", "2015-03-07|OLFR"),
        ("dob-names", "2015-03-07|OLFR|SM0"),
        ("dob-fn-si", "2015-03-07|OLFR|s"),
        ("yob-names", "2015|OLFR|SM0"),
        ("ym-names", "2015|03|OLFR|SM0"),
        ("dm-sorted-sn", "03-07|2015|SM0"),
        ("date-digits-names", "00012357|OLFR|SM0"),
        ("dm-names", "03-07|OLFR|SM0"),
        ("pc-fn-yob", "LS6 2AB|OLFR|2015"),
        ("pc-names", "LS6 2AB|OLFR|SM0"),
        ("pc-dob", "LS6 2AB|2015-03-07"),
        ("pc-sn-yob", "LS6 2AB|SM0|2015"),
        ("dob-initials", "2015-03-07|os"),
        ("dob-sex-prefixes", "2015-03-07|M|ol|sm"),
    }


def test_an_unknown_sex_keeps_the_surname_keys_for_both_sexes() -> None:
    unknown = replace(OLIVER, sex="U", nhs_number="")
    kinds = {key.kind for key in shared(unknown, OLIVER)}
    assert kinds >= {KeyKind.DOB_SEX_SURNAME, KeyKind.DOB_SEX_PREFIXES}


def test_keys_ignore_presentation_differences() -> None:
    plain = Identity("Zoe", "ONeill", dt.date(2012, 11, 23), "F", "m145rt")
    accented = Identity("Zoë", "O’Neill", dt.date(2012, 11, 23), "F", "M14 5RT")
    assert match_keys(plain) == match_keys(accented)


def test_missing_fields_make_no_keys() -> None:
    bare = replace(OLIVER, nhs_number="", postcode="")
    kinds = {key.kind for key in match_keys(bare)}
    assert KeyKind.NHS_NUMBER not in kinds
    assert KeyKind.POSTCODE_FORENAME_YEAR not in kinds
    pseudo = replace(OLIVER, postcode="ZZ99 3VZ")  # NHS "no fixed abode": shared by unrelated children
    assert KeyKind.POSTCODE_FORENAME_YEAR not in {key.kind for key in match_keys(pseudo)}


def test_keys_stay_bounded_for_many_name_variants() -> None:
    busy = Identity(
        forename="Al",  # a nickname of five canonical names
        surname="de la Cruz-Smith Jones",
        date_of_birth=dt.date(2010, 4, 12),
        sex="M",
        postcode="SW1A 1AA",
        nhs_number="9434765919",
        middle_names="Frederick Edward",
        known_as="Sasha",
        previous_surnames=("Walker-Brown", "van der Berg", "O'Neill"),
    )
    assert len(match_keys(busy)) <= MAX_KEYS
    assert MAX_KEYS * 2 <= MAX_TAGS  # a query has room for the keys under two OPRF key ids


def _single_letter_typos(name: str) -> list[str]:
    """Every deletion and adjacent transposition, and a substitution and an insertion at each position."""
    typos = {name[:i] + name[i + 1 :] for i in range(len(name))}
    typos |= {name[:i] + name[i + 1] + name[i] + name[i + 2 :] for i in range(len(name) - 1)}
    typos |= {name[:i] + ("x" if name[i] != "x" else "q") + name[i + 1 :] for i in range(len(name))}
    typos |= {name[:i] + "e" + name[i:] for i in range(len(name) + 1)}
    return sorted(typo for typo in typos if typo and typo.lower() != name.lower())


@pytest.mark.parametrize("forename", ["Oliver", "Amy", "Mohammed", "Siobhan", "Jo"])
def test_every_forename_typo_leaves_a_key(forename: str) -> None:
    record = replace(OLIVER, forename=forename, nhs_number="")
    for typo in _single_letter_typos(forename):
        assert shared(replace(record, forename=typo), record), typo


@pytest.mark.parametrize("surname", ["Smith", "Li", "Nguyen", "Smith-Jones", "O'Neill"])
def test_every_surname_typo_leaves_a_key(surname: str) -> None:
    record = replace(OLIVER, surname=surname, nhs_number="")
    for typo in _single_letter_typos(surname):
        if any(char.isalpha() for char in typo):
            assert shared(replace(record, surname=typo), record), typo


def test_every_single_digit_error_in_the_date_leaves_a_key() -> None:
    record = replace(OLIVER, nhs_number="")
    digits = _dob(record).strftime("%Y%m%d")
    variants = set()
    for i in range(len(digits)):
        for digit in "0123456789":
            variants.add(digits[:i] + digit + digits[i + 1 :])
        if i < len(digits) - 1:
            variants.add(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
    checked = 0
    for variant in sorted(variants - {digits}):
        try:
            wrong = dt.date(int(variant[:4]), int(variant[4:6]), int(variant[6:]))
        except ValueError:
            continue  # not a date: the search form would refuse it
        assert shared(replace(record, date_of_birth=wrong), record), variant
        checked += 1
    assert checked > 30


def test_typos_in_both_names_still_leave_a_key() -> None:
    record = Identity("Sandra", "Woodward", dt.date(2024, 2, 29), "F", "LS16 6JW")
    search = Identity("Sadnra", "Woodwar", dt.date(2024, 2, 29), "F", "BD7 2HU")
    kinds = {key.kind for key in shared(search, record)}
    assert kinds == {KeyKind.DOB_INITIALS, KeyKind.DOB_SEX_PREFIXES}
    assert opens(kinds)  # the date, the sex and both names' first two letters are enough to open


def test_twins_share_no_key_with_both_forename_and_surname() -> None:
    twin = replace(OLIVER, forename="George", nhs_number="")
    kinds = {key.kind for key in shared(twin, OLIVER)}
    assert kinds == {
        KeyKind.DOB_SEX_SURNAME,
        KeyKind.SORTED_DAY_MONTH_SURNAME,
        KeyKind.POSTCODE_DOB,
        KeyKind.POSTCODE_SURNAME_YEAR,
    }
    moved_twin = replace(twin, postcode="BD7 2HU")  # at another council's address: too little to open
    assert not opens(key.kind for key in shared(moved_twin, OLIVER))


def test_siblings_and_strangers_share_too_little_to_open() -> None:
    sibling = replace(OLIVER, forename="Emily", sex="F", date_of_birth=dt.date(2013, 5, 1), nhs_number="")
    stranger = Identity("Priya", "Shah", dt.date(2015, 3, 7), "F", "BD7 2HU")
    assert not shared(sibling, OLIVER)
    assert not shared(stranger, OLIVER)


def test_a_neighbour_born_the_same_day_opens_but_is_no_match() -> None:
    """The same postcode and date of birth are enough to open (a council holding a child at that address,
    born that day, is almost always the child's own), and scoring then tells the two apart."""
    neighbour = Identity("Priya", "Shah", dt.date(2015, 3, 7), "F", "LS6 2AB")
    assert {key.kind for key in shared(neighbour, OLIVER)} == {KeyKind.POSTCODE_DOB}
    assert opens(key.kind for key in shared(neighbour, OLIVER))
    assert score(neighbour, OLIVER).band == "non-match"
