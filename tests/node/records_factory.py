"""Small builders for ChildRecord values used across node tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from whoelse.node.records import (
    Address,
    Carer,
    CauseForConcern,
    ChildRecord,
    Education,
    GeneralPractice,
    Involvement,
    RecordId,
    SensitiveBasis,
    ServiceType,
    Sex,
    Shielding,
)

TODAY = dt.date(2026, 11, 23)


def social_worker(**changes: Any) -> Involvement:
    base = Involvement(
        practitioner="Sam Patel",
        organisation="Leeds Children's Services",
        role="Social worker",
        contact="0113 496 0002",
        service_type=ServiceType.SOCIAL_CARE,
        start_date=dt.date(2025, 1, 10),
    )
    return replace(base, **changes)


def camhs() -> Involvement:
    return Involvement(
        practitioner="Dr Ruth Okafor",
        organisation="Leeds CAMHS",
        role="Clinical psychologist",
        contact="0113 496 0100",
        service_type=ServiceType.CAMHS_TIER3,
        start_date=dt.date(2026, 3, 1),
        sensitive_basis=SensitiveBasis.CONSENT,
    )


def child(**changes: Any) -> ChildRecord:
    base = ChildRecord(
        record_id=RecordId("LDS-0001"),
        forename="Zoë",
        surname="O'Neill",
        date_of_birth=dt.date(2015, 3, 7),
        sex=Sex.FEMALE,
        address=Address(line1="12 Mill Lane", town="Leeds", postcode="LS6 2AB"),
        nhs_number="9434765919",
        education=Education("Hillside Primary School", "0113 496 0000"),
        gp=GeneralPractice("Mill Lane Surgery", "0113 496 0001"),
        carers=(Carer("Ann O'Neill", "mother", "07700 900123"),),
        involvements=(social_worker(),),
        concerns=(CauseForConcern("Sam Patel", "0113 496 0002", dt.date(2026, 2, 1)),),
    )
    return replace(base, **changes)


def shielded_child() -> ChildRecord:
    return child(shielding=Shielding("risk from a former partner", "Records Team", dt.date(2026, 1, 5)))


def born(record: ChildRecord) -> dt.date:
    """The record's date of birth, for records (synthetic ones, the factory's) that always have one."""
    assert record.date_of_birth is not None
    return record.date_of_birth
