"""What the directory counts for its operator (Prometheus, `/metrics` on `directory serve --metrics-listen`).

Routing metadata only, as the routing log holds: purposes, outcomes, council codes, counts and times —
never a sealed payload or anything from which a child's identity could be computed (P2).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from whoelse.federation import closed_sets
from whoelse.federation.metrics_endpoint import latency
from whoelse.v1 import federation_pb2


class DirectoryMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.routes = Counter("whoelse_routes", "Queries routed, by purpose", ["purpose"], registry=r)
        self.route_seconds = latency(
            "whoelse_route_seconds", "Time to fan a query out and collect answers", r
        )
        self.unanswered = Counter(
            "whoelse_route_unanswered",
            "Councils that did not answer a routed query, by council and reason",
            ["council", "reason"],
            registry=r,
        )
        self.token_evaluations = Counter(
            "whoelse_token_evaluations", "Match-token (OPRF) evaluations, by council", ["council"], registry=r
        )
        self.token_rate_limited = Counter(
            "whoelse_token_rate_limited",
            "EvaluateTokens calls refused by the per-council rate limit",
            ["council"],
            registry=r,
        )

    def routed(self, purpose: str, answers: federation_pb2.RoutedAnswers, seconds: float) -> None:
        self.routes.labels(purpose).inc()
        self.route_seconds.observe(seconds)
        for missing in answers.unanswered:
            self.unanswered.labels(missing.council, closed_sets.UNANSWERED_REASON.read(missing)).inc()
