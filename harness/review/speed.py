"""Search latency, throughput and CPU per search of both architectures, and how they grow with councils.

Searches to the federation and to the central index alternate (one each, repeated), so both see the same
spells of a shared machine; CPU is read from /proc for every process around each search
(harness/bench_search.py does the same for the federation alone).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whoelse.federation.practitioner_client import PractitionerClient
from whoelse.harness.bench import percentile
from whoelse.harness.bench_search import _cpu_ms, concurrent_searches
from whoelse.harness.review.environment import Environment, build_environment
from whoelse.harness.review.flows import identity_of_row
from whoelse.harness.review.stores import Truth
from whoelse.v1 import records_pb2 as pb

SETTLE_S = 0.03


def sample_identity(truth: Truth) -> pb.SearchIdentity:
    """A child held by two or more councils (else any), as the first council recorded them."""
    people = truth.shared() or list(truth.copies)
    return identity_of_row(truth.rows[truth.copies[people[0]][0]])


def _summary(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
    }


def _throughput(
    make: Callable[[], PractitionerClient], identity: pb.SearchIdentity, threads: int, each: int
) -> float:
    return concurrent_searches([make() for _ in range(threads)], identity, each)


def measure_speed(env: Environment, truth: Truth, searches: int = 40, threads: int = 3) -> dict[str, Any]:
    """Latency (every sample kept, for the CDF), searches a second and CPU ms per search, both modes."""
    identity = sample_identity(truth)
    fed, central = env.federation_client(), env.central_client()
    origin = env.layout.councils[0].code
    pids = env.all_pids()
    cpu = {mode: dict.fromkeys(pids, 0.0) for mode in ("federation", "central")}
    samples: dict[str, list[float]] = {"federation": [], "central": []}
    unanswered = 0
    try:
        for _ in range(3):  # warm-up: connections, log-in, caches
            fed.search(identity, "safeguarding")
            central.search(identity, "safeguarding")
        for _ in range(searches):
            for mode, client in (("federation", fed), ("central", central)):
                time.sleep(SETTLE_S)
                before = _cpu_ms(pids)
                t0 = time.perf_counter()
                response = client.search(identity, "safeguarding")
                samples[mode].append((time.perf_counter() - t0) * 1000)
                after = _cpu_ms(pids)
                unanswered += len(response.unanswered)
                for name in pids:
                    cpu[mode][name] += (after[name] - before[name]) / searches
    finally:
        fed.close()
        central.close()
    each = max(1, searches // threads)
    others = [n for n in pids if n not in ("directory", "central", origin)]
    fed_cpu = cpu["federation"]
    return {
        "councils": len(env.layout.councils),
        "children_per_council": env.children,
        "searches": searches,
        "unanswered": unanswered,
        "federation": {
            **_summary(samples["federation"]),
            "searches_per_s": round(_throughput(env.federation_client, identity, threads, each), 2),
            "cpu_ms_per_search": {
                "origin_council": round(fed_cpu[origin], 2),
                "directory": round(fed_cpu["directory"], 2),
                "other_councils_total": round(sum(fed_cpu[n] for n in others), 2),
                "per_other_council": round(
                    sum(fed_cpu[n] for n in others) / max(1, len(env.layout.councils) - 1), 2
                ),
                "central": round(fed_cpu["central"], 2),
            },
        },
        "central": {
            **_summary(samples["central"]),
            "searches_per_s": round(_throughput(env.central_client, identity, threads, each), 2),
            "cpu_ms_per_search": {
                "central": round(cpu["central"]["central"], 2),
                "all_federation_processes": round(
                    sum(v for k, v in cpu["central"].items() if k != "central"), 2
                ),
            },
        },
        "samples_ms": {mode: [round(v, 2) for v in values] for mode, values in samples.items()},
        "concurrent_clients": threads,
        "load_average": round(os.getloadavg()[0], 1),  # a shared machine: how busy it was meanwhile
    }


def growth_point(councils: int, scale: float, seed: int, searches: int) -> dict[str, Any]:
    """Both architectures built afresh at `councils` councils, measured the same way, then stopped."""
    with tempfile.TemporaryDirectory(prefix="whoelse-review-growth-") as tmp:
        started = time.perf_counter()
        env = build_environment(Path(tmp), councils, scale, seed)
        try:
            truth = Truth.load(env.layout.data_dir)
            result = measure_speed(env, truth, searches=searches, threads=2)
        finally:
            env.stop()
    result.pop("samples_ms")
    result["setup_and_run_s"] = round(time.perf_counter() - started, 1)
    return result
