"""What the node writes to its audit log for each federated query, and how alerts reach practitioners.

Entries hold ids and counts in place of children's details (node/audit.py decides the exact fields).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator

from whoelse.federation.query import VerifiedQuery
from whoelse.node.accounts.service import Practitioner
from whoelse.node.alerts import store as alert_store
from whoelse.node.alerts.broker import AlertBroker
from whoelse.node.audit import AuditLog, DeliveredAlert, DisclosureSummary, Received
from whoelse.node.federation.holder import Answered
from whoelse.node.federation.searcher import Outcome
from whoelse.node.records import ChildRecord
from whoelse.node.storage.database import Database
from whoelse.v1 import federation_pb2
from whoelse.v1 import practitioner_pb2 as pp


class FederationAudit:
    """Hooks for the holder (a query received and answered) and the searcher (a query sent).

    Every received query is ONE audit entry that also records what was disclosed and which alerts were
    delivered, so the log grows by one per received query at every council alike (node/audit.py). An entry
    holding a disclosure or an alert is committed before the answer carrying it leaves the node. Other
    entries (every council gets every query) may be group-committed: with `batched=True` they are queued
    and written in one transaction, still one entry each, by `flush()`, which the node calls every few
    hundred milliseconds and before each head it publishes; a crash can lose at most that window of
    entries for queries that disclosed nothing.
    """

    def __init__(self, audit: AuditLog, council_name: Callable[[str], str], *, batched: bool = False) -> None:
        self._audit = audit
        self._name = council_name
        self._batched = batched
        self._pending: list[Received] = []
        self._lock = threading.Lock()

    def received(self, query: VerifiedQuery, answered: Answered) -> None:
        practitioner = query.practitioner
        if answered.disclosures:  # as before: the disclosure's entry names the practitioner in full
            practitioner = f"{query.practitioner_name} ({query.practitioner_role}), {query.practitioner}"
        entry = Received(
            query.query_id,
            query.origin,
            practitioner,
            query.purpose.value,
            answered.candidates,
            _utcnow(),
            tuple((record.record_id, DisclosureSummary.of(d)) for record, d in answered.disclosures),
            answered.alerts,
            self._name(query.origin),
        )
        with self._lock:
            self._pending.append(entry)
        if not self._batched or entry.disclosures or entry.alerts:
            self.flush()

    def flush(self) -> int:
        """Write every queued received-entry in one transaction; returns how many."""
        with self._lock:
            items, self._pending = self._pending, []
        if items:
            self._audit.searches_received(items)
        return len(items)

    def sent(self, practitioner: Practitioner, purpose: str, outcome: Outcome) -> None:
        self._audit.search_sent(
            outcome.query_id, practitioner.username, purpose, outcome.asked, outcome.answered
        )


class Alerts:
    """Stores alerts for this council's practitioners and streams them live (Practitioner.WatchAlerts)."""

    def __init__(self, db: Database, broker: AlertBroker | None = None) -> None:
        self._db = db
        self.broker = broker or AlertBroker()

    def deliver(
        self, query: VerifiedQuery, record: ChildRecord, event: federation_pb2.AlertEvent
    ) -> list[DeliveredAlert]:
        """Store and stream the alerts for record; they are audited in the received query's one entry
        (FederationAudit.received), committed before the answer leaves."""
        with self._db.session() as session:
            stored = alert_store.deliver(session, record, event, dt.date.today())
        for alert in stored:
            self.broker.publish(alert)
        return [
            DeliveredAlert(alert.alert_id, event.event_type, record.record_id, (alert.practitioner_name,))
            for alert in stored
        ]

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
