"""What the node writes to its audit log for each federated query, and how alerts reach practitioners.

Entries hold ids and counts in place of children's details (node/audit.py decides the exact fields).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator

from whoelse.v1 import federation_pb2
from whoelse.v1 import practitioner_pb2 as pp

from federation.query import VerifiedQuery
from node.accounts.service import Practitioner
from node.alerts import store as alert_store
from node.alerts.broker import AlertBroker
from node.audit import AuditLog, DisclosureSummary
from node.disclosure import Disclosure
from node.federation.searcher import Outcome
from node.records import ChildRecord
from node.storage.database import Database


class FederationAudit:
    """Hooks for the holder (received, disclosed) and the searcher (sent).

    A disclosure is logged before the answer carrying it leaves the node. "Search received" entries
    (every council gets every query) may be group-committed: with `batched=True` they are queued and written
    as one entry by `flush()`, which the node calls every few hundred milliseconds; a crash can lose at most
    that window of received-entries, never a disclosure.
    """

    def __init__(self, audit: AuditLog, council_name: Callable[[str], str], *, batched: bool = False) -> None:
        self._audit = audit
        self._name = council_name
        self._batched = batched
        self._pending: list[tuple[str, str, str, str, int, dt.datetime]] = []
        self._lock = threading.Lock()

    def received(self, query: VerifiedQuery, candidates: int) -> None:
        entry = (query.query_id, query.origin, query.practitioner, query.purpose.value, candidates, _utcnow())
        with self._lock:
            self._pending.append(entry)
        if not self._batched:
            self.flush()

    def flush(self) -> int:
        """Write every queued received-entry in one transaction; returns how many."""
        with self._lock:
            items, self._pending = self._pending, []
        if len(items) == 1:
            self._audit.search_received(*items[0][:5], at=items[0][5])
        elif items:
            self._audit.searches_received(items)
        return len(items)

    def disclosed(self, query: VerifiedQuery, record: ChildRecord, disclosure: Disclosure) -> None:
        self._audit.disclosure(
            query.query_id,
            query.origin,
            f"{query.practitioner_name} ({query.practitioner_role}), {query.practitioner}",
            query.purpose.value,
            record.record_id,
            DisclosureSummary.of(disclosure),
            origin_council_name=self._name(query.origin),
        )

    def sent(self, practitioner: Practitioner, purpose: str, outcome: Outcome) -> None:
        self._audit.search_sent(
            outcome.query_id, practitioner.username, purpose, outcome.asked, outcome.answered
        )


class Alerts:
    """Stores alerts for this council's practitioners and streams them live (Practitioner.WatchAlerts)."""

    def __init__(self, db: Database, audit: AuditLog, broker: AlertBroker | None = None) -> None:
        self._db = db
        self._audit = audit
        self.broker = broker or AlertBroker()

    def deliver(self, query: VerifiedQuery, record: ChildRecord, event: federation_pb2.AlertEvent) -> int:
        with self._db.session() as session:
            stored = alert_store.deliver(session, record, event, dt.date.today())
            for alert in stored:
                self._audit.alert_delivered(
                    alert.alert_id, query.origin, event.event_type, record.record_id,
                    [alert.practitioner_name], session=session,
                )  # fmt: skip
        for alert in stored:
            self.broker.publish(alert)
        return len(stored)

    def list_for(self, practitioner: Practitioner, unread_only: bool) -> list[pp.Alert]:
        with self._db.session() as session:
            found = alert_store.list_for(session, practitioner.display_name, unread_only=unread_only)
        return [a.to_proto() for a in found]

    def watch(self, practitioner: Practitioner, is_active: Callable[[], bool]) -> Iterator[pp.Alert]:
        with self.broker.subscribe(practitioner.display_name) as subscription:
            while is_active():
                alert = subscription.get(timeout=1.0)
                if alert is not None:
                    yield alert.to_proto()
                elif subscription.closed:
                    return


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
