"""The council node's audit log (P5): one tamper-evident entry for every search it sends or receives, every
disclosure it makes, every consent or override for a sensitive service, every account change and every
alert it delivers.

Entries hold what an auditor needs — who, at which council, for which purpose, when, and what kind of thing
was disclosed — with this council's record id in place of the child. An entry MUST NOT hold a child's name,
date of birth, address, postcode or NHS number: the helpers below take no such argument, so there is nowhere
to put them. The log is the shared append-only Merkle log (federation/transparency_log.py); its id is the
council's code, which is how the directory accepts the council's published heads.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from federation.errors import InvalidInput
from federation.merkle import SignedTreeHead
from federation.signing import SigningKey
from federation.transparency_log import (
    LogEntry,
    LogTables,
    TransparencyLog,
    VerificationReport,
    define_log_table,
    parse_leaf_document,
    utc,
    verify_log,
)
from node.disclosure import Disclosure
from node.records import SensitiveBasis, ServiceType
from node.settings import load as load_settings
from node.storage.base import Base
from node.storage.database import Database

AUDIT_LOG: LogTables = define_log_table(Base.metadata, "audit_log")
"""Tables `audit_log` and `audit_log_heads` in the council's database."""

ENTRY_VERSION = 1


class AuditKind(enum.StrEnum):
    SEARCH_SENT = "search_sent"
    SEARCH_RECEIVED = "search_received"
    SEARCHES_RECEIVED = "searches_received"  # a batch: every query received in one flush interval
    DISCLOSURE = "disclosure"
    SENSITIVE_RECORDED = "sensitive_recorded"
    ACCOUNT_EVENT = "account_event"
    ALERT_DELIVERED = "alert_delivered"
    RECORD_ENDED = "record_ended"  # a full refresh found the child absent from the council's export
    RECORD_ARCHIVED = "record_archived"  # retention ended (node/retention.py)
    RECORD_PURGED = "record_purged"  # deleted on the council's retention schedule


def audit_log_id(council_code: str) -> str:
    """A node's log id is its council code: the directory accepts a head only for the publisher's own log."""
    return council_code


def format_time(at: dt.datetime) -> str:
    """UTC, millisecond precision, e.g. 2025-03-01T09:30:00.000Z; a naive time is refused (ambiguous)."""
    if at.tzinfo is None:
        raise InvalidInput("audit: a time without a timezone is ambiguous; pass an aware datetime")
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class DisclosureSummary:
    """What kind of thing was disclosed about a child, never the values: the names of the fields that left
    the council, whether the record was shielded, and whether the specialist-services note was included."""

    fields: tuple[str, ...]
    shielded: bool
    sensitive_note: bool
    services: int = 0  # how many (non-sensitive) involvements were listed
    concerns: int = 0  # how many causes for concern were flagged

    @classmethod
    def of(cls, disclosure: Disclosure) -> DisclosureSummary:
        present = {
            "forename": bool(disclosure.forename),
            "surname": bool(disclosure.surname),
            "date_of_birth": disclosure.date_of_birth is not None,
            "sex": True,
            "nhs_number": bool(disclosure.nhs_number),
            "records_team_contact": bool(disclosure.records_team_contact),
            "address": disclosure.address is not None,
            "education": disclosure.education is not None,
            "gp": disclosure.gp is not None,
            "carers": bool(disclosure.carers),
            "involvements": bool(disclosure.involvements),
            "specialist_services_note": bool(disclosure.specialist_services_note),
            "concerns": bool(disclosure.concerns),
        }
        return cls(
            fields=tuple(name for name, shown in present.items() if shown),
            shielded=disclosure.shielded,
            sensitive_note=bool(disclosure.specialist_services_note),
            services=len(disclosure.involvements),
            concerns=len(disclosure.concerns),
        )

    def to_entry(self) -> dict[str, Any]:
        return {
            "fields": list(self.fields),
            "shielded": self.shielded,
            "sensitive_note": self.sensitive_note,
            "services": self.services,
            "concerns": self.concerns,
        }

    @classmethod
    def from_entry(cls, value: Mapping[str, Any]) -> DisclosureSummary:
        return cls(
            fields=tuple(value.get("fields", ())),
            shielded=bool(value.get("shielded")),
            sensitive_note=bool(value.get("sensitive_note")),
            services=int(value.get("services", 0)),
            concerns=int(value.get("concerns", 0)),
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _text(name: str, value: str, limit: int = 200) -> str:
    value = str(value).strip()
    if not value:
        raise InvalidInput(f"audit: {name} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"audit: {name} is longer than {limit} characters")
    return value


class AuditLog:
    """This council's audit log. Each helper appends one entry and returns its index; with `session` it
    joins the caller's transaction (so the entry commits with the action it records), otherwise it commits
    its own. `signing_key` is needed only to checkpoint."""

    def __init__(self, db: Database, council_code: str, signing_key: SigningKey | None) -> None:
        self.db = db
        self.council_code = council_code
        self.log = TransparencyLog(AUDIT_LOG, audit_log_id(council_code), signing_key)

    @classmethod
    def of(cls, db: Database) -> AuditLog:
        """The audit log of the council whose database this is, with its signing key from its settings."""
        with db.session() as session:
            settings = load_settings(session)
        return cls(db, settings.council.code, settings.signing_key)

    @contextmanager
    def _session(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
        else:
            with self.db.session() as own:
                yield own

    def _append(
        self, kind: AuditKind, at: dt.datetime | None, fields: Mapping[str, Any], session: Session | None
    ) -> int:
        entry = {
            "v": ENTRY_VERSION,
            "kind": kind.value,
            "council": self.council_code,
            "at": format_time(at or _now()),
            **fields,
        }
        with self._session(session) as s:
            return self.log.append(s, entry)

    def search_sent(
        self,
        query_id: str,
        practitioner: str,
        purpose: str,
        councils_asked: Sequence[str],
        councils_answered: Sequence[str],
        at: dt.datetime | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """A practitioner of this council searched the federation; records who was asked and who answered
        (the searched identity is not logged)."""
        asked = sorted(set(councils_asked))
        answered = sorted(set(councils_answered))
        fields = {
            "query_id": _text("query id", query_id),
            "practitioner": _text("practitioner", practitioner),
            "purpose": _text("purpose", purpose),
            "councils_asked": asked,
            "councils_answered": answered,
            "councils_unanswered": sorted(set(asked) - set(answered)),
        }
        return self._append(AuditKind.SEARCH_SENT, at, fields, session)

    def search_received(
        self,
        query_id: str,
        origin_council: str,
        practitioner: str,
        purpose: str,
        candidates: int,
        at: dt.datetime | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """A search from origin_council reached this node; candidates is how many records were disclosed."""
        if candidates < 0:
            raise InvalidInput("audit: candidates must not be negative")
        fields = {
            "query_id": _text("query id", query_id),
            "origin_council": _text("origin council", origin_council),
            "practitioner": _text("practitioner", practitioner),
            "purpose": _text("purpose", purpose),
            "candidates": candidates,
        }
        return self._append(AuditKind.SEARCH_RECEIVED, at, fields, session)

    def searches_received(
        self,
        received: Sequence[tuple[str, str, str, str, int, dt.datetime]],
        at: dt.datetime | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """Many searches that reached this node, as one entry: (query id, origin council, practitioner,
        purpose, candidates, time received) each. Cheaper than one entry per search when every council
        receives every query; each search is still recorded, in order, under the log's Merkle root."""
        searches = []
        for query_id, origin, practitioner, purpose, candidates, when in received:
            if candidates < 0:
                raise InvalidInput("audit: candidates must not be negative")
            searches.append(
                {
                    "query_id": _text("query id", query_id),
                    "origin_council": _text("origin council", origin),
                    "practitioner": _text("practitioner", practitioner),
                    "purpose": _text("purpose", purpose),
                    "candidates": candidates,
                    "at": format_time(when),
                }
            )
        return self._append(AuditKind.SEARCHES_RECEIVED, at, {"searches": searches}, session)

    def disclosure(
        self,
        query_id: str,
        origin_council: str,
        practitioner: str,
        purpose: str,
        record_id: str,
        disclosed: DisclosureSummary,
        at: dt.datetime | None = None,
        *,
        origin_council_name: str = "",
        session: Session | None = None,
    ) -> int:
        """This council disclosed (part of) record_id to practitioner at origin_council. The record id is
        this council's own identifier: it lets a subject access report find the entry, and means nothing
        outside the council."""
        fields = {
            "query_id": _text("query id", query_id),
            "origin_council": _text("origin council", origin_council),
            "origin_council_name": origin_council_name.strip(),
            "practitioner": _text("practitioner", practitioner),
            "purpose": _text("purpose", purpose),
            "record_id": _text("record id", record_id, 64),
            "disclosed": disclosed.to_entry(),
        }
        return self._append(AuditKind.DISCLOSURE, at, fields, session)

    def sensitive_recorded(
        self,
        record_id: str,
        service_type: ServiceType | str,
        basis: SensitiveBasis | str,
        reason: str,
        by: str,
        at: dt.datetime | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """A sensitive service was recorded for record_id on the child's consent, or by an override whose
        reason MUST be given (risk of significant harm)."""
        try:
            service = ServiceType(service_type)
            grounds = SensitiveBasis(basis)
        except ValueError as exc:
            raise InvalidInput(f"audit: {exc}") from None
        if not service.sensitive:
            raise InvalidInput(f"audit: {service.value} is not a sensitive service")
        if grounds is SensitiveBasis.OVERRIDE and not reason.strip():
            raise InvalidInput("audit: an override of consent must record its reason")
        fields = {
            "record_id": _text("record id", record_id, 64),
            "service_type": service.value,
            "basis": grounds.value,
            "reason": reason.strip()[:500],
            "by": _text("recorded by", by),
        }
        return self._append(AuditKind.SENSITIVE_RECORDED, at, fields, session)

    def account_event(
        self,
        username: str,
        action: str,
        by: str,
        at: dt.datetime | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """A practitioner account was added, suspended, reinstated, ended, unlocked or updated."""
        fields = {
            "username": _text("username", username, 64),
            "action": _text("action", action, 40),
            "by": _text("by", by),
        }
        return self._append(AuditKind.ACCOUNT_EVENT, at, fields, session)

    def record_ended(
        self,
        record_id: str,
        source: str,
        by: str,
        at: dt.datetime | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """A record was ended (kept, no longer disclosed) because the export `source` did not list it."""
        fields = {
            "record_id": _text("record id", record_id, 64),
            "source": _text("source", source),
            "by": _text("by", by),
        }
        return self._append(AuditKind.RECORD_ENDED, at, fields, session)

    def record_retention(
        self,
        record_id: str,
        action: str,
        reason: str,
        by: str,
        at: dt.datetime | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """A record was archived (retention ended) or purged (on the council's schedule)."""
        kinds = {"archived": AuditKind.RECORD_ARCHIVED, "purged": AuditKind.RECORD_PURGED}
        if action not in kinds:
            raise InvalidInput(f"audit: retention action must be archived or purged, not {action!r}")
        fields = {
            "record_id": _text("record id", record_id, 64),
            "reason": _text("reason", reason),
            "by": _text("by", by),
        }
        return self._append(kinds[action], at, fields, session)

    def alert_delivered(
        self,
        alert_id: str,
        origin_council: str,
        event_type: str,
        record_id: str,
        practitioners: Sequence[str],
        at: dt.datetime | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """An alert from origin_council about this council's record_id was delivered to practitioners
        (usernames at this council)."""
        fields = {
            "alert_id": _text("alert id", alert_id),
            "origin_council": _text("origin council", origin_council),
            "event_type": _text("event type", event_type, 40),
            "record_id": _text("record id", record_id, 64),
            "practitioners": sorted(set(practitioners)),
        }
        return self._append(AuditKind.ALERT_DELIVERED, at, fields, session)

    # -- reading, checkpointing and verifying

    def entries_about(self, record_id: str, session: Session | None = None) -> list[LogEntry]:
        """Every entry naming record_id, oldest first."""
        with self._session(session) as s:
            return entries_about(s, record_id)

    def checkpoint(self) -> SignedTreeHead:
        """Integrate new entries and sign a tree head (to be published to the directory)."""
        with self.db.session() as session:
            return self.log.checkpoint(session)

    def checkpoint_if_grown(self) -> SignedTreeHead | None:
        """Sign a new head only when entries were added since the last one (an idle node signs nothing);
        returns the newest head, or None while the log is empty and unsigned."""
        with self.db.session() as session:
            latest = self.log.latest_head(session)
            if latest is not None and latest.tree_size == self.log.size(session):
                return latest
        return self.checkpoint()

    def size(self) -> int:
        """How many entries the log holds (signed or not yet)."""
        with self.db.session() as session:
            return self.log.size(session)

    def latest_head(self) -> SignedTreeHead | None:
        with self.db.session() as session:
            return self.log.latest_head(session)

    def heads(self) -> list[SignedTreeHead]:
        with self.db.session() as session:
            return self.log.heads(session)

    def verify(self, verify_key: bytes, trusted_heads: Sequence[SignedTreeHead] = ()) -> VerificationReport:
        with self.db.session() as session:
            return verify_log(session, AUDIT_LOG, verify_key, trusted_heads, self.log.log_id)


def entries_about(session: Session, record_id: str) -> list[LogEntry]:
    """Every audit entry whose record_id is record_id, oldest first. Entries are canonical JSON, so the
    exact text `"record_id":"<id>"` narrows the scan in SQL before each candidate is parsed and checked."""
    table = AUDIT_LOG.entries
    needle = '"record_id":' + json.dumps(record_id, ensure_ascii=False)
    rows = session.execute(
        table.select().where(table.c.entry.contains(needle, autoescape=True)).order_by(table.c.idx)
    )
    found = []
    for row in rows:
        parsed = parse_leaf_document(row.entry)
        if parsed is not None and parsed[1].get("record_id") == record_id:
            found.append(LogEntry(int(row.idx), parsed[1], utc(row.created_at)))
    return found
