"""A practitioner records their own involvement with a child, or raises a cause for concern, on this
council's record of the child (the web portal's "record my involvement").

The change MUST pass the import's rules (node/validation.py) and MUST be written as an import of that record
is (node/changes.py): the new version, its match tags, the alerts it raises for practitioners at other
councils and the audit entry for a sensitive service's consent or override commit in one transaction. The
practitioner's name, role, organisation and contact MUST come from their account, never from the form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from whoelse.federation.errors import InvalidInput, NotFound
from whoelse.node.accounts.service import Practitioner
from whoelse.node.audit import AuditLog
from whoelse.node.changes import record_changes
from whoelse.node.matching import record_tags
from whoelse.node.records import CauseForConcern, ChildRecord
from whoelse.node.settings import NodeSettings
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import records_by_record_id, upsert_records
from whoelse.node.tags import LocalTagger
from whoelse.node.validation import FieldError, validate_involvement


class RecordingRejected(InvalidInput):
    """The involvement breaks an import rule; `problems` names each field."""

    def __init__(self, problems: list[FieldError]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))


class Recorder:
    """Changes to this council's own records made by its practitioners, one record at a time."""

    def __init__(self, db: Database, settings: NodeSettings) -> None:
        self._db = db
        self._settings = settings
        self._audit = AuditLog(db, settings.council.code, settings.signing_key)
        self._tagger = LocalTagger(settings.tag_key)

    def record_involvement(
        self,
        practitioner: Practitioner,
        record_id: str,
        service_type: str,
        *,
        sensitive_basis: str = "",
        override_reason: str = "",
        today: dt.date | None = None,
    ) -> ChildRecord:
        day = today or dt.date.today()
        raw: dict[str, Any] = {
            "practitioner": practitioner.display_name,
            "organisation": practitioner.organisation,
            "role": practitioner.role,
            "contact": practitioner.contact,
            "service_type": service_type,
            "start_date": day.isoformat(),
            "sensitive_basis": sensitive_basis,
            "override_reason": override_reason,
        }
        involvement = validate_involvement(raw, day)
        if isinstance(involvement, list):
            raise RecordingRejected(involvement)
        return self._change(
            record_id,
            lambda r: replace(r, involvements=(*r.involvements, involvement)),
            practitioner,
            day,
        )

    def raise_concern(
        self, practitioner: Practitioner, record_id: str, today: dt.date | None = None
    ) -> ChildRecord:
        """Only that a concern exists and whom to contact: its substance stays in case notes elsewhere."""
        day = today or dt.date.today()
        concern = CauseForConcern(practitioner.display_name, practitioner.contact, day)
        return self._change(
            record_id, lambda r: replace(r, concerns=(*r.concerns, concern)), practitioner, day
        )

    def _change(self, record_id: str, change: Any, practitioner: Practitioner, day: dt.date) -> ChildRecord:
        by = f"{practitioner.username} through the portal"
        with self._db.session() as session:
            old = records_by_record_id(session, [record_id]).get(record_id)
            if old is None:
                raise NotFound(f"record {record_id[:64]!r}: this council holds no such record")
            new: ChildRecord = change(old)
            record_changes(
                session,
                [(old, new)],
                council=self._settings.council,
                audit=self._audit,
                today=day,
                alerts=True,
                by=by,
            )
            upsert_records(session, [new], lambda r: record_tags(self._tagger, r), self._tagger.scheme)
        return new
