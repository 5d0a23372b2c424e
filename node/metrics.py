"""What a council's node counts for its operators (Prometheus, `/metrics` on `listen_metrics`).

Counts and timings only: no metric label or value may hold a child's details, a practitioner's name or a
query's content. Labels are closed sets (purpose, outcome, state, council code). See docs/operations.md for
what to alert on.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from whoelse.federation.metrics_endpoint import latency
from whoelse.node.federation.searcher import Outcome

ANSWERED = "answered"


class NodeMetrics:
    """One council's metrics, in a registry of its own (several councils may share a process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.searches = Counter(
            "whoelse_searches", "Searches sent by this council's practitioners", ["purpose"], registry=r
        )
        self.search_seconds = latency("whoelse_search_seconds", "Time to answer a practitioner's search", r)
        self.answers = Counter(
            "whoelse_answers",
            "Councils asked by this council's searches and alerts, by council and outcome "
            "(answered, timeout, unavailable, refused)",
            ["kind", "council", "outcome"],
            registry=r,
        )
        self.queries_received = Counter(
            "whoelse_queries_received",
            "Queries from other councils checked against this council's records",
            registry=r,
        )
        self.alerts = Counter(
            "whoelse_alerts",
            "Alerts this council sent: queued, delivered (every council answered), retry, undelivered",
            ["state"],
            registry=r,
        )
        self.login_refusals = Counter(
            "whoelse_login_refusals",
            "Log-ins refused unchecked: slowed (a wait) or locked (a lock-out)",
            ["kind"],
            registry=r,
        )
        self.routing_witness_refusals = Counter(
            "whoelse_routing_witness_refusals",
            "Directory routing-log heads this council refused to co-sign (not signed, shrunk or rewritten)",
            registry=r,
        )
        self.audit_entries = Gauge(
            "whoelse_audit_log_entries", "Entries in this council's audit log", registry=r
        )
        self.audit_head_age = Gauge(
            "whoelse_audit_head_age_seconds",
            "Seconds since the newest signed audit head (grows while nothing is logged)",
            registry=r,
        )
        self.alerts_queued = Gauge(
            "whoelse_alerts_queued",
            "Alerts waiting to be sent, or retried for a council that has not answered",
            registry=r,
        )

    def watch(
        self,
        audit_entries: Callable[[], int],
        head_timestamp_ms: Callable[[], int | None],
        alerts_queued: Callable[[], int],
    ) -> None:
        """Read the database-backed gauges when scraped (not on every change)."""
        self.audit_entries.set_function(audit_entries)
        self.audit_head_age.set_function(
            lambda: (time.time() - stamp / 1000) if (stamp := head_timestamp_ms()) is not None else 0.0
        )
        self.alerts_queued.set_function(alerts_queued)

    def searched(self, purpose: str, outcome: Outcome) -> None:
        self.searches.labels(purpose).inc()
        self.search_seconds.observe(outcome.elapsed_s)
        self.answered("search", outcome)

    def answered(self, kind: str, outcome: Outcome) -> None:
        for council in outcome.answered:
            self.answers.labels(kind, council, ANSWERED).inc()
        for council, reason, _detail in outcome.unanswered:
            self.answers.labels(kind, council, reason).inc()
