"""A search within this council's own records: find, then disclose by the rules. No data leaves here
except the `Disclosure` objects the rules produced."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from whoelse.federation.identity import Identity
from whoelse.node.disclosure import Disclosure, disclose
from whoelse.node.matching import find
from whoelse.node.settings import NodeSettings
from whoelse.node.storage.database import Database
from whoelse.node.tags import LocalTagger

DEFAULT_LIMIT = 10
MAX_LIMIT = 50


@dataclass(frozen=True)
class Candidate:
    score: float
    band: str
    disclosure: Disclosure


def local_search(
    db: Database,
    settings: NodeSettings,
    query: Identity,
    *,
    limit: int = DEFAULT_LIMIT,
    today: dt.date | None = None,
) -> list[Candidate]:
    today = today or dt.date.today()
    limit = max(1, min(limit or DEFAULT_LIMIT, MAX_LIMIT))
    with db.session() as session:
        found = find(session, LocalTagger(settings.tag_key), query, limit=limit)
    out = []
    for item in found:
        disclosure = disclose(item.record, settings.council, today)
        if disclosure is not None:
            out.append(Candidate(item.score.total, item.score.band, disclosure))
    return out
