"""Validating an export's rows and making their lookup tags, chunk by chunk, in worker processes.

The contract:
- A chunk MUST come back in the order it was given, one `Checked` per row: the row's record id as written
  (or None) and its problems (none when valid).
- When tags are wanted, the valid rows MUST also come back prepared (stored columns and kinded tags, and
  the record when asked for), pickled into one blob, so the importer can spill them to disk without
  unpickling them and the database pass needs neither the file nor validation again.
- Workers MUST NOT touch the database: all-or-nothing is the importer's to keep.
- Small files, and taggers that cannot be sent to another process, are done in-process by the same code.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from whoelse.node.import_files import ImportProblem, RawLine, RawRow, parsed
from whoelse.node.records import ChildRecord
from whoelse.node.storage.record_store import ChildValues, child_values
from whoelse.node.tags import KindedTag, Tagger
from whoelse.node.validation import validate_record

CHUNK = 500  # rows per task: large enough to amortise the pickling, small enough to keep memory flat
POOL_MIN_BYTES = 4 * 1024 * 1024  # smaller files are done in-process: starting workers costs more
TagFn = Callable[[Tagger, ChildRecord], list[KindedTag]]
T = TypeVar("T")


class Checked(NamedTuple):
    """One row's outcome (a named tuple: every row of the file makes one, in a worker and again here)."""

    line: int
    record_id: str | None
    problems: tuple[ImportProblem, ...]


class Prepared(NamedTuple):
    """A valid row ready to write: its stored columns and lookup tags (each with its match key's kind), and
    the record itself when the import's hooks need it (records cost several times more to send)."""

    line: int
    values: ChildValues
    tags: tuple[KindedTag, ...]
    record: ChildRecord | None


@dataclass(frozen=True, slots=True)
class _Job:
    name: str
    today: dt.date
    tagger: Tagger | None  # None: validate only (`import --check`)
    tag_fn: TagFn | None
    records: bool  # send back each valid ChildRecord too


_job: _Job | None = None  # set once in each worker by _start


def _start(job: _Job) -> None:
    global _job
    _job = job


def _in_worker(units: list[RawLine | RawRow]) -> tuple[list[Checked], bytes]:
    assert _job is not None, "worker started without its job"
    return check_chunk(_job, units)


def check_chunk(job: _Job, units: list[RawLine | RawRow]) -> tuple[list[Checked], bytes]:
    """Parse and validate each row; tag the valid ones when the job has a tagger."""
    checked: list[Checked] = []
    prepared: list[Prepared] = []
    for unit in units:
        row = parsed(job.name, unit)
        rid = row.record_id
        if isinstance(row.value, ImportProblem):
            checked.append(Checked(row.line, rid, (row.value,)))
            continue
        result = validate_record(row.value, job.today)
        if isinstance(result, list):
            problems = tuple(ImportProblem(job.name, row.line, e.field, e.reason, rid or "") for e in result)
            checked.append(Checked(row.line, rid, problems))
            continue
        checked.append(Checked(row.line, rid, ()))
        if job.tagger is not None and job.tag_fn is not None:
            tags = tuple(job.tag_fn(job.tagger, result))
            prepared.append(Prepared(row.line, child_values(result), tags, result if job.records else None))
        elif job.records:
            prepared.append(Prepared(row.line, (), (), result))
    return checked, pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last may be shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def workers_for(file_bytes: int) -> int:
    """How many worker processes to use for a file of this size: none for small files, else one per core."""
    if file_bytes < POOL_MIN_BYTES or os.environ.get("WHOELSE_IMPORT_WORKERS") == "0":
        return 0
    return max(1, len(os.sched_getaffinity(0)))


def _sendable(job: _Job) -> bool:
    try:
        pickle.dumps(job)
    except Exception:  # a tagger holding a channel or a lock: tag in-process instead
        return False
    return True


def check_all(
    name: str,
    units: Iterable[RawLine | RawRow],
    today: dt.date,
    tagger: Tagger | None,
    tag_fn: TagFn | None,
    workers: int,
    *,
    records: bool,
) -> Iterator[tuple[list[Checked], bytes]]:
    """Each chunk's results, in file order, computed by `workers` processes (0: in this one). At most two
    chunks per worker are in flight, so memory does not grow with the file."""
    job = _Job(name, today, tagger, tag_fn, records)
    if workers == 0 or not _sendable(job):
        for chunk in chunks(units, CHUNK):
            yield check_chunk(job, chunk)
        return
    # spawn, not fork: the importer may run in a process with gRPC threads (bench alerts, tests)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(job,)) as pool:
        in_flight: deque[Future[tuple[list[Checked], bytes]]] = deque()
        try:
            for chunk in chunks(units, CHUNK):
                in_flight.append(pool.submit(_in_worker, chunk))
                if len(in_flight) >= 2 * workers:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
        finally:
            for future in in_flight:
                future.cancel()


def load_prepared(blob: bytes) -> list[Prepared]:
    value: Any = pickle.loads(blob)  # our own spill, written by this import
    return list(value)
