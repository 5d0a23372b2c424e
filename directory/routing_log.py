"""The directory's routing log: one tamper-evident entry per routed query, holding only what the directory may
see (P2): origin council, query id, purpose, when, how many councils it went to, which answered and which did
not and why. Never a sealed payload, never anything about the child.

Built on the shared append-only Merkle log (federation/transparency_log.py) under log id "directory"; its
signed head is returned by Directory.GetTreeHeads beside the councils' published heads. Councils witness it
(federation/witness.py): each checks a new head extends the last one it saw and co-signs it; the
cosignatures are kept here and handed to auditors with the largest co-signed head.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from whoelse.directory.storage import ROUTING_LOG, DirectoryDatabase, RoutingCosignatureRow
from whoelse.federation.errors import Refused
from whoelse.federation.merkle import SignedTreeHead
from whoelse.federation.signing import SigningKey
from whoelse.federation.transparency_log import LogEntry, TransparencyLog
from whoelse.federation.witness import ROUTING_LOG_ID, verify_cosignature

LOG_ID = ROUTING_LOG_ID
Cosignatures = list[tuple[str, bytes]]
"""(witness council, cosignature) on one head."""


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

    def head_since(self, from_size: int) -> tuple[SignedTreeHead, list[bytes]]:
        """The newest head and, when 0 < from_size <= its size, the consistency proof from from_size (for a
        witness that last saw a head of that size)."""
        head = self.head()
        if not 0 < from_size <= head.tree_size:
            return head, []
        with self._db.session() as session:
            return head, self._log.consistency_proof(session, from_size, head.tree_size)

    def cosign(
        self, witness: str, witness_key: bytes, tree_size: int, root_hash: bytes, signature: bytes
    ) -> None:
        """Keep a council's cosignature on the head this log signed at tree_size; Refused if no such head
        has that root, or the signature is not the witness's."""
        with self._db.session() as session:
            head = self._log.head_at(session, tree_size)
            if head is None or head.root_hash != bytes(root_hash):
                raise Refused(
                    f"cosignature: the routing log signed no head of size {tree_size} with that root"
                )
            try:
                verify_cosignature(head, witness_key, signature)
            except Refused as exc:
                raise Refused(f"cosignature from {witness}: bad signature") from exc
            row = session.get(RoutingCosignatureRow, (tree_size, witness))
            if row is None:
                session.add(
                    RoutingCosignatureRow(
                        tree_size=tree_size,
                        witness=witness,
                        root_hash=head.root_hash,
                        signature=bytes(signature),
                        received_at_ms=int(time.time() * 1000),
                    )
                )

    def cosignatures(self, tree_size: int) -> Cosignatures:
        with self._db.session() as session:
            rows = session.execute(
                select(RoutingCosignatureRow)
                .where(RoutingCosignatureRow.tree_size == tree_size)
                .order_by(RoutingCosignatureRow.witness)
            ).scalars()
            return [(row.witness, row.signature) for row in rows]

    def latest_cosigned(self) -> tuple[SignedTreeHead, Cosignatures] | None:
        """The largest head that at least one council co-signed, with every cosignature on it."""
        with self._db.session() as session:
            size = session.execute(select(func.max(RoutingCosignatureRow.tree_size))).scalar()
            head = self._log.head_at(session, size) if size is not None else None
        if head is None:
            return None
        return head, self.cosignatures(head.tree_size)
