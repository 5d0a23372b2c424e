"""Identity normalisation: names, nicknames, phonetic codes, postcodes, NHS numbers and the Identity value."""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources

import pytest

from whoelse.federation.errors import InvalidInput
from whoelse.federation.identity import (
    BirthDate,
    Identity,
    canonical_forename,
    canonical_forenames,
    canonical_forenames_near,
    compact,
    given_forename,
    is_placeholder_forename,
    is_placeholder_surname,
    name_parts,
    normalise_name,
    normalise_nhs_number,
    normalise_postcode,
    outward_code,
    phonetic,
    postcode_for_matching,
    valid_nhs_number,
)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Zoë", "zoe"),
        ("Nguyễn", "nguyen"),
        ("O'Neill", "oneill"),
        ("O’Neill", "oneill"),
        ("St. John", "st john"),
        ("  Mary   Jane ", "mary jane"),
        ("Smith - Jones", "smith-jones"),
        ("Smith–Jones", "smith-jones"),
        ("ØSTERGÅRD", "ostergard"),
        ("Łukasz", "lukasz"),
        ("Strauß", "strauss"),
        ("Siobhán", "siobhan"),
        ("José-María", "jose-maria"),
        ("محمد", "محمد"),
    ],
)
def test_normalise_name(raw: str, normalised: str) -> None:
    assert normalise_name(raw) == normalised


def test_compact_removes_part_separators() -> None:
    assert compact("Smith-Jones") == compact("smith jones") == "smithjones"


@pytest.mark.parametrize(
    ("surname", "parts"),
    [
        ("Smith", ("smith",)),
        ("Smith-Jones", ("smithjones", "smith", "jones")),
        ("Smith Jones", ("smithjones", "smith", "jones")),
        ("de la Cruz", ("delacruz", "cruz")),
        ("Delacruz", ("delacruz",)),
        ("van der Berg", ("vanderberg", "berg")),
        ("O'Neill", ("oneill",)),
        ("Al-Hassan", ("alhassan", "hassan")),
        ("Le", ("le",)),
        ("", ()),
    ],
)
def test_name_parts(surname: str, parts: tuple[str, ...]) -> None:
    assert name_parts(surname) == parts


def test_particles_let_de_la_cruz_meet_delacruz_and_cruz() -> None:
    assert set(name_parts("de la Cruz")) & set(name_parts("Delacruz"))
    assert set(name_parts("de la Cruz")) & set(name_parts("Cruz"))


@pytest.mark.parametrize(
    ("left", "right"),
    [("Catherine", "Kathryn"), ("Stephen", "Steven"), ("Smith", "Smyth"), ("McDonald", "MacDonald")],
)
def test_phonetic_equates_uk_spelling_variants(left: str, right: str) -> None:
    assert phonetic(left) == phonetic(right)


@pytest.mark.parametrize(("left", "right"), [("Smith", "Jones"), ("Oliver", "George"), ("Emily", "Amelia")])
def test_phonetic_keeps_different_names_apart(left: str, right: str) -> None:
    assert phonetic(left) != phonetic(right)


def test_phonetic_falls_back_to_the_name_for_other_scripts() -> None:
    assert phonetic("محمد") == "محمد"
    assert phonetic("Aa") == "AA"  # Metaphone returns nothing for some short names
    assert phonetic("") == ""


@pytest.mark.parametrize(
    ("nickname", "canonical"),
    [
        ("Bill", "william"),
        ("Will", "william"),
        ("Billy", "william"),
        ("Liz", "elizabeth"),
        ("Beth", "elizabeth"),
        ("Lizzie", "elizabeth"),
        ("Betty", "elizabeth"),
        ("Alex", "alexander"),
        ("Alex", "alexandra"),
        ("Sasha", "alexander"),
        ("Kate", "catherine"),
        ("Katie", "catherine"),
        ("Katherine", "catherine"),
        ("Kathryn", "catherine"),
        ("Jack", "john"),
        ("Harry", "henry"),
        ("Peggy", "margaret"),
        ("Shaun", "sean"),
        ("Mohammed", "muhammad"),
    ],
)
def test_canonical_forenames(nickname: str, canonical: str) -> None:
    assert canonical in canonical_forenames(nickname)


def test_canonical_forename_picks_the_first_canonical() -> None:
    assert canonical_forename("Katie") == "catherine"
    assert canonical_forename("Catherine") == "catherine"
    assert canonical_forename("Zoë") == "zoe"  # not in the table: its own canonical form
    assert canonical_forenames("Zoë") == ("zoe",)
    assert canonical_forename("") == ""


def test_nickname_table_is_one_lookup_deep_and_normalised() -> None:
    source = resources.files("whoelse.federation").joinpath("data", "nicknames.csv")
    with source.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    names = {row["name"] for row in rows}
    canonicals = {row["canonical"] for row in rows}
    assert len(rows) >= 300
    assert not names & canonicals, "a canonical name must not itself map elsewhere"
    assert all(compact(name) == name for name in names | canonicals)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("ls62ab", "LS6 2AB"),
        (" LS6  2AB ", "LS6 2AB"),
        ("sw1a1aa", "SW1A 1AA"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("M1 1AE", "M1 1AE"),
        ("CF10 1EP", "CF10 1EP"),
        ("GIR0AA", "GIR 0AA"),
        ("", ""),
    ],
)
def test_normalise_postcode(raw: str, normalised: str) -> None:
    assert normalise_postcode(raw) == normalised


@pytest.mark.parametrize("raw", ["LS6", "12345", "LS6 2A", "LSS6 2AB", "LS6 AAB", "1S6 2AB"])
def test_normalise_postcode_refuses_non_uk_shapes_without_echoing(raw: str) -> None:
    with pytest.raises(InvalidInput, match="postcode: not a UK postcode") as raised:
        normalise_postcode(raw)
    assert raw not in str(raised.value)


def test_pseudo_postcodes_do_not_count_for_matching() -> None:
    assert postcode_for_matching("ZZ99 3VZ") == ""
    assert postcode_for_matching("ls6 2ab") == "LS6 2AB"
    assert outward_code("ls6 2ab") == "LS6"
    assert outward_code("") == ""


@pytest.mark.parametrize("number", ["9434765919", "943 476 5919", "943-476-5919", "4010232137"])
def test_valid_nhs_numbers(number: str) -> None:
    assert valid_nhs_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "9434765918",  # wrong check digit
        "9434765991",  # last two digits transposed
        "943476591",  # nine digits
        "94347659190",  # eleven digits
        "1000000010",  # check digit would be 10: no such number
        "0000000000",  # placeholder: passes mod 11
        "1111111111",  # placeholder: passes mod 11
        "943476591X",
        "",
    ],
)
def test_invalid_nhs_numbers(number: str) -> None:
    assert not valid_nhs_number(number)


def test_normalise_nhs_number() -> None:
    assert normalise_nhs_number("943 476 5919") == "9434765919"
    assert normalise_nhs_number(" ") == ""
    with pytest.raises(InvalidInput, match="nhs_number: not a valid NHS number") as raised:
        normalise_nhs_number("9434765918")
    assert "9434765918" not in str(raised.value)


def _identity(**changes: object) -> Identity:
    fields: dict[str, object] = {
        "forename": "Zoë",
        "surname": "O'Neill",
        "date_of_birth": dt.date(2015, 3, 7),
        "sex": "F",
        "postcode": "LS6 2AB",
        "nhs_number": "9434765919",
    }
    fields.update(changes)
    return Identity(**fields)  # type: ignore[arg-type]


def test_identity_is_a_hashable_value() -> None:
    identity = _identity(previous_surnames=["Walker"])
    assert identity.previous_surnames == ("Walker",)
    assert identity == _identity(previous_surnames=("Walker",))
    assert len({identity, _identity(previous_surnames=("Walker",))}) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sex": "X"}, "sex: must be F, M or U"),
        ({"date_of_birth": "2015-03-07"}, "date_of_birth: must be a date"),
        ({"date_of_birth": dt.datetime(2015, 3, 7, 12, 0)}, "date_of_birth: must be a date"),
        ({"nhs_number": "9434765918"}, "nhs_number: not a valid NHS number"),
        ({"postcode": "nowhere"}, "postcode: not a UK postcode"),
    ],
)
def test_identity_refuses_malformed_fields(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _identity(**changes)


def test_identity_accepts_missing_optional_fields() -> None:
    identity = _identity(postcode="", nhs_number="", sex="U")
    assert identity.postcode == "" and identity.nhs_number == ""


@pytest.mark.parametrize(
    ("written", "read", "swapped"),
    [
        ("2015-03-07", (2015, 3, 7), False),
        ("2015-03", (2015, 3, 0), False),
        ("2015", (2015, 0, 0), False),
        ("07/03/2015", (2015, 3, 7), False),
        ("03/2015", (2015, 3, 0), False),
        ("2010-29-11", (2010, 11, 29), True),  # invalid as written: only the swapped reading is a date
        ("2O15-0l-12", (2015, 1, 12), False),  # letters that look like digits
    ],
)
def test_dates_of_birth_are_read_whole_or_in_part(
    written: str, read: tuple[int, int, int], swapped: bool
) -> None:
    born = BirthDate.parse(written)
    assert (born.year, born.month, born.day, born.swapped) == (*read, swapped)


@pytest.mark.parametrize("written", ["2015-13-45", "2015-02-30", "2015-00", "1-3-7", "yesterday"])
def test_a_date_that_is_no_date_either_way_is_refused_without_echoing(written: str) -> None:
    with pytest.raises(InvalidInput, match="date_of_birth: ") as raised:
        BirthDate.parse(written)
    assert written not in str(raised.value)


@pytest.mark.parametrize(
    "name", ["Baby", "baby girl", "BABY BOY", "Infant", "Unknown", "No Name", "Twin 2", ""]
)
def test_placeholder_forenames_count_as_missing(name: str) -> None:
    assert is_placeholder_forename(name)
    assert given_forename(name) == ""


@pytest.mark.parametrize("name", ["Zoë", "Son", "Man", "Na"])
def test_real_surnames_are_not_placeholders(name: str) -> None:
    assert not is_placeholder_surname(name)


def test_a_lone_initial_is_kept_only_as_an_initial() -> None:
    assert given_forename("J.") == ""
    assert not is_placeholder_forename("J.")


def test_a_typo_of_a_nickname_still_stands_for_its_full_name() -> None:
    assert canonical_forenames_near("Kaitie") == canonical_forenames_near("Katie") == ("catherine",)
    assert canonical_forenames_near("Zzzz") == ("zzzz",)
