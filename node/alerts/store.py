"""Storing alerts: the outbox of changes at this council, and the alerts received for practitioners here.

Sending side: the importer `enqueue`s the events of a changed record (waking the sender once it commits);
the node server takes `pending` items,
sends each as a notification to every council still `waiting_for` it, then calls `record_attempt` with those
that did not answer: an item is sent once all have answered, retried with backoff (node/alerts/retry.py)
until its bound, then kept as `undelivered` for the records team (`whoelse node alerts undelivered`).

Receiving side: when a notification matches a local record, `deliver` stores one alert for each practitioner
involved with the child today; practitioners read them with `list_for` and `mark_read`.
"""

from __future__ import annotations

import datetime as dt
import enum
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from whoelse.federation.errors import InvalidInput, NotFound
from whoelse.node.alerts.events import ChangeEvent, EventType
from whoelse.node.alerts.retry import RetryPolicy
from whoelse.node.alerts.tables import CONTACT as CONTACT_LENGTH
from whoelse.node.alerts.tables import COUNCIL_CODE, LAST_ERROR, NAME, SUMMARY, AlertOutboxRow, AlertRow
from whoelse.node.alerts.wakeup import alerts_queued
from whoelse.node.disclosure import is_disclosable
from whoelse.node.records import ChildRecord, RecordId
from whoelse.node.storage.tables import Child
from whoelse.v1 import federation_pb2, practitioner_pb2


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def practitioner_key(name: str) -> str:
    """A practitioner's name folded for matching: an account's display name against an involvement's name."""
    return " ".join(name.split()).casefold()


def child_name(forename: str, surname: str) -> str:
    return f"{forename} {surname}".strip()


# --- sending: the outbox ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A queued change at this council, to be sent as a notification to the councils still waiting for it."""

    id: int
    record_id: RecordId
    event: ChangeEvent
    created_at: dt.datetime
    attempts: int
    waiting_for: frozenset[str] | None = None  # None: not yet routed, so every active council
    next_attempt_at: dt.datetime | None = None
    undelivered_at: dt.datetime | None = None
    last_error: str | None = None


class Attempt(enum.Enum):
    DELIVERED = "delivered"  # every council asked has now answered
    RETRY = "retry"  # some have not; tried again after a backoff
    UNDELIVERED = "undelivered"  # the bound has passed: recorded for the records team


def enqueue(
    session: Session, record_id: RecordId, events: Sequence[ChangeEvent], now: dt.datetime | None = None
) -> int:
    """Queue `events` for the child `record_id`. Returns how many were queued."""
    if not events:
        return 0
    created = now or _utc_now()
    rows = [
        {
            "record_id": record_id,
            "event_type": e.event_type.value,
            "occurred_on": e.occurred_on,
            "summary": e.summary,
            "contact": e.contact,
            "created_at": created,
            "sent_at": None,
            "attempts": 0,
        }
        for e in events
    ]
    session.execute(insert(AlertOutboxRow), rows)
    alerts_queued(session)  # the sender is woken once this commits (node/alerts/wakeup.py)
    return len(rows)


def _item(row: AlertOutboxRow) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        record_id=RecordId(row.record_id),
        event=ChangeEvent(EventType(row.event_type), row.occurred_on, row.summary, row.contact),
        created_at=row.created_at,
        attempts=row.attempts,
        waiting_for=None if row.waiting_for is None else frozenset(row.waiting_for.split()),
        next_attempt_at=row.next_attempt_at,
        undelivered_at=row.undelivered_at,
        last_error=row.last_error,
    )


def pending(session: Session, limit: int = 100, now: dt.datetime | None = None) -> list[OutboxItem]:
    """Items due to be sent: neither delivered nor given up, and past their backoff. Oldest first; ones that
    already failed go after fresh ones, so none holds up the rest."""
    rows = session.scalars(
        select(AlertOutboxRow)
        .where(
            AlertOutboxRow.sent_at.is_(None),
            AlertOutboxRow.undelivered_at.is_(None),
            or_(
                AlertOutboxRow.next_attempt_at.is_(None),
                AlertOutboxRow.next_attempt_at <= (now or _utc_now()),
            ),
        )
        .order_by(AlertOutboxRow.attempts, AlertOutboxRow.id)
        .limit(limit)
    )
    return [_item(row) for row in rows]


def mark_sent(session: Session, ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Record that these items reached every council. Returns how many were newly marked."""
    wanted = list(ids)
    if not wanted:
        return 0
    result = session.execute(
        update(AlertOutboxRow)
        .where(AlertOutboxRow.id.in_(wanted), AlertOutboxRow.sent_at.is_(None))
        .values(sent_at=now or _utc_now(), waiting_for="", next_attempt_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def record_attempt(
    session: Session,
    item_id: int,
    waiting_for: Iterable[str] | None,
    policy: RetryPolicy,
    *,
    error: str = "",
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> Attempt:
    """Record one attempt at sending an item: `waiting_for` are the councils that still have not answered
    (None when the attempt never reached the directory, so no council was asked)."""
    row = session.get(AlertOutboxRow, item_id)
    if row is None:
        raise NotFound(f"alert outbox: no item {item_id}")
    now = now or _utc_now()
    if waiting_for is not None:
        row.waiting_for = " ".join(sorted(set(waiting_for)))
        if not row.waiting_for:
            row.sent_at, row.next_attempt_at = now, None
            return Attempt.DELIVERED
    row.attempts += 1
    row.last_error = error[:LAST_ERROR] or None
    if policy.gives_up(row.created_at, now):
        row.undelivered_at, row.next_attempt_at = now, None
        return Attempt.UNDELIVERED
    row.next_attempt_at = now + policy.delay(row.attempts, rng)
    return Attempt.RETRY


def give_up(session: Session, item_id: int, error: str, now: dt.datetime | None = None) -> None:
    """Record an item undelivered at once (e.g. its record has been removed since it was queued)."""
    row = session.get(AlertOutboxRow, item_id)
    if row is None:
        raise NotFound(f"alert outbox: no item {item_id}")
    row.undelivered_at, row.next_attempt_at, row.last_error = now or _utc_now(), None, error[:LAST_ERROR]


def count_queued(session: Session) -> int:
    """Items neither delivered nor given up: waiting for their first send or a retry."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(AlertOutboxRow)
            .where(AlertOutboxRow.sent_at.is_(None), AlertOutboxRow.undelivered_at.is_(None))
        )
        or 0
    )


def undelivered(session: Session, limit: int | None = None) -> list[OutboxItem]:
    """Items given up on, newest first: the changes some council never heard of, for the records team."""
    query = (
        select(AlertOutboxRow)
        .where(AlertOutboxRow.undelivered_at.is_not(None))
        .order_by(AlertOutboxRow.undelivered_at.desc(), AlertOutboxRow.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [_item(row) for row in session.scalars(query)]


# --- receiving: alerts for practitioners here ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert for one practitioner here, as `Practitioner.ListAlerts` and `WatchAlerts` show it."""

    alert_id: str
    record_id: RecordId
    child_name: str  # from this council's own record
    practitioner_name: str  # as recorded on the involvement
    event_type: str
    occurred_on: dt.date
    from_council_code: str
    from_council_name: str
    summary: str
    contact: str
    received_at: dt.datetime
    read_at: dt.datetime | None = None

    @property
    def read(self) -> bool:
        return self.read_at is not None

    def to_proto(self) -> practitioner_pb2.Alert:
        return practitioner_pb2.Alert(
            alert_id=self.alert_id,
            record_id=self.record_id,
            child_name=self.child_name,
            event_type=self.event_type,
            occurred_on=self.occurred_on.isoformat(),
            from_council_code=self.from_council_code,
            from_council_name=self.from_council_name,
            summary=self.summary,
            contact=self.contact,
            received_at_ms=int(self.received_at.timestamp() * 1000),
        )


@dataclass(frozen=True, slots=True)
class _Received:
    event_type: str
    occurred_on: dt.date
    council_code: str
    council_name: str
    summary: str
    contact: str


def _checked(event: federation_pb2.AlertEvent) -> _Received:
    """The event from another council, refused when it is not one this node can store and show."""

    def text(field: str, value: str, limit: int) -> str:
        value = value.strip()
        if not value:
            raise InvalidInput(f"alert event: {field} is empty")
        if len(value) > limit:
            raise InvalidInput(f"alert event: {field} is longer than {limit} characters")
        return value

    if event.event_type not in set(EventType):
        raise InvalidInput(f"alert event: unknown event_type {event.event_type[:40]!r}")
    try:
        occurred_on = dt.date.fromisoformat(event.occurred_on)
    except ValueError as exc:
        raise InvalidInput(
            f"alert event: occurred_on is not a YYYY-MM-DD date: {event.occurred_on[:20]!r}"
        ) from exc
    return _Received(
        event_type=event.event_type,
        occurred_on=occurred_on,
        council_code=text("council_code", event.council_code, COUNCIL_CODE),
        council_name=text("council_name", event.council_name, NAME),
        summary=text("summary", event.summary, SUMMARY),
        contact=text("contact", event.contact, CONTACT_LENGTH),
    )


def deliver(
    session: Session,
    record: ChildRecord,
    event: federation_pb2.AlertEvent,
    today: dt.date,
    now: dt.datetime | None = None,
) -> list[StoredAlert]:
    """Store an alert about `record` for each practitioner involved with the child here today.

    Returns the alerts stored (none when nobody here is involved today, when the record is past retention,
    or when each practitioner already has this same alert: a notification sent twice is shown once).
    Raises InvalidInput when the event is malformed.
    """
    received = _checked(event)
    if not is_disclosable(record, today):
        return []
    practitioners: dict[str, str] = {}
    for involvement in record.involvements:
        if involvement.active_on(today):
            practitioners.setdefault(
                practitioner_key(involvement.practitioner), involvement.practitioner.strip()
            )
    if not practitioners:
        return []
    already = set(
        session.scalars(
            select(AlertRow.practitioner_key).where(
                AlertRow.record_id == record.record_id,
                AlertRow.practitioner_key.in_(list(practitioners)),
                AlertRow.event_type == received.event_type,
                AlertRow.occurred_on == received.occurred_on,
                AlertRow.from_council_code == received.council_code,
                AlertRow.summary == received.summary,
                AlertRow.contact == received.contact,
            )
        )
    )
    received_at = now or _utc_now()
    stored = [
        StoredAlert(
            alert_id=uuid.uuid4().hex,
            record_id=record.record_id,
            child_name=child_name(record.forename, record.surname),
            practitioner_name=name,
            event_type=received.event_type,
            occurred_on=received.occurred_on,
            from_council_code=received.council_code,
            from_council_name=received.council_name,
            summary=received.summary,
            contact=received.contact,
            received_at=received_at,
        )
        for key, name in practitioners.items()
        if key not in already
    ]
    session.add_all(
        AlertRow(
            alert_id=a.alert_id,
            record_id=a.record_id,
            practitioner_name=a.practitioner_name,
            practitioner_key=practitioner_key(a.practitioner_name),
            event_type=a.event_type,
            occurred_on=a.occurred_on,
            from_council_code=a.from_council_code,
            from_council_name=a.from_council_name,
            summary=a.summary,
            contact=a.contact,
            received_at=a.received_at,
        )
        for a in stored
    )
    session.flush()
    return stored


def list_for(
    session: Session, practitioner_display_name: str, unread_only: bool = False, limit: int | None = None
) -> list[StoredAlert]:
    """A practitioner's alerts, newest first."""
    query = (
        select(AlertRow, Child.forename, Child.surname)
        .outerjoin(Child, Child.record_id == AlertRow.record_id)  # the record may since have been removed
        .where(AlertRow.practitioner_key == practitioner_key(practitioner_display_name))
        .order_by(AlertRow.received_at.desc(), AlertRow.id.desc())
    )
    if unread_only:
        query = query.where(AlertRow.read_at.is_(None))
    if limit is not None:
        query = query.limit(limit)
    return [
        StoredAlert(
            alert_id=row.alert_id,
            record_id=RecordId(row.record_id),
            child_name=child_name(forename or "", surname or ""),
            practitioner_name=row.practitioner_name,
            event_type=row.event_type,
            occurred_on=row.occurred_on,
            from_council_code=row.from_council_code,
            from_council_name=row.from_council_name,
            summary=row.summary,
            contact=row.contact,
            received_at=row.received_at,
            read_at=row.read_at,
        )
        for row, forename, surname in session.execute(query)
    ]


def mark_read(
    session: Session,
    practitioner_display_name: str,
    alert_ids: Iterable[str],
    now: dt.datetime | None = None,
) -> int:
    """Mark a practitioner's own alerts read (others' alerts are left alone). Returns how many were marked."""
    wanted = list(alert_ids)
    if not wanted:
        return 0
    result = session.execute(
        update(AlertRow)
        .where(
            AlertRow.alert_id.in_(wanted),
            AlertRow.practitioner_key == practitioner_key(practitioner_display_name),
            AlertRow.read_at.is_(None),
        )
        .values(read_at=now or _utc_now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
