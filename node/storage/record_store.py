"""Reading and writing child records and their lookup tags.

Writes are bulk upserts keyed by the council's record id: the old rows for an id are deleted and the new
ones inserted in the same transaction, so re-importing a file is idempotent and a failed batch leaves the
previous version intact.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from node.records import (
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
from node.storage.tables import CarerRow, Child, ConcernRow, InvolvementRow, MatchTag

TagFn = Callable[[ChildRecord], Sequence[bytes]]


def _child_row(r: ChildRecord, now: dt.datetime) -> dict[str, Any]:
    return {
        "record_id": r.record_id,
        "forename": r.forename,
        "middle_names": r.middle_names,
        "surname": r.surname,
        "known_as": r.known_as,
        "previous_surnames": ";".join(r.previous_surnames),
        "date_of_birth": r.date_of_birth,
        "sex": r.sex.value,
        "nhs_number": r.nhs_number,
        "address_line1": r.address.line1,
        "address_line2": r.address.line2,
        "address_town": r.address.town,
        "address_postcode": r.address.postcode,
        "education_institution": r.education.institution if r.education else None,
        "education_contact": r.education.contact if r.education else "",
        "gp_practice": r.gp.practice if r.gp else None,
        "gp_contact": r.gp.contact if r.gp else "",
        "shielding_reason": r.shielding.reason if r.shielding else None,
        "shielding_shielded_by": r.shielding.shielded_by if r.shielding else "",
        "shielding_shielded_on": r.shielding.shielded_on if r.shielding else None,
        "retention_consent_to_25": r.retention_consent_to_25,
        "archived_on": None,
        "updated_at": now,
    }


def upsert_records(session: Session, records: Sequence[ChildRecord], tag_fn: TagFn, scheme: str) -> int:
    """Insert or replace `records` (by record id) with their lookup tags. Returns how many were written."""
    if not records:
        return 0
    now = dt.datetime.now(dt.UTC)
    by_id = {r.record_id: r for r in records}  # the last copy of an id in one batch wins
    ids = list(by_id)
    conn = session.connection()
    conn.execute(delete(Child).where(Child.record_id.in_(ids)))
    if conn.dialect.name == "postgresql":
        # Ids are assigned here rather than by RETURNING (far faster in bulk); one writer at a time.
        conn.execute(text("LOCK TABLE children IN SHARE ROW EXCLUSIVE MODE"))
    next_id = int(conn.execute(select(func.coalesce(func.max(Child.id), 0))).scalar_one()) + 1
    pk = {record_id: next_id + n for n, record_id in enumerate(by_id)}
    rows = [{"id": pk[r.record_id], **_child_row(r, now)} for r in by_id.values()]
    conn.execute(insert(Child), rows)  # Core executemany on the connection
    carers, involvements, concerns, tags = [], [], [], []
    for record_id, r in by_id.items():
        child_id = pk[record_id]
        carers += [
            {"child_id": child_id, "name": c.name, "relationship": c.relationship, "contact": c.contact}
            for c in r.carers
        ]
        involvements += [
            {
                "child_id": child_id,
                "practitioner": i.practitioner,
                "organisation": i.organisation,
                "role": i.role,
                "contact": i.contact,
                "service_type": i.service_type.value,
                "start_date": i.start_date,
                "end_date": i.end_date,
                "sensitive_basis": i.sensitive_basis.value if i.sensitive_basis else None,
                "override_reason": i.override_reason,
            }
            for i in r.involvements
        ]
        concerns += [
            {"child_id": child_id, "raised_by": c.raised_by, "contact": c.contact, "raised_on": c.raised_on}
            for c in r.concerns
        ]
        tags += [{"tag": t, "scheme": scheme, "child_id": child_id} for t in dict.fromkeys(tag_fn(r))]
    for table, values in (
        (CarerRow, carers),
        (InvolvementRow, involvements),
        (ConcernRow, concerns),
        (MatchTag, tags),
    ):
        if values:
            conn.execute(insert(table), values)
    return len(by_id)


def _record(
    child: Child, carers: list[CarerRow], invs: list[InvolvementRow], cons: list[ConcernRow]
) -> ChildRecord:
    return ChildRecord(
        record_id=RecordId(child.record_id),
        forename=child.forename,
        surname=child.surname,
        date_of_birth=child.date_of_birth,
        sex=Sex(child.sex),
        address=Address(
            line1=child.address_line1,
            line2=child.address_line2,
            town=child.address_town,
            postcode=child.address_postcode,
        ),
        middle_names=child.middle_names,
        known_as=child.known_as,
        nhs_number=child.nhs_number,
        education=(
            Education(child.education_institution, child.education_contact)
            if child.education_institution is not None
            else None
        ),
        gp=GeneralPractice(child.gp_practice, child.gp_contact) if child.gp_practice is not None else None,
        carers=tuple(Carer(c.name, c.relationship, c.contact) for c in carers),
        involvements=tuple(
            Involvement(
                practitioner=i.practitioner,
                organisation=i.organisation,
                role=i.role,
                contact=i.contact,
                service_type=ServiceType(i.service_type),
                start_date=i.start_date,
                end_date=i.end_date,
                sensitive_basis=SensitiveBasis(i.sensitive_basis) if i.sensitive_basis else None,
                override_reason=i.override_reason,
            )
            for i in invs
        ),
        concerns=tuple(CauseForConcern(c.raised_by, c.contact, c.raised_on) for c in cons),
        shielding=(
            Shielding(child.shielding_reason, child.shielding_shielded_by, child.shielding_shielded_on)
            if child.shielding_reason is not None and child.shielding_shielded_on is not None
            else None
        ),
        retention_consent_to_25=child.retention_consent_to_25,
        previous_surnames=tuple(p for p in child.previous_surnames.split(";") if p),
    )


def load_records(session: Session, child_ids: Sequence[int]) -> dict[int, ChildRecord]:
    """Whole records for the given internal ids, in four indexed queries."""
    if not child_ids:
        return {}
    ids = list(dict.fromkeys(child_ids))
    children = session.scalars(select(Child).where(Child.id.in_(ids))).all()
    carers: dict[int, list[CarerRow]] = defaultdict(list)
    invs: dict[int, list[InvolvementRow]] = defaultdict(list)
    cons: dict[int, list[ConcernRow]] = defaultdict(list)
    for c in session.scalars(select(CarerRow).where(CarerRow.child_id.in_(ids)).order_by(CarerRow.id)):
        carers[c.child_id].append(c)
    for i in session.scalars(
        select(InvolvementRow).where(InvolvementRow.child_id.in_(ids)).order_by(InvolvementRow.id)
    ):
        invs[i.child_id].append(i)
    for k in session.scalars(select(ConcernRow).where(ConcernRow.child_id.in_(ids)).order_by(ConcernRow.id)):
        cons[k.child_id].append(k)
    return {ch.id: _record(ch, carers[ch.id], invs[ch.id], cons[ch.id]) for ch in children}


def child_id_of(session: Session, record_id: str) -> int | None:
    return session.scalar(select(Child.id).where(Child.record_id == record_id))


def count_records(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Child)) or 0)


def records_by_record_id(session: Session, record_ids: Sequence[str]) -> dict[str, ChildRecord]:
    """The stored version of each of these records (by the council's record id), where one exists."""
    ids = list(session.scalars(select(Child.id).where(Child.record_id.in_(list(record_ids)))))
    return {str(r.record_id): r for r in load_records(session, ids).values()}


IdentityRow = tuple[int, int, str, str, str, str, dt.date, str, str, str, str]
"""(child id, tags shared, forename, middle names, surname, known as, date of birth, sex, postcode,
NHS number, previous surnames joined by ';')."""


def candidate_identities(
    session: Session, tags: Sequence[bytes], scheme: str | None = None, limit: int = 200
) -> list[IdentityRow]:
    """Records sharing any of `tags`, most shared first, with just the fields matching needs: one indexed
    query, so scoring never loads whole records that will not match."""
    if not tags:
        return []
    shared = func.count(MatchTag.id)
    query = (
        select(
            Child.id,
            shared,
            Child.forename,
            Child.middle_names,
            Child.surname,
            Child.known_as,
            Child.date_of_birth,
            Child.sex,
            Child.address_postcode,
            Child.nhs_number,
            Child.previous_surnames,
        )
        .join(MatchTag, MatchTag.child_id == Child.id)
        .where(MatchTag.tag.in_(list(tags)))
        .group_by(Child.id)
        .order_by(shared.desc())
        .limit(limit)
    )
    if scheme is not None:
        query = query.where(MatchTag.scheme == scheme)
    return [tuple(row) for row in session.execute(query)]
