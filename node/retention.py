"""Retention on a schedule: archive each record at its 18th birthday (25th with recorded consent), purge
archived records on the council's schedule, log both, and say where the council stands.

The contract:
- A record MUST be archived once `node.disclosure.disclosable_until` has passed. Disclosure already refuses
  such a record; archiving records the day it happened and starts the purge clock. A record with no date of
  birth cannot age out and MUST NOT be archived by age.
- A record MUST NOT be purged before `purge_after_days` past the day retention ended, and MUST NOT be purged
  at all until the council has set a schedule (`whoelse node retention schedule`).
- Purging deletes the record and its tags; its audit trail stays (subject access still reports it).
- Every archive and purge is written to the audit log with the record id, in the same transaction.
- `run` is idempotent: the node's upkeep calls it at most once a day, and running it again does nothing new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from whoelse.federation.errors import InvalidInput
from whoelse.node.audit import AuditLog
from whoelse.node.disclosure import disclosable_until
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import record_from_row
from whoelse.node.storage.tables import Child, MatchTag, NodeSetting

PURGE_AFTER = "retention_purge_after_days"
LAST_RUN = "retention_last_run"
MAX_PURGE_AFTER_DAYS = 36500
CHUNK = 500


def _years_before(day: dt.date, years: int) -> dt.date:
    """The latest date of birth whose `years`th birthday is on or before `day` (29 February counts its
    birthday as 1 March in a common year, as node/disclosure.py does)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # `day` is 29 February and that year is common
        return dt.date(day.year - years, 2, 28)


def _retention_ended_by(day: dt.date) -> ColumnElement[bool]:
    """Rows whose retention ended on or before `day`."""
    return and_(
        Child.date_of_birth.is_not(None),
        or_(
            and_(Child.retention_consent_to_25.is_(false()), Child.date_of_birth <= _years_before(day, 18)),
            and_(Child.retention_consent_to_25.is_(true()), Child.date_of_birth <= _years_before(day, 25)),
        ),
    )


def _setting(session: Session, key: str) -> str | None:
    row = session.get(NodeSetting, key)
    return row.value if row is not None else None


def _put(session: Session, key: str, value: str) -> None:
    row = session.get(NodeSetting, key)
    if row is None:
        session.add(NodeSetting(key=key, value=value))
    else:
        row.value = value


def purge_after_days(session: Session) -> int | None:
    """The council's schedule: days after retention ends that an archived record is purged (None: not set)."""
    value = _setting(session, PURGE_AFTER)
    return int(value) if value is not None else None


def set_schedule(session: Session, days: int) -> None:
    if not 0 <= days <= MAX_PURGE_AFTER_DAYS:
        raise InvalidInput(f"--purge-after-days: must be 0 to {MAX_PURGE_AFTER_DAYS}, not {days}")
    _put(session, PURGE_AFTER, str(days))


@dataclass(frozen=True)
class RetentionStatus:
    records: int
    current: int
    due_for_archive: int
    archived: int
    due_for_purge: int
    without_date_of_birth: int
    purge_after_days: int | None
    last_run: str

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "current": self.current,
            "due_for_archive": self.due_for_archive,
            "archived": self.archived,
            "due_for_purge": self.due_for_purge,
            "without_date_of_birth": self.without_date_of_birth,
            "purge_after_days": self.purge_after_days,
            "last_run": self.last_run,
        }


def _count(session: Session, *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(Child).where(*where)) or 0)


def status(session: Session, today: dt.date) -> RetentionStatus:
    days = purge_after_days(session)
    ended = _retention_ended_by(today)
    return RetentionStatus(
        records=_count(session),
        current=_count(session, ~ended | Child.date_of_birth.is_(None)),
        due_for_archive=_count(session, ended, Child.archived_on.is_(None)),
        archived=_count(session, Child.archived_on.is_not(None)),
        due_for_purge=(
            _count(session, _retention_ended_by(today - dt.timedelta(days=days))) if days is not None else 0
        ),
        without_date_of_birth=_count(session, Child.date_of_birth.is_(None)),
        purge_after_days=days,
        last_run=_setting(session, LAST_RUN) or "",
    )


@dataclass(frozen=True)
class RetentionRun:
    archived: int
    purged: int


def _chunks(session: Session, where: ColumnElement[bool]) -> Iterator[list[Child]]:
    while True:
        rows = list(session.scalars(select(Child).where(where).order_by(Child.id).limit(CHUNK)))
        if not rows:
            return
        yield rows


def run(db: Database, audit: AuditLog, today: dt.date, *, by: str) -> RetentionRun:
    """Archive every record whose retention has ended and purge those past the council's schedule."""
    archived = purged = 0
    with db.session() as session:
        days = purge_after_days(session)
    if days is not None:
        with db.session() as session:
            for rows in _chunks(session, _retention_ended_by(today - dt.timedelta(days=days))):
                ids = [r.id for r in rows]
                for row in rows:
                    until = disclosable_until(record_from_row(row))
                    audit.record_retention(
                        row.record_id, "purged", f"retention ended {until}", by, session=session
                    )
                session.execute(delete(MatchTag).where(MatchTag.child_id.in_(ids)))
                session.execute(delete(Child).where(Child.id.in_(ids)))
                purged += len(ids)
    with db.session() as session:
        for rows in _chunks(session, and_(_retention_ended_by(today), Child.archived_on.is_(None))):
            for row in rows:
                until = disclosable_until(record_from_row(row))
                audit.record_retention(
                    row.record_id, "archived", f"retention ended {until}", by, session=session
                )
            session.execute(update(Child).where(Child.id.in_([r.id for r in rows])).values(archived_on=today))
            archived += len(rows)
        _put(session, LAST_RUN, today.isoformat())
    return RetentionRun(archived, purged)


def due(session: Session, today: dt.date) -> bool:
    """Whether today's retention run has not happened yet (the upkeep runs it once a day)."""
    return _setting(session, LAST_RUN) != today.isoformat()
