"""Tokenising a council's records for federated search (node/federation/tokenise.py): after it, a search
made anywhere for a held child meets that child's tags here, and nothing is tokenised twice."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select, text

from tests.node.records_factory import child
from whoelse.federation import oprf
from whoelse.federation.match_keys import match_keys
from whoelse.federation.tokens import tokenise
from whoelse.node.federation.tokenise import RECORDS_PER_BATCH, tokenise_pending
from whoelse.node.matching import identity_of
from whoelse.node.records import Address, ChildRecord, Sex
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import held_tags, upsert_records
from whoelse.node.storage.tables import Child, MatchTag

KEY = oprf.OprfServerKey.from_bytes((4242).to_bytes(32, "little"))


@dataclasses.dataclass
class Directory:
    """The directory's EvaluateTokens, in-process, counting its calls."""

    calls: int = 0

    def __call__(self, blinded: list[bytes]) -> tuple[list[bytes], bytes]:
        self.calls += 1
        return KEY.evaluate_batch_with_proof(blinded)


def _store(db: Database, records: list[ChildRecord]) -> dict[str, int]:
    with db.session() as session:
        upsert_records(session, records, lambda r: [], "local")  # imported, not yet tokenised
        return {c.record_id: c.id for c in session.scalars(select(Child))}


def _searched_tags(record: ChildRecord) -> list[bytes]:
    """The tags another council's practitioner sends when searching for this child."""
    keys = sorted(match_keys(identity_of(record)), key=lambda k: k.encode())
    return [m.tag for m in tokenise(keys, Directory(), KEY.public_key, KEY.key_id)]


# A second child sharing no detail with the factory's default child.
SAMIR = child(
    record_id="LDS-2",
    forename="Samir",
    surname="Khan",
    date_of_birth=dt.date(2012, 9, 1),
    sex=Sex.MALE,
    nhs_number="4010232137",
    address=Address(line1="3 Park Row", town="Leeds", postcode="LS1 5AB"),
)


def test_after_tokenising_a_search_for_each_child_meets_its_record_and_only_its_record(db: Database) -> None:
    zoe = child(record_id="LDS-1")
    sam = SAMIR
    sparse = child(
        record_id="LDS-3",
        surname="",
        date_of_birth=None,
        nhs_number="",
        address=Address(line1="", town="", postcode=""),
    )
    assert not match_keys(identity_of(sparse))  # too little to match on: it gets no tags at all
    ids = _store(db, [zoe, sam, sparse])

    directory = Directory()
    assert tokenise_pending(db, directory, KEY.public_key, KEY.key_id) == 3
    assert directory.calls == 1  # three records: one batch, one call

    for record in (zoe, sam):
        found = {child_id for child_id, *_ in held_tags(db.engine, _searched_tags(record), KEY.key_id)}
        assert found == {ids[record.record_id]}
    with db.session() as session:
        tagged = set(session.scalars(select(MatchTag.child_id).where(MatchTag.scheme == KEY.key_id)))
    assert tagged == {ids["LDS-1"], ids["LDS-2"]}

    # The tokenised records are not sent again; only the sparse one is still pending (and stays tagless).
    again = Directory()
    assert tokenise_pending(db, again, KEY.public_key, KEY.key_id) == 1
    with db.session() as session:
        rows = session.scalar(select(func.count()).select_from(MatchTag).where(MatchTag.scheme == KEY.key_id))
    assert rows == sum(len(match_keys(identity_of(r))) for r in (zoe, sam))


def test_records_are_sent_in_batches_and_every_one_is_tagged(db: Database) -> None:
    count = RECORDS_PER_BATCH + 10
    records = [child(record_id=f"LDS-{n:04d}", forename=f"Zoë{chr(97 + n % 26)}") for n in range(count)]
    ids = _store(db, records)
    directory = Directory()
    seen: list[int] = []
    assert tokenise_pending(db, directory, KEY.public_key, KEY.key_id, progress=seen.append) == count
    assert directory.calls == 2
    assert seen == [RECORDS_PER_BATCH, count]
    with db.session() as session:
        tagged = set(session.scalars(select(MatchTag.child_id).where(MatchTag.scheme == KEY.key_id)))
    assert tagged == set(ids.values())


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_first_tokenisation_leaves_postgresql_planning_on_the_written_tags(db: Database) -> None:
    # The federated tags of a first load are written after the import analysed its tables; without a
    # second ANALYZE the planner kept the import's estimate and planned look-ups on it.
    _store(db, [child(record_id=f"LDS-{n:04d}") for n in range(1100)])

    def planned_tags() -> float:
        with db.engine.connect() as conn:
            return float(
                conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'match_tags'")).scalar_one()
            )

    assert planned_tags() < 1
    assert tokenise_pending(db, Directory(), KEY.public_key, KEY.key_id) == 1100
    assert planned_tags() >= 1100 * len(match_keys(identity_of(child())))
