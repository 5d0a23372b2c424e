"""`whoelse bench records`: records-API upserts per second and their latency, beside a floor measured in the
same run — a plain gRPC call (the health check) over the same mutual-TLS channel to the same server — so
the figures read as a ratio on a busy machine (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from whoelse.federation import ca, closed_sets
from whoelse.federation.transport import MtlsIdentity
from whoelse.harness.bench import percentile
from whoelse.node.records_api.server import create_records_server
from whoelse.node.records_api.service import RecordsService
from whoelse.node.records_api.systems import Scope, add_system
from whoelse.node.settings import initialise
from whoelse.node.storage.database import Database
from whoelse.v1 import records_api_pb2 as ra
from whoelse.v1 import records_api_pb2_grpc


def _child(n: int) -> ra.ChildInput:
    return ra.ChildInput(
        record_id=f"BENCH-{n:07d}",
        forename=("Ann", "Liam", "Zoë", "Omar", "Ewa", "Kai")[n % 6],
        surname=("Smith", "Khan", "O'Neill", "Nowak", "Brooks")[n % 5],
        date_of_birth=f"20{10 + n % 8:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        **closed_sets.SEX.fields("FM"[n % 2]),
        address=ra.AddressInput(line1=f"{1 + n % 200} Mill Lane", postcode="LS6 2AB"),
        involvements=[
            ra.InvolvementInput(
                practitioner="Sam Patel", organisation="Leeds Children's Services", role="Social worker",
                contact="0113 496 0002", service_type="social_care", start_date="2025-01-10",
            )
        ],
    )  # fmt: skip


def _timed(calls: int, call: Callable[[int], object]) -> tuple[float, list[float]]:
    latencies = []
    started = time.perf_counter()
    for n in range(calls):
        before = time.perf_counter()
        call(n)
        latencies.append((time.perf_counter() - before) * 1000)
    return time.perf_counter() - started, latencies


def _summary(prefix: str, calls: int, elapsed: float, latencies: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_per_s": round(calls / elapsed, 1),
        f"{prefix}_p50_ms": round(statistics.median(latencies), 2),
        f"{prefix}_p95_ms": round(percentile(latencies, 0.95), 2),
    }


def bench_records(upserts: int, database: str | None = None) -> dict[str, Any]:
    """Upsert `upserts` new children one call at a time, as a case-management system would."""
    with tempfile.TemporaryDirectory(prefix="whoelse-bench-records-") as tmp:
        work = Path(tmp)
        db = Database(database or str(work / "node.sqlite"))
        db.migrate()
        ca_key, ca_cert = ca.init_ca("WhoElse bench CA", days=2)
        node_key, node_cert = ca.issue(ca_key, ca_cert, "E08000035", days=2)
        system_key, system_cert = ca.issue(
            ca_key, ca_cert, "records-system.bench", dns_names=(), days=2, server_auth=False
        )
        with db.session() as session:
            settings = initialise(session, "E08000035", "Leeds", "Leeds records team")
            add_system(session, "bench", frozenset(Scope), ca.fingerprint(system_cert))
        service = RecordsService(db, settings)
        server, port = create_records_server(
            "127.0.0.1:0", service, MtlsIdentity(ca_cert, node_cert, node_key)
        )
        server.start()
        credentials = grpc.ssl_channel_credentials(ca_cert, system_key, system_cert)
        try:
            with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
                records = records_api_pb2_grpc.RecordsStub(channel)
                health = health_pb2_grpc.HealthStub(channel)
                health.Check(health_pb2.HealthCheckRequest(), timeout=10)  # connect and warm up
                echo_s, echo = _timed(
                    upserts, lambda n: health.Check(health_pb2.HealthCheckRequest(), timeout=10)
                )

                def upsert(n: int) -> object:
                    change = ra.Change(change_id=f"bench-{n}", expected_version=0)
                    return records.UpsertChild(
                        ra.UpsertChildRequest(change=change, child=_child(n)), timeout=30
                    )

                upsert_s, latencies = _timed(upserts, upsert)
        finally:
            server.stop(grace=None)
            db.dispose()
    result: dict[str, Any] = {"benchmark": "records", "upserts": upserts}
    result |= _summary("upserts", upserts, upsert_s, latencies)
    result |= _summary("echo", upserts, echo_s, echo)
    result["upsert_to_echo_p50"] = round(result["upserts_p50_ms"] / max(result["echo_p50_ms"], 1e-6), 1)
    return result


def cmd_bench_records(args: argparse.Namespace) -> int:
    result = bench_records(args.upserts, args.db)
    print(json.dumps(result) if args.json else "\n".join(f"{k:>20}: {v}" for k, v in result.items()))
    return 0


def register(benchmarks: Any) -> None:
    p = benchmarks.add_parser(
        "records", help="records API upserts per second and latency, beside a gRPC floor"
    )
    p.add_argument("--upserts", type=int, default=500, help="children to upsert, one call each")
    p.add_argument("--db", default=None, help="an empty database URL to use instead of a scratch SQLite file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench_records)
