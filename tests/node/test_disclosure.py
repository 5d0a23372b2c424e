"""Each disclosure rule of BRIEF.md, as a practitioner at another council would see it."""

from __future__ import annotations

import dataclasses
import datetime as dt

from tests.node.records_factory import TODAY, camhs, child, shielded_child, social_worker
from whoelse.node.disclosure import SPECIALIST_SERVICES_NOTE, HoldingCouncil, disclosable_until, disclose

LEEDS = HoldingCouncil("E08000035", "Leeds", "Leeds records team, 0113 496 0999")


def test_ordinary_record_discloses_whereabouts_and_services() -> None:
    d = disclose(child(), LEEDS, TODAY)
    assert d is not None and not d.shielded
    assert d.address is not None and d.address.postcode == "LS6 2AB"
    assert d.education is not None and d.education.name == "Hillside Primary School"
    assert [i.practitioner for i in d.involvements] == ["Sam Patel"]
    assert d.specialist_services_note == ""


def test_shielded_record_discloses_identity_and_records_team_only() -> None:
    d = disclose(shielded_child(), LEEDS, TODAY)
    assert d is not None and d.shielded
    assert (d.forename, d.surname, d.date_of_birth, d.record_id) == (
        "Zoë",
        "O'Neill",
        dt.date(2015, 3, 7),
        "LDS-0001",
    )
    assert d.records_team_contact == "Leeds records team, 0113 496 0999"
    # Nothing from which whereabouts could be deduced.
    assert d.address is None and d.education is None and d.gp is None
    assert d.carers == () and d.involvements == () and d.concerns == ()
    text = repr(dataclasses.asdict(d))
    for leak in ("Mill Lane", "LS6", "Hillside", "Sam Patel", "07700"):
        assert leak not in text


def test_sensitive_service_is_only_the_fixed_phrase() -> None:
    d = disclose(child(involvements=(social_worker(), camhs())), LEEDS, TODAY)
    assert d is not None
    assert d.specialist_services_note == SPECIALIST_SERVICES_NOTE
    assert [i.service_type.value for i in d.involvements] == ["social_care"]
    text = repr(dataclasses.asdict(d))
    assert "Okafor" not in text and "CAMHS" not in text and "camhs" not in text


def test_cause_for_concern_is_existence_and_contact_only() -> None:
    d = disclose(child(), LEEDS, TODAY)
    assert d is not None
    assert [(c.raised_by, c.contact) for c in d.concerns] == [("Sam Patel", "0113 496 0002")]
    assert {f.name for f in dataclasses.fields(d.concerns[0])} == {"raised_by", "contact"}


def test_ended_involvement_is_not_disclosed() -> None:
    ended = social_worker(end_date=dt.date(2025, 6, 1))
    d = disclose(child(involvements=(ended,)), LEEDS, TODAY)
    assert d is not None and d.involvements == ()


def test_retention_ends_at_eighteenth_birthday() -> None:
    born = dt.date(2008, 11, 24)
    record = child(date_of_birth=born)
    assert disclose(record, LEEDS, dt.date(2026, 11, 23)) is not None
    assert disclose(record, LEEDS, dt.date(2026, 11, 24)) is None


def test_retention_with_consent_runs_to_twenty_fifth_birthday() -> None:
    record = child(date_of_birth=dt.date(2004, 1, 1), retention_consent_to_25=True)
    assert disclose(record, LEEDS, TODAY) is not None
    assert disclosable_until(record) == dt.date(2029, 1, 1)
    assert disclose(record, LEEDS, dt.date(2029, 1, 1)) is None


def test_leap_day_birthday_retention() -> None:
    assert disclosable_until(child(date_of_birth=dt.date(2012, 2, 29))) == dt.date(2030, 3, 1)
