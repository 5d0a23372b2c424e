"""The councils' published audit-log heads: each council publishes its log's signed tree head, and the
directory keeps the latest, so a council cannot later rewrite its history unnoticed (an auditor compares the
council's log with the head the directory holds; `whoelse audit verify`).

A head is accepted only if it is for the publisher's own log, its signature verifies with the council's
signing key from the registry, and it does not contradict the stored head: a smaller tree than before means
the log was truncated or rewritten; the same size with a different root means two histories (a fork).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from directory.registry import Registry, now_ms
from directory.storage import DirectoryDatabase, TreeHeadRow
from federation.errors import PermissionDenied, Refused
from federation.merkle import SignedTreeHead


def _head(row: TreeHeadRow) -> SignedTreeHead:
    return SignedTreeHead(
        row.log_id, row.tree_size, bytes(row.root_hash), row.timestamp_ms, bytes(row.signature)
    )


class TreeHeadStore:
    def __init__(self, db: DirectoryDatabase, registry: Registry, clock: Callable[[], int] = now_ms) -> None:
        self._db = db
        self._registry = registry
        self._clock = clock

    def publish(self, caller: str, head: SignedTreeHead) -> None:
        """Store caller's new head; Refused (naming why) if it is forged, older, or contradicts the stored
        one. Re-publishing the stored head is accepted and changes nothing."""
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
            if row is None:
                session.add(
                    TreeHeadRow(
                        log_id=caller,
                        tree_size=head.tree_size,
                        root_hash=head.root_hash,
                        timestamp_ms=head.timestamp_ms,
                        signature=head.signature,
                        received_at_ms=self._clock(),
                    )
                )
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
            row.tree_size = head.tree_size
            row.root_hash = head.root_hash
            row.timestamp_ms = head.timestamp_ms
            row.signature = head.signature
            row.received_at_ms = self._clock()

    def latest(self) -> list[SignedTreeHead]:
        """Every council's latest published head, ordered by log id."""
        with self._db.session() as session:
            return [_head(row) for row in session.scalars(select(TreeHeadRow).order_by(TreeHeadRow.log_id))]
