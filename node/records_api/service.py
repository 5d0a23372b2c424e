"""The records API's domain: apply one change from a registered case-management system to one record.

The contract (docs/records-api.md):
- A change MUST come from a registered, unrevoked system holding the change's scope.
- A change id already applied by the same system MUST be answered with its first result and not applied
  again; the same id for a different request MUST be refused.
- A change MUST name the version it starts from (0 for a record not held); any other version is refused,
  so a change made meanwhile (by another system or an import) is never overwritten.
- The new version of the record MUST pass the import's validation (node/validation.py) whole; otherwise
  nothing is written and the refusal names the field and the reason.
- The record, its tags, the alerts it raises, its audit entries and the change row commit in one
  transaction, exactly as one row of an import does (node/changes.py).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from whoelse.federation.errors import AlreadyUsed, InvalidInput, NotFound, StaleVersion
from whoelse.federation.identity import normalise_name
from whoelse.node.audit import AuditLog
from whoelse.node.changes import is_first_load, record_changes
from whoelse.node.matching import record_tags
from whoelse.node.records import ChildRecord, SensitiveBasis, ServiceType
from whoelse.node.records_api.systems import Scope, System
from whoelse.node.records_api.tables import RecordsChange
from whoelse.node.settings import NodeSettings
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import record_from_row, upsert_records
from whoelse.node.storage.tables import Child
from whoelse.node.tags import LocalTagger
from whoelse.node.validation import FieldError, record_to_row, validate_involvement, validate_record

_CHANGE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
MAX_VERSION = 2**62


@dataclass(frozen=True, slots=True)
class Change:
    change_id: str
    expected_version: int
    digest: bytes  # of the whole request, so a reused id with a different request is recognised

    def check(self) -> None:
        if not _CHANGE_ID.match(self.change_id):
            raise InvalidInput("change.change_id: 1-64 letters, digits, '-', '_', '.' or ':'")
        if not 0 <= self.expected_version < MAX_VERSION:
            raise InvalidInput("change.expected_version: 0 for a new record, else the version last read")


@dataclass(frozen=True, slots=True)
class ChangeResult:
    record_id: str
    version: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class InvolvementRef:
    practitioner: str
    service_type: str
    start_date: str


def _refused(errors: list[FieldError], prefix: str = "") -> InvalidInput:
    shown = "; ".join(f"{prefix}{e.field}: {e.reason}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return InvalidInput(shown + more)


def _find_involvement(raw: dict[str, Any], ref: InvolvementRef) -> dict[str, Any]:
    wanted = (normalise_name(ref.practitioner), ref.service_type.strip(), ref.start_date.strip())
    for item in raw["involvements"]:
        if (normalise_name(item["practitioner"]), item["service_type"], item["start_date"]) == wanted:
            return dict(item)
    raise NotFound(
        "involvement: no involvement of that practitioner and service type starting on that day is recorded"
    )


Build = Callable[[dict[str, Any] | None], dict[str, Any]]


class RecordsService:
    """Applies records-API changes at one council (see the module contract)."""

    def __init__(
        self, db: Database, settings: NodeSettings, *, today: Callable[[], dt.date] = dt.date.today
    ) -> None:
        self.db = db
        self.settings = settings
        self.audit = AuditLog(db, settings.council.code, settings.signing_key)
        self.tagger = LocalTagger(settings.tag_key)
        self._today = today
        # One change at a time at this node: the version check and the write must not interleave.
        self._lock = threading.Lock()

    def version(self, record_id: str) -> int:
        with self.db.session() as session:
            return int(session.scalar(select(Child.version).where(Child.record_id == record_id)) or 0)

    def _apply(
        self,
        system: System,
        scope: Scope,
        change: Change,
        record_id: str,
        action: str,
        build: Build,
        after: Callable[[Session, ChildRecord, str], None] | None = None,
    ) -> ChangeResult:
        system.require(scope)
        change.check()
        if not record_id.strip():
            raise InvalidInput("record_id: required")
        today = self._today()
        by = f"records system {system.name}"
        with self._lock, self.db.session() as session:
            applied = session.scalar(
                select(RecordsChange).where(
                    RecordsChange.system == system.name, RecordsChange.change_id == change.change_id
                )
            )
            if applied is not None:
                if applied.request_digest != change.digest:
                    raise AlreadyUsed(
                        f"change id {change.change_id} was already used by {system.name} "
                        "for a different change"
                    )
                return ChangeResult(applied.record_id, applied.version, replayed=True)
            # FOR UPDATE (PostgreSQL): an import committing this record meanwhile waits, or is waited for.
            row = session.scalar(select(Child).where(Child.record_id == record_id).with_for_update())
            current = row.version if row is not None else 0
            if change.expected_version != current:
                raise StaleVersion(
                    f"record {record_id[:64]} is at version {current}, not {change.expected_version}: "
                    "read it again and re-apply the change"
                )
            old = record_from_row(row) if row is not None else None
            result = validate_record(build(record_to_row(old) if old else None), today)
            if isinstance(result, list):
                raise _refused(result)
            record_changes(
                session,
                [(old, result)],
                council=self.settings.council,
                audit=self.audit,
                today=today,
                alerts=not is_first_load(session),
                by=by,
            )
            upsert_records(session, [result], lambda r: record_tags(self.tagger, r), self.tagger.scheme)
            version = current + 1
            if after is not None:
                after(session, result, by)
            self.audit.record_changed(
                result.record_id, action, system.name, change.change_id, version, session=session
            )
            session.add(
                RecordsChange(
                    system=system.name,
                    change_id=change.change_id,
                    request_digest=change.digest,
                    record_id=result.record_id,
                    version=version,
                    applied_at=dt.datetime.now(dt.UTC),
                )
            )
        return ChangeResult(result.record_id, version)

    def _existing(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        if raw is None:
            raise NotFound(
                "record_id: this council holds no record with that id; add it with UpsertChild first"
            )
        return raw

    def upsert_child(self, system: System, change: Change, child: Mapping[str, Any]) -> ChangeResult:
        record_id = child.get("record_id")
        if not isinstance(record_id, str) or not record_id.strip():
            raise InvalidInput("child.record_id: required")
        return self._apply(
            system, Scope.CHILDREN, change, record_id.strip(), "upsert_child", lambda _: dict(child)
        )

    def add_involvement(
        self, system: System, change: Change, record_id: str, involvement: Mapping[str, Any]
    ) -> ChangeResult:
        def build(raw: dict[str, Any] | None) -> dict[str, Any]:
            current = self._existing(raw)
            born = dt.date.fromisoformat(current["date_of_birth"]) if current["date_of_birth"] else None
            checked = validate_involvement(involvement, self._today(), born)
            if isinstance(checked, list):
                raise _refused(checked)
            return {**current, "involvements": [*current["involvements"], dict(involvement)]}

        return self._apply(system, Scope.INVOLVEMENTS, change, record_id, "add_involvement", build)

    def end_involvement(
        self, system: System, change: Change, record_id: str, ref: InvolvementRef, end_date: str
    ) -> ChangeResult:
        def build(raw: dict[str, Any] | None) -> dict[str, Any]:
            current = self._existing(raw)
            found = _find_involvement(current, ref)
            if not end_date.strip():
                raise InvalidInput("end_date: required")
            ended = {**found, "end_date": end_date}
            return {**current, "involvements": [ended if i == found else i for i in current["involvements"]]}

        return self._apply(system, Scope.INVOLVEMENTS, change, record_id, "end_involvement", build)

    def raise_concern(
        self, system: System, change: Change, record_id: str, concern: Mapping[str, Any]
    ) -> ChangeResult:
        def build(raw: dict[str, Any] | None) -> dict[str, Any]:
            current = self._existing(raw)
            return {**current, "concerns": [*current["concerns"], dict(concern)]}

        return self._apply(system, Scope.CONCERNS, change, record_id, "raise_concern", build)

    def shield(
        self, system: System, change: Change, record_id: str, shielding: Mapping[str, Any]
    ) -> ChangeResult:
        def build(raw: dict[str, Any] | None) -> dict[str, Any]:
            return {**self._existing(raw), "shielding": dict(shielding)}

        return self._apply(system, Scope.SHIELDING, change, record_id, "shield", build)

    def unshield(self, system: System, change: Change, record_id: str, reason: str, by: str) -> ChangeResult:
        if not reason.strip():
            raise InvalidInput("reason: required (why the shielding ends is recorded)")
        if not by.strip():
            raise InvalidInput("unshielded_by: required")

        def build(raw: dict[str, Any] | None) -> dict[str, Any]:
            current = self._existing(raw)
            if current["shielding"] is None:
                raise InvalidInput("record_id: the record is not shielded")
            return {**current, "shielding": None}

        return self._apply(
            system, Scope.SHIELDING, change, record_id, f"unshield: {reason.strip()[:150]}", build
        )

    def record_consent(
        self, system: System, change: Change, record_id: str, ref: InvolvementRef, basis: str, reason: str
    ) -> ChangeResult:
        try:
            service = ServiceType(ref.service_type.strip())
        except ValueError:
            raise InvalidInput("involvement.service_type: unknown service type") from None
        if not service.sensitive:
            raise InvalidInput(f"involvement.service_type: {service.value} is not a sensitive service")
        try:
            grounds = SensitiveBasis(basis.strip())
        except ValueError:
            raise InvalidInput("sensitive_basis: must be 'consent' or 'override'") from None

        def build(raw: dict[str, Any] | None) -> dict[str, Any]:
            current = self._existing(raw)
            found = _find_involvement(current, ref)
            changed = {**found, "sensitive_basis": grounds.value, "override_reason": reason}
            return {
                **current,
                "involvements": [changed if i == found else i for i in current["involvements"]],
            }

        def log(session: Session, record: ChildRecord, by: str) -> None:
            self.audit.sensitive_recorded(record.record_id, service, grounds, reason, by, session=session)

        return self._apply(system, Scope.CONSENT, change, record_id, "record_consent", build, after=log)
