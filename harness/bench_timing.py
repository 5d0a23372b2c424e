"""`whoelse bench timing`: can the directory tell which councils hold the searched child from how long each
takes to answer? Measured before and after the answer floor (node/federation/servicer.py).

Runs a real federation of N councils (separate processes, mutual TLS, synthetic records), then searches
from the first council for children drawn from the population's ground truth. This process plays the
directory on the wire: it routes each of the origin's sealed deliveries to its council with the directory's
certificate and times every Deliver call from sending to answer — exactly what the directory observes. Which
councils really held the child is read from the answers the origin opened (it alone can).

The attacker is a threshold classifier ("slower than t ms: holds the child"), with t chosen on the very
data it is scored on (the attacker's best case), scored by balanced accuracy (the mean of the rates it names
holders and non-holders correctly; 0.5 is a coin toss, whatever the share of holders). Also reported: how
often the slowest council to answer a search is a holder, against the share a random pick would get.
The same federation is measured with `answer_floor_ms` 0 (before) and the floor (after), phases alternating.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import tempfile
import time
from concurrent import futures
from pathlib import Path
from typing import Any

from whoelse.federation.council_list import CouncilListCache, load_verify_key
from whoelse.federation.errors import InvalidInput
from whoelse.federation.identity import Identity
from whoelse.federation.purposes import Purpose
from whoelse.federation.transport import MtlsIdentity, council_list_fetcher, secure_channel
from whoelse.harness.bench import percentile
from whoelse.harness.local_federation import Layout, build, choose_councils, start, stop, wait_ready
from whoelse.node.config import ANSWER_FLOOR_MS
from whoelse.node.federation.searcher import FederatedSearch, Searcher
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.v1 import federation_pb2, federation_pb2_grpc

OBSERVER = Searcher("timing-bench", "Timing Benchmark", "Benchmark")


class TimingDirectory:
    """Stands in for the origin's Directory stub: token evaluation goes to the real directory; Route fans
    the deliveries out to the councils as the directory does and keeps each council's answer time (ms)."""

    def __init__(self, layout: Layout, directory: federation_pb2_grpc.DirectoryStub) -> None:
        identity = MtlsIdentity.from_files(
            layout.ca_dir / "ca.crt", layout.ca_dir / "directory.crt", layout.ca_dir / "directory.key"
        )
        self._directory = directory
        self._channels = [secure_channel(f"localhost:{c.federation_port}", identity) for c in layout.councils]
        self._stubs = {
            c.code: federation_pb2_grpc.FederationNodeStub(ch)
            for c, ch in zip(layout.councils, self._channels, strict=True)
        }
        self._pool = futures.ThreadPoolExecutor(len(self._stubs))
        self.timings: dict[str, float] = {}

    def EvaluateTokens(self, request: Any, **kwargs: Any) -> Any:
        return self._directory.EvaluateTokens(request, **kwargs)

    def Route(self, routed: federation_pb2.RoutedQuery, **kwargs: Any) -> federation_pb2.RoutedAnswers:
        def deliver(delivery: federation_pb2.Delivery) -> tuple[str, federation_pb2.SealedAnswer, float]:
            sent = time.perf_counter()
            answer = self._stubs[delivery.recipient].Deliver(delivery, timeout=10)
            return delivery.recipient, answer, (time.perf_counter() - sent) * 1000

        done = list(self._pool.map(deliver, routed.deliveries))
        self.timings = {code: ms for code, _, ms in done}
        return federation_pb2.RoutedAnswers(answers=[answer for _, answer, _ in done])

    def close(self) -> None:
        self._pool.shutdown()
        for channel in self._channels:
            channel.close()


def _children(layout: Layout, count: int, seed: int) -> list[Identity]:
    """`count` children from the ground truth (with repeats if the population is smaller), as first held."""
    truth = [json.loads(x) for x in (layout.data_dir / "ground_truth.jsonl").read_text().splitlines()]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for council in layout.councils:
        for line in (layout.data_dir / f"{council.code}.jsonl").read_text().splitlines():
            row = json.loads(line)
            rows[(council.code, row["record_id"])] = row
    picked = random.Random(seed).choices(truth, k=count)
    out = []
    for child in picked:
        copy = child["copies"][0]
        row = rows[(copy["council"], copy["record_id"])]
        out.append(
            Identity(
                forename=row["forename"],
                surname=row["surname"],
                date_of_birth=dt.date.fromisoformat(row["date_of_birth"]),
                sex=row["sex"],
                postcode=row["address"]["postcode"],
                nhs_number=row.get("nhs_number") or "",
            )
        )
    return out


def classify(samples: list[tuple[float, bool]]) -> dict[str, float]:
    """The best threshold classifier's balanced accuracy over (answer ms, held) samples, its threshold and
    plain accuracy."""
    holders = sum(1 for _, held in samples if held)
    others = len(samples) - holders
    if not holders or not others:
        raise InvalidInput("timing: need holders and non-holders among the answers")
    ordered = sorted(samples)
    best = (0.5, float("inf"), others / len(samples))
    above_holders, above_others = holders, others  # samples strictly above the current threshold
    for ms, held in ordered:
        if held:
            above_holders -= 1
        else:
            above_others -= 1
        balanced = (above_holders / holders + (others - above_others) / others) / 2
        accuracy = (above_holders + others - above_others) / len(samples)
        if balanced > best[0]:
            best = (balanced, ms, accuracy)
    balanced, threshold, accuracy = best
    return {
        "balanced_accuracy": round(balanced, 3),
        "threshold_ms": round(threshold, 2),
        "accuracy": round(accuracy, 3),
    }


def _measure(layout: Layout, searches: list[Identity]) -> dict[str, Any]:
    origin = layout.councils[0]
    db = Database(str(origin.database))
    with db.session() as session:
        settings = load(session)
    db.dispose()
    identity = MtlsIdentity.from_files(
        layout.ca_dir / "ca.crt", layout.ca_dir / f"{origin.code}.crt", layout.ca_dir / f"{origin.code}.key"
    )
    channel = secure_channel(f"localhost:{layout.directory_port}", identity)
    fetch = council_list_fetcher(channel)
    councils = CouncilListCache(
        layout.root / "timing-council-list.bin", load_verify_key(layout.directory_keys / "directory.pub")
    )
    councils.refresh(fetch)
    directory = TimingDirectory(layout, federation_pb2_grpc.DirectoryStub(channel))
    search = FederatedSearch(settings, councils, directory, fetch)  # type: ignore[arg-type]
    samples: list[tuple[float, bool]] = []
    slowest_held, holder_share, totals = 0, [], []
    try:
        for child in searches:
            started = time.perf_counter()
            outcome = search.send(OBSERVER, child, Purpose.SAFEGUARDING)
            totals.append((time.perf_counter() - started) * 1000)
            timed = {c: ms for c, ms in directory.timings.items() if c != origin.code}  # origin: known anyway
            held = {c for c, candidates in outcome.results.items() if candidates}
            samples += [(ms, code in held) for code, ms in timed.items()]
            slowest_held += max(timed, key=lambda c: timed[c]) in held
            holder_share.append(len(held & set(timed)) / len(timed))
            time.sleep(0.01)
    finally:
        directory.close()
        channel.close()
    held_ms = [ms for ms, held in samples if held]
    other_ms = [ms for ms, held in samples if not held]
    return {
        **classify(samples),
        "slowest_is_holder": round(slowest_held / len(searches), 3),
        "slowest_is_holder_by_chance": round(statistics.mean(holder_share), 3),
        "holder_answer_p50_ms": round(statistics.median(held_ms), 2),
        "non_holder_answer_p50_ms": round(statistics.median(other_ms), 2),
        "holder_answers": len(held_ms),
        "non_holder_answers": len(other_ms),
        "search_p50_ms": round(statistics.median(totals), 1),
        "search_p95_ms": round(percentile(totals, 0.95), 1),
    }


def _set_floor(layout: Layout, floor_ms: int) -> None:
    for council in layout.councils:
        config = json.loads(council.config.read_text())
        config["answer_floor_ms"] = floor_ms
        council.config.write_text(json.dumps(config, indent=2))


def bench_timing(councils: int, searches: int, children: int, floor_ms: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="whoelse-bench-timing-") as tmp:
        layout = build(
            Path(tmp), choose_councils(councils), children=children, seed=13,
            upkeep_interval_ms=600000, password_cost="light",
        )  # fmt: skip
        identities = _children(layout, searches, seed=17)
        per_round = max(1, searches // rounds)
        phases: dict[int, list[dict[str, Any]]] = {0: [], floor_ms: []}
        for n in range(rounds):  # alternate, so the machine's slow spells reach both phases alike
            for floor in (0, floor_ms):
                _set_floor(layout, floor)
                pids = start(layout, councils_per_process=max(1, councils // 3))
                try:
                    wait_ready(layout, pids, timeout=120)
                    phases[floor].append(_measure(layout, identities[n * per_round : (n + 1) * per_round]))
                finally:
                    stop(pids)
    return {
        "benchmark": "timing",
        "councils": councils,
        "children_per_council": children,
        "searches_per_phase": per_round * rounds,
        "answer_floor_ms": floor_ms,
        "before": _merge(phases[0]),
        "after": _merge(phases[floor_ms]),
    }


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Round-by-round figures, and their medians (a median of medians for times)."""
    return {key: round(statistics.median(p[key] for p in parts), 3) for key in parts[0]} | {"rounds": parts}


def cmd_bench_timing(args: argparse.Namespace) -> int:
    if args.councils < 3:
        raise InvalidInput("--councils must be at least 3")
    result = bench_timing(args.councils, args.searches, args.children, args.floor_ms, args.rounds)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


def register(benchmarks: Any) -> None:
    p = benchmarks.add_parser("timing", help="can answer times name the councils that hold the child?")
    p.add_argument("--councils", type=int, default=6)
    p.add_argument("--searches", type=int, default=1000, help="searches in each phase (before, after)")
    p.add_argument("--children", type=int, default=30, help="children per council")
    p.add_argument("--floor-ms", type=int, default=ANSWER_FLOOR_MS, help="the answer floor measured")
    p.add_argument("--rounds", type=int, default=2, help="alternations of the two phases")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench_timing)
