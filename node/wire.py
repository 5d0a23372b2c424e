"""Conversions between the node's domain objects and the wire contract (whoelse.v1 protobufs)."""

from __future__ import annotations

import datetime as dt

from whoelse.v1 import records_pb2 as pb

from federation.errors import InvalidInput
from federation.identity import Identity
from node.disclosure import Contactable, Disclosure


def _contactable(c: Contactable | None) -> pb.Contactable | None:
    if c is None:
        return None
    return pb.Contactable(
        name=c.name,
        relationship_or_role=c.relationship_or_role,
        organisation=c.organisation,
        contact=c.contact,
    )


def disclosure_to_pb(d: Disclosure) -> pb.Disclosure:
    msg = pb.Disclosure(
        council_code=d.council_code,
        council_name=d.council_name,
        record_id=d.record_id,
        forename=d.forename,
        surname=d.surname,
        date_of_birth=d.date_of_birth.isoformat(),
        sex=d.sex.value,
        nhs_number=d.nhs_number,
        shielded=d.shielded,
        records_team_contact=d.records_team_contact,
        specialist_services_note=d.specialist_services_note,
    )
    if d.address is not None:
        msg.address.CopyFrom(
            pb.Address(
                line1=d.address.line1, line2=d.address.line2, town=d.address.town, postcode=d.address.postcode
            )
        )
    if (education := _contactable(d.education)) is not None:
        msg.education.CopyFrom(education)
    if (gp := _contactable(d.gp)) is not None:
        msg.gp.CopyFrom(gp)
    msg.carers.extend(c for c in (_contactable(x) for x in d.carers) if c is not None)
    msg.involvements.extend(
        pb.DisclosedInvolvement(
            practitioner=i.practitioner,
            organisation=i.organisation,
            role=i.role,
            contact=i.contact,
            service_type=i.service_type.value,
            start_date=i.start_date.isoformat(),
        )
        for i in d.involvements
    )
    msg.concerns.extend(pb.DisclosedConcern(raised_by=c.raised_by, contact=c.contact) for c in d.concerns)
    return msg


def identity_from_pb(msg: pb.SearchIdentity) -> Identity:
    """A search identity from the wire; errors name the field."""
    missing = [f for f in ("forename", "surname", "date_of_birth") if not getattr(msg, f).strip()]
    if missing:
        raise InvalidInput(f"search: {', '.join(missing)} required")
    try:
        born = dt.date.fromisoformat(msg.date_of_birth.strip())
    except ValueError as exc:
        raise InvalidInput(f"search: date_of_birth {msg.date_of_birth[:20]!r} is not YYYY-MM-DD") from exc
    sex = (msg.sex or "U").strip().upper()
    if sex not in ("F", "M", "U"):
        raise InvalidInput("search: sex must be F, M or U")
    for field in ("forename", "surname", "postcode", "nhs_number"):
        if len(getattr(msg, field)) > 100:
            raise InvalidInput(f"search: {field} too long")
    return Identity(
        forename=msg.forename.strip(),
        surname=msg.surname.strip(),
        date_of_birth=born,
        sex=sex,
        postcode=msg.postcode.strip(),
        nhs_number=msg.nhs_number.strip(),
    )
