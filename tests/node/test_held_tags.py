"""The look-up every council runs for every federated query: which of the query's tags it holds."""

from __future__ import annotations

from sqlalchemy import select

from tests.node.records_factory import child
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import held_tags, upsert_records
from whoelse.node.storage.tables import Child, MatchTag

SCHEME, OLD_SCHEME = "a" * 32, "b" * 32


def _store(db: Database) -> dict[str, int]:
    with db.session() as session:
        upsert_records(session, [child(record_id="C1"), child(record_id="C2")], lambda r: [], "local")
        ids = {c.record_id: c.id for c in session.scalars(select(Child))}
        rows = [
            (b"\x01", SCHEME, "C1", b"k", "dob-names"),
            (b"\x02", SCHEME, "C1", b"l", "dob-fn"),
            (b"\x03", SCHEME, "C2", b"m", "nhs"),
            (b"\x04", OLD_SCHEME, "C2", b"n", "pc-dob"),
        ]
        session.add_all(
            MatchTag(tag=tag * 16, scheme=scheme, child_id=ids[record], secret=secret * 32, kind=kind)
            for tag, scheme, record, secret, kind in rows
        )
    return ids


def test_a_council_finds_exactly_the_tags_it_holds_under_the_querys_key(db: Database) -> None:
    ids = _store(db)
    asked = [b"\x09" * 16, b"\x03" * 16, b"\x01" * 16, b"\x04" * 16]
    found = sorted(held_tags(db.engine, asked, SCHEME))
    assert found == [
        (ids["C1"], b"\x01" * 16, b"k" * 32, "dob-names"),
        (ids["C2"], b"\x03" * 16, b"m" * 32, "nhs"),
    ]
    assert held_tags(db.engine, asked, OLD_SCHEME) == [(ids["C2"], b"\x04" * 16, b"n" * 32, "pc-dob")]


def test_a_council_holding_nothing_finds_nothing(db: Database) -> None:
    _store(db)
    assert held_tags(db.engine, [b"\x09" * 16, b"\x0a" * 16], SCHEME) == []
    assert held_tags(db.engine, [], SCHEME) == []
