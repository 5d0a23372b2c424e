"""Serving Prometheus metrics over plain HTTP on an internal address (`/metrics`), apart from the gRPC ports.

The endpoint carries counts and timings only — never a child's details, a name or a query's content — but
it says how busy a council is and who answers it, so it MUST listen on an internal address (loopback or
the monitoring network), never on a port practitioners or other councils reach.
"""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Histogram, start_http_server

from whoelse.federation.errors import ConfigError

# A search is answered in well under a second on a good day and is cut off at its deadline (5 s by default).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)


def latency(name: str, documentation: str, registry: CollectorRegistry) -> Histogram:
    """A histogram of seconds with the buckets every WhoElse latency uses, so node and directory compare."""
    return Histogram(name, documentation, buckets=LATENCY_BUCKETS, registry=registry)


def serve_metrics(address: str, registry: CollectorRegistry, what: str) -> tuple[WSGIServer, int]:
    """Start `/metrics` for `registry` on HOST:PORT (port 0 picks one); returns the server and its port.
    `what` names the setting in errors (e.g. "config key listen_metrics")."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"{what}: expected HOST:PORT, got {address!r}")
    try:
        server, _thread = start_http_server(int(port), addr=host.strip("[]"), registry=registry)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot bind {address} ({exc.strerror})") from exc
    return server, int(server.server_port)
