"""Finding a child among this council's records: match keys → indexed tags → candidates → scores.

Whether a search may open a council's records at all is the opening rule (`rank_candidates`). Lookup cost
does not grow with the council's size: candidates come only from an indexed tag lookup, and only those few
candidates are loaded and scored (node/scoring.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import OPENING_BITS, kinds_evidence
from whoelse.node.records import ChildRecord
from whoelse.node.scoring import MatchScore, keep_twins_apart, score
from whoelse.node.storage.record_store import child_rows, record_from_row, shared_kinds
from whoelse.node.storage.tables import Child
from whoelse.node.tags import KindedTag, Tagger, identity_tags

MAX_CANDIDATES = 200  # a query sharing tags with more records than this is too vague to score them all


def identity_of(record: ChildRecord) -> Identity:
    """The matching view of a record: the same fields a searcher supplies, plus known aliases."""
    return Identity(
        forename=record.forename,
        surname=record.surname,
        date_of_birth=record.date_of_birth,
        sex=record.sex.value,
        postcode=record.address.postcode,
        nhs_number=record.nhs_number,
        middle_names=record.middle_names,
        known_as=record.known_as,
        previous_surnames=record.previous_surnames,
    )


def identity_of_row(child: Child) -> Identity:
    """The matching view of a stored row, read from its columns (no need to build the whole record)."""
    return Identity(
        forename=child.forename,
        surname=child.surname,
        date_of_birth=child.date_of_birth,
        sex=child.sex,
        postcode=child.address_postcode,
        nhs_number=child.nhs_number,
        middle_names=child.middle_names,
        known_as=child.known_as,
        previous_surnames=tuple(p for p in child.previous_surnames.split(";") if p),
    )


def record_tags(tagger: Tagger, record: ChildRecord) -> list[KindedTag]:
    return identity_tags(tagger, identity_of(record))


@dataclass(frozen=True)
class ScoredRecord:
    record: ChildRecord
    score: MatchScore


@dataclass(frozen=True)
class Candidate:
    """A record sharing match keys with a search, and the evidence (bits) those keys amount to."""

    child_id: int
    kinds: frozenset[str]
    evidence: float


def rank_candidates(kinds_by_child: dict[int, set[str]], limit: int) -> tuple[list[Candidate], bool]:
    """The records a search may open, strongest evidence first, and whether any record shares keys at all.

    THE OPENING RULE (P3), the same for a council's own searches and for federated ones: the searched
    identity is opened (decrypted, scored) only when at least one record's shared keys reach
    federation.match_keys.OPENING_BITS; then every sharing record is scored, since the identity is already
    open. When none reaches it the council learns nothing more and can only refer the searcher."""
    candidates = sorted(
        (Candidate(cid, frozenset(kinds), kinds_evidence(kinds)) for cid, kinds in kinds_by_child.items()),
        key=lambda c: (-c.evidence, c.child_id),
    )
    if not candidates or candidates[0].evidence < OPENING_BITS:
        return [], bool(candidates)
    return candidates[:limit], True


def score_candidates(query: Identity, held: list[Identity]) -> list[MatchScore]:
    """One council's scores for its candidates against a search, in order, twins kept apart: the one
    scoring step local and federated searches share."""
    return keep_twins_apart([(identity, score(query, identity)) for identity in held])


def find(session: Session, tagger: Tagger, query: Identity, limit: int = 10) -> list[ScoredRecord]:
    """Records that match or possibly match `query`, best first."""
    tags = [tag for tag, _ in identity_tags(tagger, query)]
    return find_by_tags(session, tags, query, limit=limit, scheme=tagger.scheme)


def find_by_tags(
    session: Session, tags: list[bytes], query: Identity, *, limit: int = 10, scheme: str | None = None
) -> list[ScoredRecord]:
    """Score the records sharing `tags` with `query`, if the opening rule lets the search open; keep those
    in the match or possible band.

    One query fetches the shared kinds, one the candidates' rows; each is scored on its identity columns,
    and only those that match or possibly match are turned into whole records."""
    candidates, _ = rank_candidates(shared_kinds(session, tags, scheme), MAX_CANDIDATES)
    rows = child_rows(session, [c.child_id for c in candidates])
    results = score_candidates(query, [identity_of_row(rows[c.child_id]) for c in candidates])
    found = []
    for candidate, result in zip(candidates, results, strict=True):
        if result.band != "non-match":
            found.append(ScoredRecord(record_from_row(rows[candidate.child_id]), result))
    found.sort(key=lambda s: (-s.score.total, s.record.record_id))
    return found[:limit]
