"""`whoelse bench search --councils N`: federated search latency and throughput on this machine.

Runs a real federation of N councils (separate processes, mutual TLS, every council's own SQLite file),
then measures, in the same run:

- the floor: a trivial gRPC echo (FederationNode.Ping) fanned out from one caller to the same N council
  servers over the same kind of connection, waiting for all N replies;
- a search: a practitioner's Practitioner.Search at their home council — token evaluation at the directory,
  sealing to N councils, routing, N holder look-ups and sealed answers, opening every answer.

`ratio_p50` = search p50 / floor p50. The two alternate (one floor fan-out, then one search, repeated), so
both see the same machine; medians of many repetitions, because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput
from whoelse.federation.practitioner_client import Account, PractitionerClient
from whoelse.federation.transport import MtlsIdentity, secure_channel
from whoelse.harness.bench import percentile
from whoelse.harness.local_federation import (
    Layout,
    build,
    choose_councils,
    shared_children,
    start,
    stop,
    wait_ready,
)
from whoelse.v1 import federation_pb2, federation_pb2_grpc
from whoelse.v1 import records_pb2 as pb


class _Floor:
    """A 16-byte Ping fanned out to every council's federation server (as the directory would), over one
    already-open mutual-TLS channel per council: the floor a fan-out to N servers costs on this machine."""

    def __init__(self, layout: Layout) -> None:
        identity = MtlsIdentity.from_files(
            layout.ca_dir / "ca.crt", layout.ca_dir / "directory.crt", layout.ca_dir / "directory.key"
        )
        self._channels = [secure_channel(f"localhost:{c.federation_port}", identity) for c in layout.councils]
        self._stubs = [federation_pb2_grpc.FederationNodeStub(ch) for ch in self._channels]
        self._request = federation_pb2.PingRequest(payload=b"x" * 16)
        for stub in self._stubs:  # connect first (one at a time), so the timing covers calls, not handshakes
            for attempt in range(5):
                try:
                    stub.Ping(self._request, timeout=10)
                    break
                except grpc.RpcError:
                    if attempt == 4:
                        raise
                    time.sleep(0.2)

    def fan_out(self) -> None:
        calls = [stub.Ping.future(self._request, timeout=10) for stub in self._stubs]
        for call in calls:
            call.result()

    def close(self) -> None:
        for channel in self._channels:
            channel.close()


SETTLE_S = 0.05


def _cpu_ms(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU time used so far by each process (Linux /proc), in milliseconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out[name] = (int(fields[11]) + int(fields[12])) * 1000 / ticks
    return out


def _sample_identity(layout: Layout) -> pb.SearchIdentity:
    """A child held by two or more councils, as their first council recorded them."""
    shared = shared_children(layout.data_dir)
    if not shared:
        first_council = layout.data_dir / f"{layout.councils[0].code}.jsonl"
        row = json.loads(first_council.read_text().splitlines()[0])
        return pb.SearchIdentity(
            forename=row["forename"], surname=row["surname"], date_of_birth=row["date_of_birth"]
        )
    _, row = shared[0][0]
    return pb.SearchIdentity(
        forename=row["forename"],
        surname=row["surname"],
        date_of_birth=row["date_of_birth"],
        **closed_sets.SEX.fields(row["sex"]),
        postcode=row["address"]["postcode"],
    )


def _client(layout: Layout, index: int) -> PractitionerClient:
    council = layout.councils[index % len(layout.councils)]
    p = council.practitioners[(index // len(layout.councils)) % len(council.practitioners)]
    account = Account(
        council.code,
        p["username"],
        p["password"],
        p["totp_secret"],
        council.practitioner_endpoint,
        layout.ca_dir / "ca.crt",
    )
    return PractitionerClient(account)


def bench_search(
    councils: int, searches: int, children: int, per_process: int, threads: int, keep: str | None = None
) -> dict[str, Any]:
    chosen = choose_councils(councils)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="whoelse-bench-search-") as tmp:
        layout = build(
            Path(keep or tmp),
            chosen,
            children=children,
            seed=11,
            # Upkeep (council list refresh, publishing audit heads) is background work on a timer. At the
            # default 2 s it would load the shared cores with 153 councils' upkeep; 10 minutes keeps it out
            # of both the search and the floor measurement alike (every node still runs it once at start).
            upkeep_interval_ms=600_000,
            alert_poll_ms=5_000,
            password_cost="light",  # every node then uses it for every log-in: no account stands out
        )
        per_process = per_process or max(1, math.ceil(councils / 6))
        pids = start(layout, councils_per_process=per_process, solo_first=True)
        try:
            wait_ready(layout, pids, timeout=900)
            setup_s = time.perf_counter() - started
            identity = _sample_identity(layout)
            client = _client(layout, 0)
            fan_out = _Floor(layout)
            latencies: list[float] = []
            floor: list[float] = []
            unanswered = 0
            cpu = dict.fromkeys(pids, 0.0)
            floor_cpu = dict.fromkeys(pids, 0.0)
            for _ in range(5):  # warm-up: connections, caches
                client.search(identity, "safeguarding")
                fan_out.fan_out()
            # Floor and search alternate, so a shared machine's slow and fast spells reach both alike; a
            # short pause before each lets whatever the previous one left running (collectors, pollers)
            # settle, so neither is timed on the other's tail.
            for _ in range(searches):
                time.sleep(SETTLE_S)
                before = _cpu_ms(pids)
                t0 = time.perf_counter()
                fan_out.fan_out()
                floor.append((time.perf_counter() - t0) * 1000)
                after = _cpu_ms(pids)
                for name in pids:
                    floor_cpu[name] += (after[name] - before[name]) / searches
                time.sleep(SETTLE_S)
                before = _cpu_ms(pids)
                t0 = time.perf_counter()
                response = client.search(identity, "safeguarding")
                latencies.append((time.perf_counter() - t0) * 1000)
                after = _cpu_ms(pids)
                unanswered += len(response.unanswered)
                for name in pids:
                    cpu[name] += (after[name] - before[name]) / searches
            fan_out.close()
            client.close()
            throughput = _throughput(layout, identity, threads, searches)
        finally:
            stop(pids)
    p50 = statistics.median(latencies)
    floor_p50 = statistics.median(floor)
    return {
        "benchmark": "search",
        "councils": councils,
        "children_per_council": children,
        "councils_per_process": per_process,
        "searches": len(latencies),
        "p50_ms": round(p50, 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "searches_per_s": round(throughput, 2),
        "concurrent_clients": threads,
        "floor_p50_ms": round(floor_p50, 1),
        "floor_p95_ms": round(percentile(floor, 0.95), 1),
        "ratio_p50": round(p50 / floor_p50, 2),
        "unanswered": unanswered,
        "cpu_ms_per_search": {
            "origin_council": round(cpu[layout.councils[0].code], 1),
            "directory": round(cpu["directory"], 1),
            "other_councils": round(
                sum(v for k, v in cpu.items() if k not in ("directory", layout.councils[0].code)), 1
            ),
        },
        # The same councils' CPU for one Ping each: what gRPC alone costs a council per call.
        "floor_cpu_ms_per_council": round(
            sum(v for k, v in floor_cpu.items() if k != "directory") / len(layout.councils), 2
        ),
        "setup_s": round(setup_s, 1),
    }


def _throughput(layout: Layout, identity: pb.SearchIdentity, threads: int, searches: int) -> float:
    """Searches a second with `threads` practitioners at different councils searching at once."""
    clients = [_client(layout, i + 1) for i in range(threads)]  # index 0 already logged in: its code is spent
    return concurrent_searches(clients, identity, max(1, searches // threads))


def concurrent_searches(clients: list[PractitionerClient], identity: pb.SearchIdentity, each: int) -> float:
    """Searches a second with every client (logged in first) searching `each` times at once; closes them."""
    for c in clients:
        c.login()
    barrier = threading.Barrier(len(clients))

    def run(client: PractitionerClient) -> None:
        barrier.wait()
        for _ in range(each):
            client.search(identity, "safeguarding")

    t0 = time.perf_counter()
    with futures.ThreadPoolExecutor(len(clients)) as pool:
        for f in [pool.submit(run, c) for c in clients]:
            f.result()
    elapsed = time.perf_counter() - t0
    for c in clients:
        c.close()
    return len(clients) * each / elapsed


def cmd_bench_search(args: argparse.Namespace) -> int:
    if args.councils < 2:
        raise InvalidInput("--councils must be at least 2")
    if args.searches < 1:
        raise InvalidInput("--searches must be at least 1")
    result = bench_search(
        args.councils, args.searches, args.children, args.per_process, args.threads, args.dir
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0


def register(benchmarks: Any) -> None:
    p = benchmarks.add_parser("search", help="federated search latency against a fan-out echo floor")
    p.add_argument("--councils", type=int, default=5)
    p.add_argument("--searches", type=int, default=60, help="searches timed (and as many floor fan-outs)")
    p.add_argument("--children", type=int, default=30, help="children per council")
    p.add_argument("--per-process", type=int, default=0, help="councils per node process (default: N/6)")
    p.add_argument("--threads", type=int, default=4, help="concurrent practitioners for searches_per_s")
    p.add_argument("--dir", help="build the federation here and keep it (logs) instead of a temporary folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench_search)
