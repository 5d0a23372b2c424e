"""`whoelse bench node` (import rate, lookup latency, memory) and `whoelse bench match` (matching quality).

Both print one JSON object. Latencies are medians/percentiles of many lookups in the same run, beside a
floor measured in the same run (a primary-key fetch of one record), because this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import random
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from whoelse.federation.errors import InvalidInput
from whoelse.federation.identity import Identity
from whoelse.node.importer import import_file
from whoelse.node.matching import find, identity_of, rank_candidates, record_tags
from whoelse.node.records import ChildRecord
from whoelse.node.settings import initialise
from whoelse.node.storage.database import LOCAL_POSTGRES, Database, scratch_postgres
from whoelse.node.storage.record_store import shared_kinds, upsert_records
from whoelse.node.storage.tables import Child
from whoelse.node.tags import LocalTagger, identity_tags

BENCH_COUNCIL = "E08000025"  # Birmingham, the largest council by children


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of values, for the p95 every benchmark reports."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def _database(backend: str, workdir: Path, name: str = "bench") -> Iterator[Database]:
    if backend == "sqlite":
        db = Database(str(workdir / f"{name}.sqlite"))
        yield db
        db.dispose()
        return
    with ExitStack() as stack:
        try:
            db = stack.enter_context(scratch_postgres(prefix="whoelse_bench"))
        except Exception as exc:
            raise InvalidInput(
                f"--backend postgresql: cannot create a database at {LOCAL_POSTGRES} ({exc})"
            ) from exc
        yield db


def _generated(path: Path, children: int, seed: int, lookups: int) -> tuple[float, list[Identity], list[str]]:
    """Write the synthetic export (run in its own process, so the import's memory is measured alone):
    seconds taken, the identities to look up and the record ids for the floor's primary-key fetches."""
    from whoelse.harness.synth.generate import generate
    from whoelse.harness.synth.writer import record_to_json

    rng = random.Random(seed)
    started = time.perf_counter()
    population = generate([BENCH_COUNCIL], children_per_council=children, seed=seed)
    records = population.records[BENCH_COUNCIL]  # type: ignore[index]
    generate_s = time.perf_counter() - started
    with path.open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(record_to_json(r), ensure_ascii=False) + "\n" for r in records)
    sample = [identity_of(r) for r in rng.sample(records, min(lookups, len(records)))]
    ids = [str(r.record_id) for r in rng.sample(records, min(lookups, len(records)))]
    return generate_s, sample, ids


class _TreeMemory:
    """The largest resident memory of this process and its children (the import's workers), sampled."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, _tree_rss_mb())
            if self._stop.wait(0.1):
                return


def _tree_rss_mb() -> float:
    total = 0.0
    pids = ["self"]
    for task in Path("/proc/self/task").iterdir():
        try:
            pids += (task / "children").read_text().split()
        except OSError:
            continue
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # ended meanwhile
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def _floor_insert_s(source: Database, floor: Database) -> float:
    """The floor: seconds to insert the rows the import wrote, read back from its tables, into the same
    tables of an empty database with a plain batched insert (executemany, one transaction per batch of
    BATCH children), timing the inserts and commits only."""
    from whoelse.node.importer import BATCH
    from whoelse.node.storage.record_store import CHILD_COLUMNS, TAG_COLUMNS

    floor.migrate()
    mark = "?" if source.engine.dialect.paramstyle == "qmark" else "%s"
    children_sql = (
        f"INSERT INTO children ({', '.join(CHILD_COLUMNS)}) VALUES ({', '.join([mark] * len(CHILD_COLUMNS))})"
    )
    tags_sql = (
        f"INSERT INTO match_tags ({', '.join(TAG_COLUMNS)}) VALUES ({', '.join([mark] * len(TAG_COLUMNS))})"
    )
    with source.engine.connect() as conn:
        top = int(conn.execute(select(func.coalesce(func.max(Child.id), 0))).scalar_one())
    elapsed = 0.0
    with source.engine.connect() as read, floor.engine.connect() as write:
        reader = read.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        writer = write.connection.dbapi_connection
        for low in range(1, top + 1, BATCH):
            high = low + BATCH - 1
            reader.execute(
                f"SELECT {', '.join(CHILD_COLUMNS)} FROM children WHERE id BETWEEN {mark} AND {mark}",
                (low, high),
            )
            children = reader.fetchall()
            reader.execute(
                f"SELECT {', '.join(TAG_COLUMNS)} FROM match_tags WHERE child_id BETWEEN {mark} AND {mark}",
                (low, high),
            )
            tags = reader.fetchall()
            write.commit()  # end the transaction SQLAlchemy began, so the timed one is the insert's own
            started = time.perf_counter()
            cursor = writer.cursor()  # type: ignore[union-attr]
            cursor.executemany(children_sql, children)
            cursor.executemany(tags_sql, tags)
            writer.commit()  # type: ignore[union-attr]
            cursor.close()
            elapsed += time.perf_counter() - started
        reader.close()
    return elapsed


def bench_node(children: int, backend: str, lookups: int, seed: int) -> dict[str, Any]:
    if children < 1:
        raise InvalidInput("--children must be at least 1")
    with tempfile.TemporaryDirectory(prefix="whoelse-bench-") as tmp:
        workdir = Path(tmp)
        path = workdir / f"{BENCH_COUNCIL}.jsonl"
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as generator:
            generate_s, sample, ids = generator.submit(_generated, path, children, seed, lookups).result()
        gc.collect()
        with _database(backend, workdir, "bench") as db:
            db.migrate()
            with db.session() as session:
                settings = initialise(session, BENCH_COUNCIL, "Birmingham", "records team")
            tagger = LocalTagger(settings.tag_key)
            with _TreeMemory() as memory:
                started = time.perf_counter()
                report = import_file(db, path, tagger, record_tags)
                import_s = time.perf_counter() - started
            import_rss_mb = _rss_mb()
            gc.collect()
            lookup_ms: list[float] = []
            found = 0
            with db.session() as session:
                for identity in sample:
                    t0 = time.perf_counter()
                    result = find(session, tagger, identity, limit=10)
                    lookup_ms.append((time.perf_counter() - t0) * 1000)
                    found += bool(result)
                floor_ms: list[float] = []
                for record_id in ids:
                    t0 = time.perf_counter()
                    session.execute(select(Child).where(Child.record_id == record_id)).scalar_one()
                    floor_ms.append((time.perf_counter() - t0) * 1000)
            with _database(backend, workdir, "floor") as floor:
                floor_s = _floor_insert_s(db, floor)
    return {
        "benchmark": "node",
        "backend": backend,
        "children": report.records,
        "generate_s": round(generate_s, 2),
        "import_s": round(import_s, 2),
        "import_per_s": round(report.records / import_s, 1),
        "import_floor_s": round(floor_s, 2),
        "import_floor_per_s": round(report.records / floor_s, 1),
        "import_to_floor": round(floor_s / import_s, 3),
        "lookups": len(lookup_ms),
        "lookup_found_rate": round(found / max(1, len(lookup_ms)), 4),
        "lookup_p50_ms": round(statistics.median(lookup_ms), 3),
        "lookup_p95_ms": round(percentile(lookup_ms, 0.95), 3),
        "floor_pk_fetch_p50_ms": round(statistics.median(floor_ms), 3),
        "rss_mb": round(import_rss_mb, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "import_peak_rss_all_processes_mb": round(memory.peak_mb, 1),
    }


def bench_match(
    councils: list[str], children: int, seed: int, nonholder_queries: int, noise: str = "both"
) -> dict[str, Any]:
    """Matching quality at today's noise level and at the realistic one (harness/synth/noise.py), separately,
    and the near-holder exposure of the opening rule (harness/bench_exposure.py) on the realistic
    population."""
    levels = ["today", "realistic"] if noise == "both" else [noise]
    result: dict[str, Any] = {"benchmark": "match", "councils": len(councils)}
    for level in levels:
        result[level] = _bench_match_level(councils, children, seed, nonholder_queries, level)
    return result


def _bench_match_level(
    councils: list[str], children: int, seed: int, nonholder_queries: int, noise: str
) -> dict[str, Any]:
    """Search each council for every child it shares with another, using the other council's copy."""
    from whoelse.federation.match_keys import match_keys
    from whoelse.harness.bench_exposure import near_holder_exposure, people_of
    from whoelse.harness.local_federation import SYNTHETIC_TODAY
    from whoelse.harness.synth.generate import generate

    population = generate(
        councils,
        children_per_council=children,
        seed=seed,
        noise=noise,  # type: ignore[arg-type]
        today=SYNTHETIC_TODAY,
    )
    by_council = {code: {r.record_id: r for r in recs} for code, recs in population.records.items()}
    family_of: dict[tuple[str, str], str] = {}
    person_of: dict[tuple[str, str], str] = {}
    for person in population.people:
        for copy in person.copies:
            family_of[(copy.council, copy.record_id)] = person.family_id
            person_of[(copy.council, copy.record_id)] = person.person_id
    with tempfile.TemporaryDirectory(prefix="whoelse-match-") as tmp:
        dbs: dict[str, tuple[Database, LocalTagger]] = {}
        for code, recs in population.records.items():
            db = Database(str(Path(tmp) / f"{code}.sqlite"))
            db.migrate()
            with db.session() as session:
                tagger = LocalTagger(initialise(session, code, code, "records team").tag_key)
                upsert_records(session, list(recs), _tag_with(tagger), tagger.scheme)
            dbs[code] = (db, tagger)

        pairs = found = returned_matches = correct_matches = sibling_false = possible_found = referred = 0
        started = time.perf_counter()

        def search(code: str, query: ChildRecord) -> list[tuple[str, str]]:
            """The council's answer: scored records if the opening rule opens, else a referral or nothing."""
            db, tagger = dbs[code]
            identity = identity_of(query)
            with db.session() as session:
                results: list[tuple[str, str]] = [
                    (s.record.record_id, s.score.band) for s in find(session, tagger, identity)
                ]
                if not results:
                    tags = [tag for tag, _ in identity_tags(tagger, identity)]
                    opened, shared = rank_candidates(shared_kinds(session, tags, tagger.scheme), 1)
                    if shared and not opened:
                        results = [("", "referral")]
                return results

        for person in population.people:
            if len(person.copies) < 2:
                continue
            for source in person.copies:
                for target in person.copies:
                    if target.council == source.council:
                        continue
                    pairs += 1
                    query = by_council[source.council][source.record_id]
                    results = search(target.council, query)
                    matches = [rid for rid, band in results if band == "match"]
                    returned_matches += len(matches)
                    correct_matches += sum(rid == target.record_id for rid in matches)
                    found += target.record_id in matches
                    possible_found += any(rid == target.record_id for rid, _ in results)
                    referred += any(band == "referral" for _, band in results)
                    sibling_false += sum(
                        1
                        for rid in matches
                        if rid != target.record_id
                        and family_of.get((target.council, rid)) == person.family_id
                    )
        # Children searched for in a council that does not hold them: any match there is false.
        rng = random.Random(seed)
        singles = [p for p in population.people if len(p.copies) == 1]
        codes = list(by_council)
        nonholder_false = 0
        for person in rng.sample(singles, min(nonholder_queries, len(singles))):
            copy = person.copies[0]
            other = rng.choice([c for c in codes if c != copy.council])
            matches = [
                rid
                for rid, band in search(other, by_council[copy.council][copy.record_id])
                if band == "match"
            ]
            returned_matches += len(matches)
            nonholder_false += len(matches)
        elapsed = time.perf_counter() - started
        for db, _ in dbs.values():
            db.dispose()
    overlap = _key_overlap(population, rng, nonholder_queries)
    people = people_of(population)
    keys_per_record = sum(len(match_keys(i)) for _, copies in people for _, i in copies) / max(
        1, population.record_count
    )
    return {
        "noise": noise,
        "records": population.record_count,
        "pairs": pairs,
        "recall": round(found / max(1, pairs), 4),
        "recall_including_possible": round(possible_found / max(1, pairs), 4),
        "referral_only": round(referred / max(1, pairs), 4),
        "precision": round(correct_matches / max(1, returned_matches), 4),
        "false_matches": returned_matches - correct_matches,
        "sibling_false_matches": sibling_false,
        "nonholder_queries": min(nonholder_queries, len(singles)),
        "nonholder_false_matches": nonholder_false,
        "searches_per_s": round((pairs + min(nonholder_queries, len(singles))) / elapsed, 1),
        "token_evaluations_per_child": round(keys_per_record, 2),
        **overlap,
        **near_holder_exposure(people, nonholder_queries, seed),
    }


def _key_overlap(population: Any, rng: random.Random, samples: int) -> dict[str, Any]:
    """How many match keys true cross-council pairs share, and how many *other* children share one key, or
    two or more, with a search: the figures behind the two-tag rule (docs/threat-model.md, P3)."""
    from collections import Counter, defaultdict

    from whoelse.federation.match_keys import match_keys

    keys_of = {
        (code, r.record_id): match_keys(identity_of(r))
        for code, recs in population.records.items()
        for r in recs
    }
    holders: dict[Any, set[tuple[str, str]]] = defaultdict(set)
    for ref, keys in keys_of.items():
        for key in keys:
            holders[key].add(ref)
    shared: Counter[int] = Counter()
    for person in population.people:
        if len(person.copies) >= 2:
            a, b = person.copies[0], person.copies[1]
            shared[min(len(keys_of[(a.council, a.record_id)] & keys_of[(b.council, b.record_id)]), 2)] += 1
    one = two_plus = 0
    chosen = rng.sample(list(population.people), min(samples, len(population.people)))
    for person in chosen:
        own = {(c.council, c.record_id) for c in person.copies}
        counts: Counter[tuple[str, str]] = Counter()
        for key in keys_of[(person.copies[0].council, person.copies[0].record_id)]:
            counts.update(ref for ref in holders[key] if ref not in own)
        one += sum(1 for n in counts.values() if n == 1)
        two_plus += sum(1 for n in counts.values() if n >= 2)
    pairs = sum(shared.values()) or 1
    return {
        "true_pairs_sharing_no_key": round(shared[0] / pairs, 4),
        "true_pairs_sharing_one_key": round(shared[1] / pairs, 4),
        "other_children_sharing_one_key_per_search": round(one / max(1, len(chosen)), 4),
        "other_children_sharing_two_plus_keys_per_search": round(two_plus / max(1, len(chosen)), 4),
    }


def _tag_with(tagger: LocalTagger) -> Callable[[ChildRecord], list[tuple[bytes, str]]]:
    return lambda record: record_tags(tagger, record)


DEFAULT_MATCH_COUNCILS = ("E08000025", "E08000028", "E08000029", "E08000030", "E08000027")  # West Midlands


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")


def cmd_bench_node(args: argparse.Namespace) -> int:
    _print(bench_node(args.children, args.backend, args.lookups, args.seed), args.json)
    return 0


def cmd_bench_match(args: argparse.Namespace) -> int:
    if args.dataset:  # data from outside the project, through the real federated search
        from whoelse.harness.bench_febrl import run

        return run(args.dataset, args.json)
    councils = [c.strip().upper() for c in args.councils.split(",") if c.strip()]
    if len(councils) < 2:
        raise InvalidInput("--councils needs at least two council codes")
    _print(bench_match(councils, args.children, args.seed, args.nonholder_queries, args.noise), args.json)
    return 0


def register(benchmarks: Any) -> None:
    from whoelse.harness.bench_calibration import register as register_calibration

    register_calibration(benchmarks, ",".join(DEFAULT_MATCH_COUNCILS))
    p = benchmarks.add_parser("node", help="import rate, lookup latency and memory for one council")
    p.add_argument("--children", type=int, default=10_000)
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--lookups", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench_node)

    p = benchmarks.add_parser("match", help="precision and recall of cross-council matching")
    p.add_argument("--councils", default=",".join(DEFAULT_MATCH_COUNCILS))
    p.add_argument("--children", type=int, default=4000, help="children per council")
    p.add_argument("--nonholder-queries", type=int, default=2000)
    p.add_argument(
        "--noise",
        choices=["today", "realistic", "both"],
        default="both",
        help="error model of the second copies (harness/synth/noise.py); both reports each separately",
    )
    p.add_argument(
        "--dataset",
        choices=["febrl1", "febrl2", "febrl3", "febrl", "census"],
        help="FEBRL 1-3 (all: febrl) or census-style records (pseudopeople), not synth",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench_match)
