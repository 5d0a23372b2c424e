"""What changed in a child's record, as alert events that may leave this council.

`change_events` compares the previous and the new version of a record (at import) and returns the events to
send to other councils. Their content is already filtered by the disclosure rules (node/disclosure.py):

- Ordinary involvement: "A social worker at Leeds Children's Services became involved" and the
  practitioner's contact.
- Sensitive service: only the fixed phrase "One or more specialist and targeted services have been recorded
  at <council>", with the records team's contact, and only when that phrase would newly appear in the
  record's disclosure (a second sensitive service changes nothing that may be disclosed, so it is not news).
- Cause for concern: that one was raised, and the raiser's contact; never its substance.
- Change of address: that the address changed; never the address or postcode.
- Shielded record: only "A change was recorded at <council>" with the records team's contact, dated the day
  it was recorded. A move is never alerted at all: even a content-free alert would date the move.
- A record past retention produces no events; ended involvements are not news.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from whoelse.node.disclosure import SPECIALIST_SERVICES_NOTE, HoldingCouncil, is_disclosable
from whoelse.node.records import Address, CauseForConcern, ChildRecord, Involvement
from whoelse.v1 import federation_pb2


class EventType(enum.StrEnum):
    NEW_INVOLVEMENT = "new_involvement"
    CAUSE_FOR_CONCERN = "cause_for_concern"
    CHANGE_OF_ADDRESS = "change_of_address"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change, worded for practitioners at other councils. Holds nothing the rules forbid to disclose."""

    event_type: EventType
    occurred_on: dt.date
    summary: str
    contact: str


def shielded_summary(council: HoldingCouncil) -> str:
    return f"A change was recorded at {council.name}"


def specialist_summary(council: HoldingCouncil) -> str:
    return f"{SPECIALIST_SERVICES_NOTE} at {council.name}"


def concern_summary(council: HoldingCouncil) -> str:
    return f"A cause for concern was raised at {council.name}"


def address_summary(council: HoldingCouncil) -> str:
    return f"The child's address changed at {council.name}"


def involvement_summary(role: str, organisation: str) -> str:
    return f"{_with_article(role)} at {organisation.strip()} became involved"


def _with_article(role: str) -> str:
    """Role with its article: "Social worker" -> "A social worker", "GP" -> "A GP"."""
    text = " ".join(role.split()) or "practitioner"
    if len(text) > 1 and text[1].islower():  # an ordinary word, not an acronym such as GP or SENCO
        text = text[0].lower() + text[1:]
        return f"{'An' if text[0] in 'aeiou' else 'A'} {text}"
    return f"A {text}"


def _contact(name: str, contact: str) -> str:
    return ", ".join(part for part in (name.strip(), contact.strip()) if part)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _involvement_key(i: Involvement) -> tuple[str, str, str, dt.date]:
    # A changed contact or end date is the same involvement; the same person starting again is a new one.
    return (_fold(i.practitioner), _fold(i.organisation), i.service_type.value, i.start_date)


def _concern_key(c: CauseForConcern) -> tuple[str, dt.date]:
    return (_fold(c.raised_by), c.raised_on)


def _address_key(a: Address) -> tuple[str, str, str, str]:
    return (_fold(a.line1), _fold(a.line2), _fold(a.town), "".join(a.postcode.split()).upper())


def _raw_events(
    old: ChildRecord | None, new: ChildRecord, council: HoldingCouncil, today: dt.date
) -> list[ChangeEvent]:
    """The changes under the rules for an unshielded record."""
    events: list[ChangeEvent] = []
    old_involvements = old.involvements if old else ()
    known = {_involvement_key(i) for i in old_involvements}
    started = [i for i in new.involvements if i.active_on(today) and _involvement_key(i) not in known]
    for i in started:
        if not i.sensitive:
            events.append(
                ChangeEvent(
                    EventType.NEW_INVOLVEMENT,
                    i.start_date,
                    involvement_summary(i.role, i.organisation),
                    _contact(i.practitioner, i.contact),
                )
            )
    had_specialist = any(i.sensitive and i.active_on(today) for i in old_involvements)
    if not had_specialist and any(i.sensitive for i in started):
        # Dated the day it was recorded: the start date of a sensitive service is not for disclosure.
        events.append(
            ChangeEvent(
                EventType.NEW_INVOLVEMENT, today, specialist_summary(council), council.records_team_contact
            )
        )

    raised = {_concern_key(c) for c in (old.concerns if old else ())}
    for c in new.concerns:
        if _concern_key(c) not in raised:
            events.append(
                ChangeEvent(
                    EventType.CAUSE_FOR_CONCERN,
                    c.raised_on,
                    concern_summary(council),
                    _contact(c.raised_by, c.contact),
                )
            )

    if old is not None and _address_key(old.address) != _address_key(new.address):
        events.append(
            ChangeEvent(
                EventType.CHANGE_OF_ADDRESS, today, address_summary(council), council.records_team_contact
            )
        )
    return events


def _shielded(event: ChangeEvent, council: HoldingCouncil, today: dt.date) -> ChangeEvent:
    return ChangeEvent(event.event_type, today, shielded_summary(council), council.records_team_contact)


def _unique(events: Iterable[ChangeEvent]) -> list[ChangeEvent]:
    return list(dict.fromkeys(events))


def change_events(
    old: ChildRecord | None, new: ChildRecord, council: HoldingCouncil, today: dt.date
) -> list[ChangeEvent]:
    """The alert events for the change from `old` (None: a record new to this council) to `new`.

    A record new to this council is news to practitioners elsewhere: each current involvement is a
    "new_involvement" and each concern on it a "cause_for_concern". Identical events are sent once.
    """
    if not is_disclosable(new, today):
        return []
    events = _raw_events(old, new, council, today)
    if new.shielded:
        events = [
            _shielded(e, council, today) for e in events if e.event_type is not EventType.CHANGE_OF_ADDRESS
        ]
    return _unique(events)


def to_proto(event: ChangeEvent, council: HoldingCouncil) -> federation_pb2.AlertEvent:
    return federation_pb2.AlertEvent(
        event_type=event.event_type.value,
        occurred_on=event.occurred_on.isoformat(),
        council_code=council.code,
        council_name=council.name,
        summary=event.summary,
        contact=event.contact,
    )
