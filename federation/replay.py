"""The replay cache: a recipient accepts each signed query once (P5; issue #3 "replay cache").

A query is accepted only while its issue time is within ±120 s of the recipient's clock (federation/query.py),
so a captured query is only worth replaying inside that window. The cache remembers every accepted query id
(and its nonce) for `window_ms` after its issue time — 240 s by default, twice the freshness window, so a
replay is refused even if the recipient's clock steps back a little. A query issued before the window (which
the freshness check refuses first anyway) is refused here too: the cache can no longer vouch for it.

Keyed on the query id alone, which is stricter than the (query id, nonce) pair of docs/architecture.md: a
second query under a used id is refused whatever its nonce, so an origin bug cannot make two queries share
one audit-log id. Only signed, verified queries reach the cache, so nobody else can use up an id.

When `max_entries` live entries are held the cache refuses new queries (fails closed) rather than forget one
that could then be replayed: 1,000,000 in 240 s is about 4,000 queries a second, a thousand times the
national peak.
"""

from __future__ import annotations

import heapq
import threading

from whoelse.federation.errors import Refused, Unavailable

DEFAULT_WINDOW_MS = 240_000
DEFAULT_MAX_ENTRIES = 1_000_000


class ReplayCache:
    """Thread-safe memory of the queries accepted in the last `window_ms` milliseconds."""

    def __init__(self, window_ms: int = DEFAULT_WINDOW_MS, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if window_ms <= 0 or max_entries <= 0:
            raise ValueError("window_ms and max_entries must be positive")
        self._window_ms = window_ms
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._seen: dict[str, bytes] = {}  # query id -> nonce
        self._expiry: list[tuple[int, str]] = []  # min-heap of (forget after, query id)

    @property
    def window_ms(self) -> int:
        return self._window_ms

    @property
    def size(self) -> int:
        """How many query ids are remembered now. (Not __len__: an empty cache must still be truthy.)"""
        with self._lock:
            return len(self._seen)

    def check_and_remember(self, query_id: str, nonce: bytes, issued_at_ms: int, now_ms: int) -> None:
        """Remember the query, or raise Refused("replayed query ...") if it was seen within the window.

        Raises Unavailable if the cache is full of live entries (it never forgets one early).
        """
        with self._lock:
            self._expire(now_ms)
            if issued_at_ms < now_ms - self._window_ms:
                raise Refused(f"replayed query {query_id}: issued before the replay window")
            if query_id in self._seen:
                raise Refused(f"replayed query {query_id}: already received")
            if len(self._seen) >= self._max_entries:
                raise Unavailable("replay cache is full; try again shortly")
            self._seen[query_id] = bytes(nonce)
            # Never forget before now + window either, so a clock stepping back cannot reopen the id.
            forget_after = max(issued_at_ms, now_ms) + self._window_ms
            heapq.heappush(self._expiry, (forget_after, query_id))

    def _expire(self, now_ms: int) -> None:
        while self._expiry and self._expiry[0][0] < now_ms:
            _, query_id = heapq.heappop(self._expiry)
            del self._seen[query_id]
