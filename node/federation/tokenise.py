"""Tokenising this council's records for federated search: match keys → OPRF tokens → (tag, key) rows.

Runs after import and after an OPRF key rotation: every record lacking tags under the current key id is
tokenised in batches through the directory (one EvaluateTokens call per batch; the directory sees only
blinded points). Rows for retired key ids are dropped once the current key covers every record.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.orm import Session

from whoelse.federation.match_keys import MatchKey, match_keys
from whoelse.federation.tokens import Evaluator, TokenMaterial, tokenise
from whoelse.node.federation.held_filter import HeldTagFilter
from whoelse.node.matching import identity_of
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import BULK_WRITE_ROWS, load_records, refresh_statistics
from whoelse.node.storage.tables import Child, MatchTag
from whoelse.node.tags import LOCAL_SCHEME

RECORDS_PER_BATCH = 250  # ≈ 3,000 keys: one directory call, well under its per-call limit


def pending_children(session: Session, scheme: str, limit: int, after: int = 0) -> list[int]:
    """Records with no tags under `scheme` (new, re-imported, or from before a key rotation), with internal
    ids above `after`, in id order."""
    has_tags = exists().where(MatchTag.child_id == Child.id, MatchTag.scheme == scheme)
    query = select(Child.id).where(~has_tags, Child.id > after).order_by(Child.id).limit(limit)
    return list(session.scalars(query))


def tokenise_pending(
    db: Database,
    evaluate: Evaluator,
    public_key: bytes,
    key_id: str,
    *,
    progress: Callable[[int], None] | None = None,
    held: HeldTagFilter | None = None,
) -> int:
    """Tokenise every record lacking tags under `key_id`; returns how many records were tokenised. Each
    batch's tags go into `held` (the holder's filter) before they are written.

    One pass in id order: a record too sparse to have any match key (a forename alone, say) gets no tags and
    is passed over, not fetched again and again."""
    done = 0
    after = 0
    while True:
        with db.session() as session:
            ids = pending_children(session, key_id, RECORDS_PER_BATCH, after)
            if not ids:
                if done >= BULK_WRITE_ROWS:  # the federated tags of a first load: plan on them as they are
                    refresh_statistics(db.engine)
                return done
            after = ids[-1]
            records = load_records(session, ids)
        keys_of: dict[int, list[MatchKey]] = {
            child_id: sorted(match_keys(identity_of(r)), key=lambda k: k.encode())
            for child_id, r in records.items()
        }
        unique = list(dict.fromkeys(k for keys in keys_of.values() for k in keys))
        material: dict[MatchKey, TokenMaterial] = {
            m.key: m for m in tokenise(unique, evaluate, public_key, key_id)
        }
        rows = [
            {
                "tag": material[k].tag,
                "scheme": key_id,
                "child_id": child_id,
                "secret": material[k].demographics_key,
                "kind": k.kind.value,
            }
            for child_id, keys in keys_of.items()
            for k in keys
        ]
        with db.session() as session:
            # A record re-imported meanwhile has a new id; rows for vanished ids are simply not written.
            alive = set(session.scalars(select(Child.id).where(Child.id.in_(list(keys_of)))))
            rows = [r for r in rows if r["child_id"] in alive]
            if rows:
                if held is not None:
                    held.add(key_id, (m.tag for m in material.values()))
                session.connection().execute(insert(MatchTag), rows)
        done += len(keys_of)
        if progress:
            progress(done)


def drop_schemes_except(db: Database, keep: set[str]) -> int:
    """Delete tags made under retired OPRF keys (never the node's local tags)."""
    with db.session() as session:
        result = session.execute(delete(MatchTag).where(MatchTag.scheme.not_in(keep | {LOCAL_SCHEME})))
        return int(getattr(result, "rowcount", 0) or 0)
