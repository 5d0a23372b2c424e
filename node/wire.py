"""Conversions between the node's domain objects and the wire contract (whoelse.v1 protobufs)."""

from __future__ import annotations

import datetime as dt
import unicodedata

from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput
from whoelse.federation.identity import BirthDate, Identity, is_placeholder_forename
from whoelse.federation.match_keys import check_searchable
from whoelse.node.disclosure import Contactable, Disclosure
from whoelse.v1 import records_pb2 as pb


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
        date_of_birth=d.date_of_birth.isoformat() if d.date_of_birth else "",
        **closed_sets.SEX.fields(d.sex.value),
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


def reading_notes(msg: pb.SearchIdentity, today: dt.date | None = None) -> list[str]:
    """How the searched details were read where that is not how they were written, in the practitioner's
    terms (shown back to the practitioner who typed them; never logged)."""
    notes = []
    today = today or dt.date.today()
    written = msg.date_of_birth.strip()
    if written:
        try:
            born = BirthDate.parse(written)
        except InvalidInput:
            born = None
        if born is not None and born.swapped:
            notes.append(
                f"date of birth {written[:20]} is not a date as written; read with day and month swapped,"
                f" as {born.isoformat()}"
            )
        elif born is not None and any(char.isalpha() for char in written):  # O for 0, l for 1
            notes.append(f"date of birth {written[:20]} read as {born.isoformat()}")
        if born is not None and born.year < today.year - MAX_SEARCH_AGE_YEARS:
            notes.append(
                f"date of birth {written[:20]} is more than {MAX_SEARCH_AGE_YEARS} years ago, so not a"
                " child's (perhaps a parent's): searched on the other details and the date's day and month"
            )
    if msg.forename.strip() and is_placeholder_forename(msg.forename):
        notes.append(f"forename {msg.forename.strip()[:40]!r} is a placeholder: searched as no forename")
    return notes


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters that reorder what a reader sees (a name shown back to front): refused as control characters."""

MAX_SEARCH_AGE_YEARS = 26
"""A searched date of birth more than this many years ago cannot be a child's (records are kept to 25 at
most): usually a parent's date typed in the child's place. The search still runs on the other details and
on the date's day and month, and says so (`reading_notes`)."""
EARLIEST_BIRTH_YEAR = 1900
"""A searched year of birth before this is refused as no date at all."""


def identity_from_pb(
    msg: pb.SearchIdentity, *, today: dt.date | None = None, require_searchable: bool = True
) -> Identity:
    """A search identity from the wire; errors name the field and never repeat its value.

    Details may be missing (no forename, a year of birth only, sex "U", no postcode); with
    `require_searchable` (at the searcher's own council) the search is refused when what is left could
    never open a record, naming what else would help (whoelse.federation.match_keys.check_searchable)."""
    for field in ("forename", "surname", "date_of_birth", "legacy_sex", "postcode", "nhs_number"):
        value = getattr(msg, field)
        name = field.removeprefix("legacy_")  # sex: the 0.1 string a client may still send
        if len(value) > 100:
            raise InvalidInput(f"search: {name} too long")
        if any(unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI_CONTROLS for char in value):
            raise InvalidInput(f"search: {name} contains a control character")
    try:
        born = BirthDate.parse(msg.date_of_birth) if msg.date_of_birth.strip() else None
    except InvalidInput as exc:
        raise InvalidInput(f"search: {exc}") from None
    if born is not None:
        today = today or dt.date.today()
        if (born.year, born.month, born.day) > (today.year, today.month, today.day):
            raise InvalidInput("search: date_of_birth is in the future")
        if born.year < EARLIEST_BIRTH_YEAR:
            raise InvalidInput(f"search: date_of_birth is before {EARLIEST_BIRTH_YEAR}")
    sex = (closed_sets.SEX.read(msg) or "U").strip().upper()
    if sex not in ("F", "M", "U"):
        raise InvalidInput("search: sex must be F, M or U")
    try:
        identity = Identity(
            forename=msg.forename.strip(),
            surname=msg.surname.strip(),
            date_of_birth=born,
            sex=sex,
            postcode=msg.postcode.strip(),
            nhs_number=msg.nhs_number.strip(),
        )
    except InvalidInput as exc:
        raise InvalidInput(f"search: {exc}") from None
    if require_searchable:
        check_searchable(identity)
    return identity
