"""The council node's audit log (P5): one tamper-evident entry for every search it sends or receives (a
received query's entry also records each disclosure made and each alert delivered in answer to it), every
consent or override for a sensitive service and every account change.

A received query MUST add exactly one entry whatever the answer: the council's published head then grows
the same way at a council that held the child and at one that did not (docs/threat-model.md, "Heads").

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

from whoelse.federation.errors import InvalidInput
from whoelse.federation.merkle import SignedTreeHead
from whoelse.federation.signing import SigningKey
from whoelse.federation.transparency_log import (
    LogEntry,
    LogTables,
    TransparencyLog,
    VerificationReport,
    define_log_table,
    parse_leaf_document,
    utc,
    verify_log,
)
from whoelse.node.disclosure import Disclosure
from whoelse.node.records import SensitiveBasis, ServiceType
from whoelse.node.settings import load as load_settings
from whoelse.node.storage.base import Base
from whoelse.node.storage.database import Database

AUDIT_LOG: LogTables = define_log_table(Base.metadata, "audit_log")
"""Tables `audit_log` and `audit_log_heads` in the council's database."""

ENTRY_VERSION = 1


class AuditKind(enum.StrEnum):
    SEARCH_SENT = "search_sent"
    SEARCH_RECEIVED = "search_received"
    DISCLOSURE = "disclosure"  # read from a received entry (entries_about); never an entry of its own
    SENSITIVE_RECORDED = "sensitive_recorded"
    ACCOUNT_EVENT = "account_event"
    ALERT_DELIVERED = "alert_delivered"  # likewise, for a notification received
    RECORD_ENDED = "record_ended"  # a full refresh found the child absent from the council's export
    RECORD_ARCHIVED = "record_archived"  # retention ended (node/retention.py)
    RECORD_PURGED = "record_purged"  # deleted on the council's retention schedule
    RECORD_CHANGED = "record_changed"  # by a case-management system, through the records API


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


@dataclass(frozen=True, slots=True)
class DeliveredAlert:
    """An alert from a received notification, stored for practitioners at this council (usernames)."""

    alert_id: str
    event_type: str
    record_id: str
    practitioners: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Received:
    """One received query as its audit entry records it (see AuditLog.search_received)."""

    query_id: str
    origin_council: str
    practitioner: str
    purpose: str
    candidates: int
    at: dt.datetime
    disclosures: tuple[tuple[str, DisclosureSummary], ...] = ()
    alerts: tuple[DeliveredAlert, ...] = ()
    origin_council_name: str = ""


def _received_fields(
    query_id: str,
    origin_council: str,
    practitioner: str,
    purpose: str,
    candidates: int,
    disclosures: Sequence[tuple[str, DisclosureSummary]],
    alerts: Sequence[DeliveredAlert],
    origin_council_name: str,
) -> dict[str, Any]:
    if candidates < 0:
        raise InvalidInput("audit: candidates must not be negative")
    return {
        "query_id": _text("query id", query_id),
        "origin_council": _text("origin council", origin_council),
        "origin_council_name": origin_council_name.strip(),
        "practitioner": _text("practitioner", practitioner),
        "purpose": _text("purpose", purpose),
        "candidates": candidates,
        "disclosures": [
            {"record_id": _text("record id", record_id, 64), "disclosed": summary.to_entry()}
            for record_id, summary in disclosures
        ],
        "alerts": [
            {
                "alert_id": _text("alert id", alert.alert_id),
                "event_type": _text("event type", alert.event_type, 40),
                "record_id": _text("record id", alert.record_id, 64),
                "practitioners": sorted(set(alert.practitioners)),
            }
            for alert in alerts
        ],
    }


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

    def _entry(self, kind: AuditKind, at: dt.datetime | None, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "v": ENTRY_VERSION,
            "kind": kind.value,
            "council": self.council_code,
            "at": format_time(at or _now()),
            **fields,
        }

    def _append(
        self, kind: AuditKind, at: dt.datetime | None, fields: Mapping[str, Any], session: Session | None
    ) -> int:
        with self._session(session) as s:
            return self.log.append(s, self._entry(kind, at, fields))

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
        disclosures: Sequence[tuple[str, DisclosureSummary]] = (),
        alerts: Sequence[DeliveredAlert] = (),
        origin_council_name: str = "",
        session: Session | None = None,
    ) -> int:
        """A query from origin_council reached this node: ONE entry, whatever the answer. candidates is how
        many candidates the answer carried; each disclosure made in it (this council's record id, what kind
        of thing was disclosed) and each alert delivered for it are inside this entry, so the log grows by
        exactly one entry per received query whether or not this council held the child (no activity
        signal in the published heads; docs/threat-model.md)."""
        return self._append(
            AuditKind.SEARCH_RECEIVED,
            at,
            _received_fields(
                query_id, origin_council, practitioner, purpose, candidates, disclosures, alerts,
                origin_council_name,
            ),
            session,
        )  # fmt: skip

    def searches_received(self, received: Sequence[Received], *, session: Session | None = None) -> int:
        """Many received queries committed in one transaction (a group commit), still one entry each, in
        order, written by one insert. Returns how many entries were appended."""
        entries = [
            self._entry(
                AuditKind.SEARCH_RECEIVED,
                item.at,
                _received_fields(
                    item.query_id,
                    item.origin_council,
                    item.practitioner,
                    item.purpose,
                    item.candidates,
                    item.disclosures,
                    item.alerts,
                    item.origin_council_name,
                ),
            )
            for item in received
        ]
        with self._session(session) as s:
            return len(self.log.append_many(s, entries))

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

    def record_changed(
        self,
        record_id: str,
        change: str,
        system: str,
        change_id: str,
        version: int,
        at: dt.datetime | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """A records system changed a record through the records API (which change, by which system)."""
        fields = {
            "record_id": _text("record id", record_id, 64),
            "change": _text("change", change),
            "system": _text("system", system, 40),
            "change_id": _text("change id", change_id, 64),
            "version": int(version),
        }
        return self._append(AuditKind.RECORD_CHANGED, at, fields, session)

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
    """Every audit entry about record_id, oldest first. A received query's disclosures and alerts are inside
    its one entry; each that names record_id is returned as its own `disclosure` or `alert_delivered` view
    of that entry (same index). Entries are canonical JSON, so the exact text `"record_id":"<id>"` narrows
    the scan in SQL before each candidate is parsed and checked."""
    table = AUDIT_LOG.entries
    needle = '"record_id":' + json.dumps(record_id, ensure_ascii=False)
    rows = session.execute(
        table.select().where(table.c.entry.contains(needle, autoescape=True)).order_by(table.c.idx)
    )
    found = []
    for row in rows:
        parsed = parse_leaf_document(row.entry)
        if parsed is None:
            continue
        index, entry, created = int(row.idx), parsed[1], utc(row.created_at)
        if entry.get("record_id") == record_id:
            found.append(LogEntry(index, entry, created))
        if entry.get("kind") != AuditKind.SEARCH_RECEIVED:
            continue
        query = {k: entry[k] for k in _QUERY_FIELDS if k in entry}
        for disclosure in entry.get("disclosures", ()):
            if disclosure.get("record_id") == record_id:
                view = {**query, "kind": AuditKind.DISCLOSURE.value, **disclosure}
                found.append(LogEntry(index, view, created))
        for alert in entry.get("alerts", ()):
            if alert.get("record_id") == record_id:
                view = {**query, "kind": AuditKind.ALERT_DELIVERED.value, **alert}
                found.append(LogEntry(index, view, created))
    return found


_QUERY_FIELDS = (
    "v", "council", "at", "query_id", "origin_council", "origin_council_name", "practitioner", "purpose",
)  # fmt: skip
