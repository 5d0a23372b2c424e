"""ContactPoint mode: the same node software run as ONE central index holding every council's records.

The baseline the federation is measured against (docs/review.md), not a separate toy: the central node is a
council node's database, accounts, matching, disclosure rules and audit log, with two differences only —

- its records come from every council: each keeps its source council as its holder label (record id
  `<council code>:<the council's own id>`, the council's name and records-team contact in node_settings);
- a practitioner's `Practitioner.Search` is answered from that one database, with no directory and no
  other node: the central operator sees every search, every searched identity and every answer.

It MUST apply the same disclosure rules (node/disclosure.py) as a holding council, per record, with the
record's source council as the holder; and it MUST write one audit entry per search naming the practitioner,
the purpose and every record disclosed (node/audit.py), so subject access works as at a council.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput
from whoelse.federation.identity import Identity
from whoelse.federation.purposes import Purpose
from whoelse.node.audit import AuditLog, DisclosureSummary
from whoelse.node.disclosure import Disclosure, HoldingCouncil, disclose
from whoelse.node.federation.searcher import Outcome, Searcher
from whoelse.node.importer import validate_file
from whoelse.node.matching import find, record_tags
from whoelse.node.records import ChildRecord, RecordId
from whoelse.node.settings import NodeSettings, initialise, load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import upsert_records
from whoelse.node.storage.tables import NodeSetting
from whoelse.node.tags import LocalTagger
from whoelse.node.wire import disclosure_to_pb
from whoelse.v1 import records_pb2 as pb

CENTRAL_CODE = "E92000001"  # ONS code of England: the central index is nobody's council
CENTRAL_NAME = "ContactPoint mode (one national index)"
HOLDER_PREFIX = "holder:"  # node_settings key of a source council's name and records-team contact
SEPARATOR = ":"
MAX_CANDIDATES = 50
BATCH = 2000


def init_central(db: Database, contact: str = "central index service desk") -> NodeSettings:
    """A migrated database that is the central index (settings as a node's, under England's code)."""
    db.migrate()
    with db.session() as session:
        return initialise(session, CENTRAL_CODE, CENTRAL_NAME, contact)


def central_record_id(council: str, record_id: str) -> RecordId:
    return RecordId(f"{council}{SEPARATOR}{record_id}")


def source_of(record_id: str) -> tuple[str, RecordId]:
    """(source council code, the council's own record id) of a central record id."""
    council, _, own = record_id.partition(SEPARATOR)
    if not own:
        raise InvalidInput(f"central record id {record_id!r} names no source council")
    return council, RecordId(own)


def import_council(
    db: Database, code: str, name: str, contact: str, path: Path, today: dt.date | None = None
) -> int:
    """Copy one council's import file into the central index (all or nothing, as `node import`), its
    records keeping the council as holder. Returns how many records were written."""
    code = code.strip().upper()
    if not name.strip():
        raise InvalidInput("central import: --name (the source council's name) must not be empty")
    records = validate_file(path, today or dt.date.today())
    with db.session() as session:
        settings = load(session)
        holder = json.dumps({"name": name.strip(), "contact": contact.strip() or f"{name} records team"})
        row = session.get(NodeSetting, HOLDER_PREFIX + code)
        if row is None:
            session.add(NodeSetting(key=HOLDER_PREFIX + code, value=holder))
        else:
            row.value = holder
    tagger = LocalTagger(settings.tag_key)
    for start in range(0, len(records), BATCH):
        chunk = [
            replace(r, record_id=central_record_id(code, r.record_id)) for r in records[start : start + BATCH]
        ]
        with db.session() as session:
            upsert_records(session, chunk, lambda r: record_tags(tagger, r), tagger.scheme)
    return len(records)


def holders(db: Database) -> dict[str, HoldingCouncil]:
    """Each source council whose records the central index holds, by code."""
    with db.session() as session:
        rows = session.scalars(select(NodeSetting).where(NodeSetting.key.startswith(HOLDER_PREFIX)))
        out = {}
        for row in rows:
            code = row.key.removeprefix(HOLDER_PREFIX)
            value = json.loads(row.value)
            out[code] = HoldingCouncil(code, value["name"], value["contact"])
    return out


class CentralSearch:
    """Answers a practitioner's search from the central index (what `FederatedSearch` does by asking every
    council): find, then disclose each record by the rules with its source council as holder, then log."""

    def __init__(
        self,
        db: Database,
        settings: NodeSettings,
        audit: AuditLog,
        *,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self._db = db
        self._tagger = LocalTagger(settings.tag_key)
        self._audit = audit
        self._today = today
        self._holders = holders(db)

    def council_name(self, code: str) -> str:
        holder = self._holders.get(code)
        return holder.name if holder else (CENTRAL_NAME if code == CENTRAL_CODE else code)

    def send(self, who: Searcher, identity: Identity, purpose: Purpose) -> Outcome:
        started = time.perf_counter()
        with self._db.session() as session:
            found = find(session, self._tagger, identity, limit=MAX_CANDIDATES)
        today = self._today()
        outcome = Outcome(uuid.uuid4().hex, asked=[CENTRAL_CODE], answered=[CENTRAL_CODE])
        disclosed: list[tuple[str, Disclosure]] = []
        results: dict[str, list[pb.Candidate]] = defaultdict(list)
        for item in found:
            code, own = source_of(item.record.record_id)
            holder = self._holders.get(code, HoldingCouncil(code, code, ""))
            record: ChildRecord = replace(item.record, record_id=own)
            disclosure = disclose(record, holder, today)
            if disclosure is None:  # retention ended: archived, never disclosed
                continue
            disclosed.append((item.record.record_id, disclosure))
            results[code].append(
                pb.Candidate(
                    score=item.score.total,
                    **closed_sets.BAND.fields(item.score.band),
                    disclosure=disclosure_to_pb(disclosure),
                )
            )
        outcome.results = dict(results)
        # One entry per search, committed before the answer leaves: who asked, why, and what was disclosed.
        self._audit.search_received(
            outcome.query_id,
            CENTRAL_CODE,
            f"{who.name} ({who.role}), {who.username}",
            purpose.value,
            len(disclosed),
            disclosures=[(rid, DisclosureSummary.of(d)) for rid, d in disclosed],
            origin_council_name=CENTRAL_NAME,
        )
        outcome.elapsed_s = time.perf_counter() - started
        return outcome
