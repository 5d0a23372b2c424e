"""The disclosure rules (BRIEF.md), in one place: what may leave this council about one child.

A `Disclosure` is built only from allowed fields; nothing else in the node turns a record into anything
that leaves it. The rules:

- Retention: disclosable until the 18th birthday, or the 25th with recorded consent; after that nothing.
  A record with no date of birth cannot age out and stays disclosable until one is recorded.
- Ended record (absent from a full refresh of the council's records): kept, never disclosed.
- Shielded record: name, identifier, sex and date of birth, plus the records team's contact. Nothing from
  which whereabouts could be deduced (no address, school, GP, carers, services or concern contacts).
- Sensitive services (sexual health, CAMHS tier 2-4, substance misuse): never named; their presence is
  disclosed only as SPECIALIST_SERVICES_NOTE.
- Cause for concern: only its existence and the contact of the practitioner who raised it.
- Ended involvements are not disclosed: the question is who is working with the child now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from whoelse.node.records import Address, ChildRecord, Involvement, RecordId, ServiceType, Sex

SPECIALIST_SERVICES_NOTE = "One or more specialist and targeted services have been recorded"


@dataclass(frozen=True, slots=True)
class HoldingCouncil:
    code: str
    name: str
    records_team_contact: str


@dataclass(frozen=True, slots=True)
class Contactable:
    name: str
    relationship_or_role: str = ""
    organisation: str = ""
    contact: str = ""


@dataclass(frozen=True, slots=True)
class DisclosedInvolvement:
    practitioner: str
    organisation: str
    role: str
    contact: str
    service_type: ServiceType
    start_date: dt.date


@dataclass(frozen=True, slots=True)
class DisclosedConcern:
    raised_by: str
    contact: str


@dataclass(frozen=True, slots=True)
class Disclosure:
    council_code: str
    council_name: str
    record_id: RecordId
    forename: str
    surname: str
    date_of_birth: dt.date | None
    sex: Sex
    nhs_number: str
    shielded: bool
    records_team_contact: str = ""
    address: Address | None = None
    education: Contactable | None = None
    gp: Contactable | None = None
    carers: tuple[Contactable, ...] = ()
    involvements: tuple[DisclosedInvolvement, ...] = ()
    specialist_services_note: str = ""
    concerns: tuple[DisclosedConcern, ...] = ()


def _birthday(born: dt.date, years: int) -> dt.date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # born on 29 February: the birthday is 1 March in a common year
        return dt.date(born.year + years, 3, 1)


def disclosable_until(record: ChildRecord) -> dt.date | None:
    """The day the record stops being disclosable: the 18th birthday, or the 25th with recorded consent.

    None for a record with no date of birth: it cannot age out, so it stays disclosable until the records
    team adds the date (docs/import-format.md)."""
    if record.date_of_birth is None:
        return None
    return _birthday(record.date_of_birth, 25 if record.retention_consent_to_25 else 18)


def is_disclosable(record: ChildRecord, today: dt.date) -> bool:
    if record.ended_on is not None and record.ended_on <= today:
        return False  # the council's records no longer list the child (a full refresh ended the record)
    until = disclosable_until(record)
    return until is None or today < until


def _involvement(i: Involvement) -> DisclosedInvolvement:
    return DisclosedInvolvement(
        i.practitioner, i.organisation, i.role, i.contact, i.service_type, i.start_date
    )


def disclose(record: ChildRecord, council: HoldingCouncil, today: dt.date) -> Disclosure | None:
    """What may leave this council about `record` today, or None when retention has ended."""
    if not is_disclosable(record, today):
        return None
    base = Disclosure(
        council_code=council.code,
        council_name=council.name,
        record_id=record.record_id,
        forename=record.forename,
        surname=record.surname,
        date_of_birth=record.date_of_birth,
        sex=record.sex,
        nhs_number=record.nhs_number,
        shielded=record.shielded,
    )
    if record.shielded:
        return replace(base, records_team_contact=council.records_team_contact)

    current = [i for i in record.involvements if i.active_on(today)]
    return replace(
        base,
        address=record.address,
        education=(
            Contactable(record.education.institution, contact=record.education.contact)
            if record.education
            else None
        ),
        gp=Contactable(record.gp.practice, contact=record.gp.contact) if record.gp else None,
        carers=tuple(Contactable(c.name, c.relationship, contact=c.contact) for c in record.carers),
        involvements=tuple(_involvement(i) for i in current if not i.sensitive),
        specialist_services_note=SPECIALIST_SERVICES_NOTE if any(i.sensitive for i in current) else "",
        concerns=tuple(DisclosedConcern(c.raised_by, c.contact) for c in record.concerns),
    )
