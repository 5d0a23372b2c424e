"""The directory's routing log: one tamper-evident entry per routed query, holding only what the directory may
see (P2): origin council, query id, purpose, when, how many councils it went to, which answered and which did
not and why. Never a sealed payload, never anything about the child.

Built on the shared append-only Merkle log (federation/transparency_log.py) under log id "directory"; its
signed head is returned by Directory.GetTreeHeads beside the councils' published heads.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from directory.storage import ROUTING_LOG, DirectoryDatabase
from federation.merkle import SignedTreeHead
from federation.signing import SigningKey
from federation.transparency_log import LogEntry, TransparencyLog

LOG_ID = "directory"


@dataclass(frozen=True, slots=True)
class RoutingEntry:
    query_id: str
    origin: str
    purpose: str
    issued_at_ms: int
    routed_at_ms: int
    recipients: int
    answered: tuple[str, ...]
    unanswered: tuple[tuple[str, str], ...]  # (council, reason); the node's detail text is not logged

    def to_mapping(self) -> Mapping[str, Any]:
        return {
            "query_id": self.query_id,
            "origin": self.origin,
            "purpose": self.purpose,
            "issued_at_ms": self.issued_at_ms,
            "routed_at_ms": self.routed_at_ms,
            "recipients": self.recipients,
            "answered": list(self.answered),
            "unanswered": [{"council": council, "reason": reason} for council, reason in self.unanswered],
        }


class RoutingLog:
    """Appends routing entries and signs heads over them with the directory's key."""

    def __init__(self, db: DirectoryDatabase, signing_key: SigningKey) -> None:
        self._db = db
        self._log = TransparencyLog(ROUTING_LOG, LOG_ID, signing_key)
        self._lock = threading.Lock()

    def record(self, entry: RoutingEntry) -> int:
        """Durably append one routed query's metadata; returns its index in the log."""
        with self._db.session() as session:
            return self._log.append(session, entry.to_mapping())

    def head(self) -> SignedTreeHead:
        """A signed head covering every entry so far (signed now if entries arrived since the last one)."""
        with self._lock, self._db.session() as session:
            latest = self._log.latest_head(session)
            if latest is not None and latest.tree_size == self._log.size(session):
                return latest
            return self._log.checkpoint(session)

    def entries(self, start: int = 0, stop: int | None = None) -> list[LogEntry]:
        with self._db.session() as session:
            return self._log.entries(session, start, stop)
