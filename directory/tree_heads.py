"""The councils' published audit-log heads: each council publishes its log's signed tree head, and the
directory keeps every one it accepts, so a council cannot later rewrite its history unnoticed (an auditor
fetches them with `whoelse audit collect-heads` and checks the council's log against them with
`whoelse audit verify --trusted-heads`).

A head MUST be for the publisher's own log and signed by the council's registered key, and a head larger than
the last one accepted MUST come with an RFC 9162 §2.1.4 consistency proof from it (federation/merkle.py):
a log truncated, rewritten or forked cannot produce one. The same size with a different root is two
histories of one log; a smaller tree was truncated. The first head needs no proof.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select

from whoelse.directory.registry import Registry, now_ms
from whoelse.directory.storage import DirectoryDatabase, TreeHeadHistoryRow, TreeHeadRow
from whoelse.federation import merkle
from whoelse.federation.errors import PermissionDenied, Refused
from whoelse.federation.merkle import SignedTreeHead

HASH_BYTES = 32


def _head(row: TreeHeadRow | TreeHeadHistoryRow) -> SignedTreeHead:
    return SignedTreeHead(
        row.log_id, row.tree_size, bytes(row.root_hash), row.timestamp_ms, bytes(row.signature)
    )


def split_proof(joined: bytes) -> list[bytes]:
    return [joined[i : i + HASH_BYTES] for i in range(0, len(joined), HASH_BYTES)]


class TreeHeadStore:
    def __init__(self, db: DirectoryDatabase, registry: Registry, clock: Callable[[], int] = now_ms) -> None:
        self._db = db
        self._registry = registry
        self._clock = clock

    def publish(self, caller: str, head: SignedTreeHead, proof: Sequence[bytes] = ()) -> None:
        """Store caller's new head; Refused (naming why) if it is forged, older, contradicts the stored one
        or comes without a valid consistency proof from it. Re-publishing the stored head is accepted and
        changes nothing."""
        if head.log_id != caller:
            raise PermissionDenied(
                f"council {caller} may publish only its own log's head, not {head.log_id!r}"
            )
        entry = self._registry.require_active(caller)
        try:
            head.verify(entry.signing_key)
        except Refused as exc:
            raise Refused(f"tree head for {caller} is not signed by the council's registered key") from exc
        with self._db.session() as session:
            row = session.scalars(
                select(TreeHeadRow).where(TreeHeadRow.log_id == caller).with_for_update()
            ).first()
            received = _columns(head, self._clock())
            if row is None:
                session.add(TreeHeadRow(log_id=caller, **received))
                session.add(TreeHeadHistoryRow(log_id=caller, consistency_proof=b"", **received))
                return
            if head.tree_size < row.tree_size:
                raise Refused(
                    f"tree head for {caller} has {head.tree_size} entries but {row.tree_size} were published "
                    "before: the log was truncated or rewritten"
                )
            if head.tree_size == row.tree_size:
                if head.root_hash != bytes(row.root_hash):
                    raise Refused(
                        f"tree head for {caller} of size {head.tree_size} has a different root than the one "
                        "published before: two histories of one log"
                    )
                return
            try:
                merkle.verify_consistency(
                    row.tree_size, head.tree_size, bytes(row.root_hash), head.root_hash, proof
                )
            except Refused as exc:
                raise Refused(
                    f"tree head for {caller} of size {head.tree_size} does not prove it extends the head of "
                    f"size {row.tree_size} published before ({exc}): the log was rewritten, or the proof "
                    "is missing"
                ) from None
            for name, value in received.items():
                setattr(row, name, value)
            session.add(TreeHeadHistoryRow(log_id=caller, consistency_proof=b"".join(proof), **received))

    def latest(self) -> list[SignedTreeHead]:
        """Every council's latest published head, ordered by log id."""
        with self._db.session() as session:
            return [_head(row) for row in session.scalars(select(TreeHeadRow).order_by(TreeHeadRow.log_id))]

    def history(self) -> list[tuple[SignedTreeHead, list[bytes]]]:
        """Every head accepted, by log id then size, each with its consistency proof from the one before."""
        with self._db.session() as session:
            rows = session.scalars(
                select(TreeHeadHistoryRow).order_by(TreeHeadHistoryRow.log_id, TreeHeadHistoryRow.tree_size)
            )
            return [(_head(row), split_proof(bytes(row.consistency_proof))) for row in rows]


def _columns(head: SignedTreeHead, received_at_ms: int) -> dict[str, Any]:
    """SignedHeadColumns for head, received now."""
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp_ms": head.timestamp_ms,
        "signature": head.signature,
        "received_at_ms": received_at_ms,
    }
