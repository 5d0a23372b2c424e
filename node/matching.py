"""Finding a child among this council's records: match keys → indexed tags → candidates → scores.

Lookup cost does not grow with the council's size: candidates come only from an indexed tag lookup,
and only those few candidates are loaded and scored (node/scoring.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from federation.identity import Identity
from node.records import ChildRecord
from node.scoring import MatchScore, score
from node.storage.record_store import candidate_rows, record_from_row
from node.storage.tables import Child
from node.tags import Tagger, identity_tags

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


def record_tags(tagger: Tagger, record: ChildRecord) -> list[bytes]:
    return identity_tags(tagger, identity_of(record))


@dataclass(frozen=True)
class ScoredRecord:
    record: ChildRecord
    score: MatchScore


def find(session: Session, tagger: Tagger, query: Identity, limit: int = 10) -> list[ScoredRecord]:
    """Records that match or possibly match `query`, best first."""
    return find_by_tags(session, identity_tags(tagger, query), query, limit=limit, scheme=tagger.scheme)


def find_by_tags(
    session: Session, tags: list[bytes], query: Identity, *, limit: int = 10, scheme: str | None = None
) -> list[ScoredRecord]:
    """Score the records sharing any of `tags` against `query`; keep those in the match or possible band.

    One query fetches the candidates' rows; each is scored on its identity columns, and only those that
    match or possibly match are turned into whole records."""
    found = []
    for child, _ in candidate_rows(session, tags, scheme, MAX_CANDIDATES):
        result = score(query, identity_of_row(child))
        if result.band != "non-match":
            found.append(ScoredRecord(record_from_row(child), result))
    found.sort(key=lambda s: (-s.score.total, s.record.record_id))
    return found[:limit]
