"""Which lookup tags this council might hold, answered from memory: the first step of every received query.

Every council gets every federated query and nearly all of them hold nothing. Asking the database costs far
more inside a busy server than the look-up itself (a pooled connection, and several hand-overs of
Python's interpreter lock to other threads; docs/benchmarks.md, "A held-tag filter"), so the holder first
asks a Bloom filter over this council's federated tags: "certainly not held" ends the look-up there;
"perhaps held" goes to the database as before.

The rules that keep it exact where it matters:
- A filter MUST never say "not held" for a tag the database holds under its scheme. Federated tags are
  written in one place, `tokenise_pending` in this process's upkeep thread, which adds them here before
  it writes them, so a query can never see a committed tag the filter lacks. The filter is built in that
  same thread (`NodeRuntime.keep_held_filter`), so no tag is written while a build reads them. A tag
  added here whose write then rolls back is only a false "perhaps".
- A scheme's filter is built by reading every tag of that scheme; until the first build has finished
  every query goes to the database, and during a rebuild the previous filter answers.
- A scheme with no filter (a query under an OPRF key id this node has not built one for) answers
  "perhaps": the database decides.
- Deleted tags (retention, re-import, a retired key id) stay in the filter as false "perhaps" answers;
  a filter grown to twice the tags it was sized for is rebuilt at the next upkeep, which also clears
  them.

What it holds: bits derived from tags, never tags, children's details or keys; 2 to 4 bytes per tag
(16 bits a tag rounded up to a power of two: 16 MiB for 350,000 children of 16 tags each).

Timing: a council that holds nothing now does less work than one that holds the child; the answer floor
hides the difference (node/federation/servicer.py; docs/benchmarks.md, "Answer timing").
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select

from whoelse.node.storage.database import Database
from whoelse.node.storage.tables import MatchTag

BITS_PER_TAG = 16  # with 4 probes: 0.24% of absent tags get "perhaps" (a 16-tag query up to 4%)
PROBES = 4
MIN_BITS = 1 << 16
READ_BATCH = 10_000


class _Bloom:
    """A Bloom filter over byte strings; each string is hashed once (BLAKE2b) into PROBES bit positions."""

    def __init__(self, expected: int) -> None:
        want = max(MIN_BITS, expected * BITS_PER_TAG)
        self._shift = min(32, (want - 1).bit_length())  # 2**shift bits
        self._mask = (1 << self._shift) - 1
        self._bits = bytearray(1 << (self._shift - 3))
        self.sized_for = max(expected, 1)
        self.added = 0

    def _positions(self, tag: bytes) -> list[int]:
        h = int.from_bytes(hashlib.blake2b(tag, digest_size=16).digest(), "little")
        shift, mask = self._shift, self._mask
        return [(h >> (shift * i)) & mask for i in range(PROBES)]

    def add(self, tag: bytes) -> None:
        bits = self._bits
        for p in self._positions(tag):
            bits[p >> 3] |= 1 << (p & 7)
        self.added += 1

    def __contains__(self, tag: bytes) -> bool:
        bits = self._bits
        return all(bits[p >> 3] >> (p & 7) & 1 for p in self._positions(tag))


class HeldTagFilter:
    """Per OPRF key id ("scheme"), a Bloom filter over the federated tags this council holds.

    `ensure` and `tokenise_pending` run in the same thread (the node's upkeep), so a build never reads
    the database while tags are being written, and no tag is added while a filter is being built."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._ready: dict[str, _Bloom] = {}  # replaced whole, so may_hold reads it without the lock

    def may_hold(self, scheme: str, tags: Sequence[bytes]) -> bool:
        """False only when no tag of `tags` is held under `scheme`; True when one might be."""
        bloom = self._ready.get(scheme)
        if bloom is None:
            return True
        return any(tag in bloom for tag in tags)

    def add(self, scheme: str, tags: Iterable[bytes]) -> None:
        """Call before writing federated tags under `scheme` (tokenise_pending does)."""
        with self._lock:
            bloom = self._ready.get(scheme)
            if bloom is not None:
                for tag in tags:
                    bloom.add(tag)

    def ensure(self, scheme: str) -> bool:
        """Build the filter for `scheme` if there is none, or rebuild one that has grown past twice the
        tags it was sized for; True if it built one. Queries meanwhile use the previous filter, or the
        database if there was none."""
        current = self._ready.get(scheme)
        if current is not None and current.added <= 2 * current.sized_for:
            return False
        with self._db.session() as session:
            expected = session.scalar(
                select(func.count()).select_from(MatchTag).where(MatchTag.scheme == scheme)
            )
        bloom = _Bloom(int(expected or 0))
        stream = select(MatchTag.tag).where(MatchTag.scheme == scheme)
        with self._db.engine.connect() as conn:
            result = conn.execution_options(yield_per=READ_BATCH).execute(stream)
            for batch in result.partitions():
                for (tag,) in batch:
                    bloom.add(bytes(tag))
        with self._lock:
            self._ready = {**self._ready, scheme: bloom}
        return True

    def retain(self, schemes: Iterable[str]) -> None:
        """Forget the filters of retired OPRF key ids."""
        keep = set(schemes)
        with self._lock:
            self._ready = {s: b for s, b in self._ready.items() if s in keep}
