"""Every rule of BRIEF.md "Who may search", one test each, and the three-year edge of the DBS check."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.node.accounts import START, TODAY
from whoelse.federation.errors import PermissionDenied
from whoelse.node.accounts.eligibility import (
    AccountStatus,
    NotEligible,
    Reason,
    check_eligibility,
    check_expires_on,
    require_eligible,
)
from whoelse.node.accounts.service import Practitioner

ELIGIBLE = Practitioner(
    username="sam.patel",
    display_name="Sam Patel",
    role="Social worker",
    organisation="Leeds Children's Services",
    contact="0113 496 0002",
    status=AccountStatus.ACTIVE,
    status_reason="",
    manager_authorised_by="Jo Manager",
    manager_authorised_on=dt.date(2025, 1, 6),
    dbs_checked_on=dt.date(2023, 9, 1),
    training_completed_on=dt.date(2025, 1, 10),
    agreement_signed_on=dt.date(2025, 1, 10),
    organisation_accredited=True,
    created_at=START,
)


def reasons_for(**changes: object) -> list[Reason]:
    return [i.reason for i in check_eligibility(dataclasses.replace(ELIGIBLE, **changes), TODAY)]  # type: ignore[arg-type]


def test_a_practitioner_meeting_every_rule_may_search() -> None:
    assert check_eligibility(ELIGIBLE, TODAY) == []
    require_eligible(ELIGIBLE, TODAY)


def test_suspended_account_may_not_search() -> None:
    assert reasons_for(status=AccountStatus.SUSPENDED) == [Reason.SUSPENDED]


def test_ended_account_may_not_search() -> None:
    assert reasons_for(status=AccountStatus.ENDED) == [Reason.ENDED]


def test_no_manager_authorisation_may_not_search() -> None:
    assert reasons_for(manager_authorised_by="", manager_authorised_on=None) == [
        Reason.NO_MANAGER_AUTHORISATION
    ]
    assert reasons_for(manager_authorised_on=None) == [Reason.NO_MANAGER_AUTHORISATION]


def test_expired_criminal_records_check_may_not_search() -> None:
    assert reasons_for(dbs_checked_on=dt.date(2021, 5, 1)) == [Reason.CRIMINAL_RECORDS_CHECK_EXPIRED]


def test_missing_or_future_criminal_records_check_may_not_search() -> None:
    assert reasons_for(dbs_checked_on=None) == [Reason.NO_CRIMINAL_RECORDS_CHECK]
    assert reasons_for(dbs_checked_on=TODAY + dt.timedelta(days=1)) == [Reason.NO_CRIMINAL_RECORDS_CHECK]


def test_check_is_valid_the_day_before_its_third_anniversary_and_expired_on_it() -> None:
    # "Under three years old": a check made on 2 June 2022 is valid on 1 June 2025 and expired on 2 June 2025.
    assert reasons_for(dbs_checked_on=dt.date(2022, 6, 3)) == []
    assert reasons_for(dbs_checked_on=dt.date(2022, 6, 2)) == [Reason.CRIMINAL_RECORDS_CHECK_EXPIRED]


def test_check_made_on_29_february_expires_on_28_february() -> None:
    assert check_expires_on(dt.date(2024, 2, 29)) == dt.date(2027, 2, 28)


def test_no_training_may_not_search() -> None:
    assert reasons_for(training_completed_on=None) == [Reason.NO_TRAINING]


def test_unsigned_agreement_may_not_search() -> None:
    assert reasons_for(agreement_signed_on=None) == [Reason.NO_AGREEMENT]


def test_unaccredited_organisation_may_not_search() -> None:
    assert reasons_for(organisation_accredited=False) == [Reason.ORGANISATION_NOT_ACCREDITED]


def test_refusal_lists_every_failed_rule_with_actionable_messages() -> None:
    lapsed = dataclasses.replace(
        ELIGIBLE,
        dbs_checked_on=dt.date(2020, 2, 1),
        training_completed_on=None,
        organisation_accredited=False,
    )
    with pytest.raises(PermissionDenied) as caught:
        require_eligible(lapsed, TODAY)
    assert isinstance(caught.value, NotEligible)
    assert [r.reason for r in caught.value.reasons] == [
        Reason.CRIMINAL_RECORDS_CHECK_EXPIRED,
        Reason.NO_TRAINING,
        Reason.ORGANISATION_NOT_ACCREDITED,
    ]
    message = str(caught.value)
    assert "expired on 2023-02-01" in message
    assert "complete the training" in message
    assert "Leeds Children's Services" in message
