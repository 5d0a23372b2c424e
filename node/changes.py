"""What a new version of a record means beyond the record itself: alerts to queue and decisions to log.

Called inside the import transaction, so the record, its queued alerts and its audit entries commit
together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session

from whoelse.node.alerts.events import change_events
from whoelse.node.alerts.store import enqueue
from whoelse.node.audit import AuditLog
from whoelse.node.disclosure import HoldingCouncil
from whoelse.node.importer import ImportReport, Mode, OnError, import_file
from whoelse.node.matching import record_tags
from whoelse.node.records import ChildRecord, Involvement
from whoelse.node.settings import NodeSettings
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import count_records
from whoelse.node.storage.tables import NodeSetting
from whoelse.node.tags import LocalTagger


def _involvement_key(i: Involvement) -> tuple[str, str, str, dt.date]:
    return (i.practitioner, i.organisation, i.service_type.value, i.start_date)


def record_changes(
    session: Session,
    pairs: list[tuple[ChildRecord | None, ChildRecord]],
    *,
    council: HoldingCouncil,
    audit: AuditLog,
    today: dt.date,
    alerts: bool,
    by: str,
) -> int:
    """Queue alerts for changes other councils' practitioners should hear about, and log every newly
    recorded sensitive service with its consent or override. Returns how many alerts were queued."""
    queued = 0
    for old, new in pairs:
        known = {_involvement_key(i) for i in old.involvements} if old else set()
        for involvement in new.involvements:
            if (
                involvement.sensitive
                and involvement.sensitive_basis
                and _involvement_key(involvement) not in known
            ):
                audit.sensitive_recorded(
                    new.record_id,
                    involvement.service_type,
                    involvement.sensitive_basis,
                    involvement.override_reason,
                    by,
                    session=session,
                )
        if alerts:
            events = change_events(old, new, council, today)
            if events:
                queued += enqueue(session, new.record_id, events)
    return queued


FIRST_LOAD = "first_load_in_progress"
"""Node setting present while a council's first load has not finished (it may have been killed)."""


def is_first_load(session: Session) -> bool:
    """True while the council's records are still arriving for the first time: a node with no records, or
    one whose first load was interrupted. A first load is not news, so it raises no alerts."""
    if session.get(NodeSetting, FIRST_LOAD) is not None:
        return True
    return count_records(session) == 0


def import_with_changes(
    db: Database,
    path: Path,
    settings: NodeSettings,
    *,
    alerts: bool,
    by: str,
    today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    mode: Mode = Mode.UPSERT,
    on_error: OnError = OnError.REJECT,
    problems_path: Path | None = None,
) -> ImportReport:
    """Import a file at a council: each batch writes the records, their tags, the alerts they raise and the
    sensitive-service decisions they record, in one transaction. While the council's first load is still
    arriving (even across a killed and resumed run) no alerts are raised, whatever `alerts` says."""
    day = today or dt.date.today()
    audit = AuditLog(db, settings.council.code, settings.signing_key)
    with db.session() as session:
        first_load = is_first_load(session)
    raise_alerts = alerts and not first_load

    def mark_first_load() -> None:
        if first_load:
            with db.session() as session:
                if session.get(NodeSetting, FIRST_LOAD) is None:
                    session.add(NodeSetting(key=FIRST_LOAD, value=path.name[:200]))

    def on_changes(session: Session, pairs: list[tuple[ChildRecord | None, ChildRecord]]) -> None:
        record_changes(
            session, pairs, council=settings.council, audit=audit, today=day, alerts=raise_alerts, by=by
        )

    def on_ended(session: Session, record_ids: Sequence[str]) -> None:
        for record_id in record_ids:
            audit.record_ended(record_id, f"full refresh from {path.name}", by, session=session)

    tagger = LocalTagger(settings.tag_key)
    report = import_file(
        db,
        path,
        tagger,
        record_tags,
        today=day,
        progress=progress,
        on_changes=on_changes,
        on_ended=on_ended,
        mode=mode,
        on_error=on_error,
        problems_path=problems_path,
        before_write=mark_first_load,
    )
    if first_load:
        with db.session() as session:
            session.execute(delete(NodeSetting).where(NodeSetting.key == FIRST_LOAD))
    return report
