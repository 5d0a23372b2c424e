"""The append-only Merkle log: contiguous indexes under concurrency, fast incremental checkpoints, proofs an
outsider can check, and a verifier that names every kind of tampering done to the stored rows."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.orm import sessionmaker

from whoelse.federation import merkle
from whoelse.federation.canonical import canonical_json
from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.signing import SigningKey
from whoelse.federation.transparency_log import (
    CompactRange,
    LogTables,
    ProblemKind,
    TransparencyLog,
    VerificationReport,
    _leaf_document_of,
    define_log_table,
    head_from_json,
    head_to_json,
    leaf_document,
    load_trusted_heads,
    verify_entry_inclusion,
    verify_log,
)

PG_ADMIN_URL = os.environ.get("WHOELSE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
KEY = SigningKey.from_bytes(bytes(range(32)))
LOG_ID = "E08000035/audit"


class Store:
    """One log in a fresh database, with a session factory and a clock tests can move on."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata = MetaData()
        self.tables: LogTables = define_log_table(metadata, "audit_log")
        metadata.drop_all(engine)
        metadata.create_all(engine)
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.now_ms = 1_700_000_000_000
        self.log = TransparencyLog(self.tables, LOG_ID, KEY, clock_ms=self._tick)

    def _tick(self) -> int:
        self.now_ms += 1000
        return self.now_ms

    def append(self, *entries: dict[str, object]) -> list[int]:
        with self.sessions.begin() as session:
            return [self.log.append(session, entry) for entry in entries]

    def checkpoint(self) -> merkle.SignedTreeHead:
        with self.sessions.begin() as session:
            return self.log.checkpoint(session)

    def verify(self, trusted: tuple[merkle.SignedTreeHead, ...] = ()) -> VerificationReport:
        with self.sessions.begin() as session:
            return verify_log(session, self.tables, KEY.verify_key_bytes, trusted)

    def sql(self, *statements: str) -> None:
        """Tamper with the stored rows directly, as someone with database access would."""
        with self.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))


@pytest.fixture(scope="module")
def postgres_engine() -> Iterator[Engine]:
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2})
        with admin.connect():
            pass
    except Exception:
        if os.environ.get("WHOELSE_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL required (WHOELSE_REQUIRE_POSTGRES is set)")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    name = f"whoelse_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path}/log.sqlite", connect_args={"timeout": 10})
        yield Store(engine)
        engine.dispose()
    else:  # one database for the module (creating one costs ~0.5 s); fresh tables for each test
        yield Store(request.getfixturevalue("postgres_engine"))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    engine = create_engine(f"sqlite:///{tmp_path}/log.sqlite", connect_args={"timeout": 10})
    yield Store(engine)
    engine.dispose()


def entry(n: int, who: str = "sam.social-worker") -> dict[str, object]:
    return {"kind": "search_received", "practitioner": who, "query_id": f"q-{n:04d}", "candidates": n % 3}


def published_log(store: Store) -> tuple[merkle.SignedTreeHead, ...]:
    """20 entries with heads at sizes 8, 13 and 20; returns the heads as if published to the directory."""
    store.append(*(entry(n) for n in range(8)))
    first = store.checkpoint()
    store.append(*(entry(n) for n in range(8, 13)))
    second = store.checkpoint()
    store.append(*(entry(n) for n in range(13, 20)))
    third = store.checkpoint()
    return first, second, third


def kinds(report: VerificationReport) -> set[ProblemKind]:
    return {problem.kind for problem in report.problems}


# ------------------------------------------------------------------------------------------------ tree maths


def test_compact_range_gives_the_rfc_9162_root_for_every_size() -> None:
    leaves = [merkle.leaf_hash(bytes([n])) for n in range(70)]
    compact = CompactRange()
    assert compact.root() == merkle.root([])
    for n, leaf in enumerate(leaves, start=1):
        compact.append(leaf)
        assert compact.root() == merkle.root(leaves[:n]), n
        assert CompactRange.from_bytes(n, compact.to_bytes()).root() == compact.root()


def test_the_leaf_document_format_is_pinned_for_other_implementations() -> None:
    # What an outside auditor hashes (RFC 9162 §2.1.1: HASH(0x00 || document)); changing it breaks old logs.
    document = leaf_document(3, {"kind": "search_received", "candidates": 0})
    assert document == b'{"entry":{"candidates":0,"kind":"search_received"},"index":3}'
    assert merkle.leaf_hash(document).hex() == hashlib.sha256(b"\x00" + document).hexdigest()


def test_a_batch_builds_the_leaf_document_byte_for_byte() -> None:
    # append_many encodes each entry once and wraps it; an auditor recomputes leaf_document().
    entries: list[dict[str, object]] = [
        {},
        {"kind": "search_received", "candidates": 0, "disclosures": [{"record_id": "R1", "x": [1, 2]}]},
        {"practitioner": 'Zoë \u202e "quoted" \\ \n', "é": "ü", "a": None, "b": True, "big": 2**53 - 1},
        {"bytes": b"\x00\xff", "z": {"nested": {"deeper": "日本"}}},
    ]
    for index in (0, 7, 10**12):
        for item in entries:
            assert _leaf_document_of(index, canonical_json(item)) == leaf_document(index, item)


def test_compact_range_refuses_a_range_of_the_wrong_shape() -> None:
    with pytest.raises(InvalidInput, match="size 3 holds 2 roots"):
        CompactRange(3, [b"\x00" * 32])


# ------------------------------------------------------------------------------------- append and checkpoint


def test_append_gives_contiguous_indexes_and_checkpoint_signs_the_rfc_root(store: Store) -> None:
    assert store.append(entry(0), entry(1), entry(2)) == [0, 1, 2]
    head = store.checkpoint()
    leaves = [merkle.leaf_hash(leaf_document(n, entry(n))) for n in range(3)]
    assert (head.log_id, head.tree_size, head.root_hash) == (LOG_ID, 3, merkle.root(leaves))
    head.verify(KEY.verify_key_bytes)
    with store.sessions.begin() as session:
        assert store.log.latest_head(session) == head
        assert store.log.size(session) == 3
        assert [e.entry for e in store.log.entries(session, 1, 3)] == [entry(1), entry(2)]
        assert store.log.entries(session)[0].created_at.tzinfo is not None


def test_an_empty_log_checkpoints_to_the_empty_root(store: Store) -> None:
    head = store.checkpoint()
    assert (head.tree_size, head.root_hash) == (0, merkle.EMPTY_ROOT)
    assert store.verify().ok


def test_append_refuses_an_entry_that_cannot_be_signed(sqlite_store: Store) -> None:
    with pytest.raises(InvalidInput, match="floating-point"):
        sqlite_store.append({"score": 0.5})
    assert sqlite_store.append(entry(0)) == [0]


def test_append_many_stores_a_batch_in_order_after_what_is_there(store: Store) -> None:
    assert store.append(entry(0)) == [0]
    with store.sessions.begin() as session:
        assert store.log.append_many(session, [entry(1), entry(2), entry(3)]) == range(1, 4)
        assert store.log.append_many(session, []) == range(0)
    head = store.checkpoint()
    leaves = [merkle.leaf_hash(leaf_document(n, entry(n))) for n in range(4)]
    assert (head.tree_size, head.root_hash) == (4, merkle.root(leaves))
    with store.sessions.begin() as session:
        assert [e.entry for e in store.log.entries(session)] == [entry(n) for n in range(4)]
    assert store.verify().ok


def test_append_many_stores_nothing_when_one_entry_cannot_be_signed(sqlite_store: Store) -> None:
    with sqlite_store.sessions.begin() as session, pytest.raises(InvalidInput, match=r"\$\.score"):
        sqlite_store.log.append_many(session, [entry(0), {"score": 0.5}])
    assert sqlite_store.append(entry(0)) == [0]


def test_checkpoint_needs_a_signing_key(sqlite_store: Store) -> None:
    reader = TransparencyLog(sqlite_store.tables, LOG_ID, None)
    with sqlite_store.sessions.begin() as session, pytest.raises(InvalidInput, match="signing key"):
        reader.checkpoint(session)


def test_concurrent_appends_get_distinct_contiguous_indexes(store: Store) -> None:
    got: list[int] = []
    errors: list[BaseException] = []

    def writer(who: int) -> None:
        try:
            for n in range(10):
                got.extend(store.append(entry(n, f"user{who}")))
        except BaseException as exc:  # surfaced below: a lost append is the failure being tested
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(got) == list(range(40))
    store.checkpoint()
    assert store.verify().ok


def test_a_checkpoint_after_100k_entries_is_fast_and_the_next_one_integrates_only_new_leaves(
    sqlite_store: Store,
) -> None:
    rows = []
    for n in range(100_000):
        document = f'{{"entry":{{"n":{n}}},"index":{n}}}'.encode()  # leaf_document(n, {"n": n}), faster
        rows.append((n, document.decode(), merkle.leaf_hash(document), "2024-01-01 00:00:00.000000"))
    assert rows[7][1] == leaf_document(7, {"n": 7}).decode()
    with sqlite_store.engine.begin() as conn:  # the driver directly: 2x faster than Core for 100k rows
        conn.exec_driver_sql(
            "INSERT INTO audit_log (idx, entry, leaf_hash, created_at) VALUES (?, ?, ?, ?)", rows
        )

    head = sqlite_store.checkpoint()
    assert head.tree_size == 100_000

    sqlite_store.append(entry(1), entry(2))
    hashed = 0
    real_node_hash = merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal hashed
        hashed += 1
        return real_node_hash(left, right)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(merkle, "node_hash", counting)
        head = sqlite_store.checkpoint()
    assert 0 < hashed < 64  # O(new leaves + log n) interior hashes, not O(n)
    assert head.tree_size == 100_002
    leaves = [r[2] for r in rows] + [
        merkle.leaf_hash(leaf_document(100_000, entry(1))),
        merkle.leaf_hash(leaf_document(100_001, entry(2))),
    ]
    assert head.root_hash == merkle.root(leaves)


def test_a_corrupted_checkpoint_cache_is_not_trusted(sqlite_store: Store) -> None:
    sqlite_store.append(*(entry(n) for n in range(5)))
    sqlite_store.checkpoint()
    sqlite_store.sql("UPDATE audit_log_heads SET compact_range = zeroblob(length(compact_range))")
    sqlite_store.append(entry(5))
    head = sqlite_store.checkpoint()
    leaves = [merkle.leaf_hash(leaf_document(n, entry(n))) for n in range(6)]
    assert head.root_hash == merkle.root(leaves)


# ------------------------------------------------------------------------------------------------- proofs


def test_inclusion_and_consistency_proofs_verify_against_signed_heads(store: Store) -> None:
    first, _, third = published_log(store)
    with store.sessions.begin() as session:
        proof = store.log.inclusion_proof(session, 5, third.tree_size)
        consistency = store.log.consistency_proof(session, first.tree_size, third.tree_size)
        with pytest.raises(InvalidInput, match="not in a tree of 20"):
            store.log.inclusion_proof(session, 20, 20)
    verify_entry_inclusion(leaf_document(5, entry(5)), 5, proof, third, KEY.verify_key_bytes)
    with pytest.raises(Refused, match="inclusion proof for leaf 5"):
        verify_entry_inclusion(leaf_document(5, entry(6)), 5, proof, third, KEY.verify_key_bytes)
    merkle.verify_consistency(first.tree_size, third.tree_size, first.root_hash, third.root_hash, consistency)


def test_trusted_heads_round_trip_through_a_json_file(tmp_path: Path, sqlite_store: Store) -> None:
    import json

    heads = published_log(sqlite_store)
    path = tmp_path / "heads.json"
    path.write_text(json.dumps([head_to_json(h) for h in heads]))
    assert tuple(load_trusted_heads(path)) == heads
    with pytest.raises(InvalidInput, match="missing field 'signature'"):
        head_from_json({"log_id": LOG_ID, "tree_size": 1, "root_hash": "00" * 32, "timestamp_ms": 1})


# ------------------------------------------------------------------------------------------- verification


def test_an_untouched_log_verifies(store: Store) -> None:
    trusted = published_log(store)
    store.append(entry(20))  # appended but not yet checkpointed: fine, just not covered by a signature
    report = store.verify(trusted)
    assert report.ok, report.to_text()
    assert (report.entries, report.heads_checked, report.trusted_heads_checked) == (21, 3, 3)
    assert report.unsigned_entries == 1
    assert "result: OK" in report.to_text()


def test_an_edited_entry_is_named(store: Store) -> None:
    published_log(store)
    store.sql("UPDATE audit_log SET entry = replace(entry, 'q-0005', 'q-9999') WHERE idx = 5")
    report = store.verify()
    assert not report.ok
    edited = [p for p in report.problems if p.kind is ProblemKind.EDITED]
    assert [p.index for p in edited] == [5]
    assert "entry 5: stored entry does not hash to its recorded leaf hash (entry edited)" in report.to_text()
    # every head signed after the entry was written no longer matches
    assert {p.tree_size for p in report.problems if p.kind is ProblemKind.ROOT_MISMATCH} == {8, 13, 20}


def test_an_entry_edited_together_with_its_leaf_hash_breaks_the_signed_roots(store: Store) -> None:
    published_log(store)
    forged = leaf_document(15, entry(15, "mallory"))
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET entry = :e, leaf_hash = :h WHERE idx = 15"),
            {"e": forged.decode(), "h": merkle.leaf_hash(forged)},
        )
    report = store.verify()
    assert kinds(report) == {ProblemKind.ROOT_MISMATCH}
    assert [p.tree_size for p in report.problems] == [20]
    assert "differs from the signed root" in report.problems[0].description


def test_a_deleted_entry_is_named(store: Store) -> None:
    published_log(store)
    store.sql("DELETE FROM audit_log WHERE idx = 7")
    report = store.verify()
    missing = [p for p in report.problems if p.kind is ProblemKind.MISSING]
    assert [(p.index, p.description) for p in missing] == [(7, "entry 7 missing: deleted from the log")]


def test_a_deleted_entry_hidden_by_renumbering_is_named(store: Store) -> None:
    published_log(store)
    store.sql("DELETE FROM audit_log WHERE idx = 7")
    for idx in range(8, 20):
        store.sql(f"UPDATE audit_log SET idx = {idx - 1} WHERE idx = {idx}")
    report = store.verify()
    misplaced = [p.index for p in report.problems if p.kind is ProblemKind.MISPLACED]
    assert misplaced == list(range(7, 19))
    assert "entry 7: holds the entry written as number 8 (entries reordered or moved)" in report.to_text()


def test_reordered_entries_are_named(store: Store) -> None:
    published_log(store)
    store.sql(
        "UPDATE audit_log SET idx = -1 WHERE idx = 3",
        "UPDATE audit_log SET idx = 3 WHERE idx = 9",
        "UPDATE audit_log SET idx = 9 WHERE idx = -1",
    )
    report = store.verify()
    assert [p.index for p in report.problems if p.kind is ProblemKind.MISPLACED] == [3, 9]
    assert ProblemKind.EDITED not in kinds(report)  # each row still hashes to its own leaf hash
    assert {p.tree_size for p in report.problems if p.kind is ProblemKind.ROOT_MISMATCH} == {8, 13, 20}


def test_a_truncated_log_is_caught_by_a_published_head(store: Store) -> None:
    trusted = published_log(store)
    store.sql("DELETE FROM audit_log WHERE idx >= 13", "DELETE FROM audit_log_heads WHERE tree_size > 13")
    # What is left is self-consistent: only a head held elsewhere shows what was removed.
    assert store.verify().ok
    report = store.verify(trusted)
    assert kinds(report) == {ProblemKind.TRUNCATED}
    assert report.problems[0].index == 13
    assert "covers 20 entries but the log holds only 13" in report.problems[0].description
    assert "entries 13..19 were deleted (log truncated)" in report.to_text()


def test_a_truncated_log_whose_heads_were_kept_is_caught_without_published_heads(store: Store) -> None:
    published_log(store)
    store.sql("DELETE FROM audit_log WHERE idx >= 13")
    report = store.verify()
    assert kinds(report) == {ProblemKind.TRUNCATED}
    assert report.problems[0].tree_size == 20


def test_a_rewritten_and_re_signed_log_is_caught_by_a_published_head(store: Store) -> None:
    trusted = published_log(store)
    store.sql("DELETE FROM audit_log WHERE idx >= 10", "DELETE FROM audit_log_heads WHERE tree_size > 10")
    store.append(*(entry(n, "someone-else") for n in range(10, 25)))
    store.checkpoint()  # re-signed with the log's own (stolen) key
    assert store.verify().ok
    report = store.verify(trusted)
    assert kinds(report) == {ProblemKind.REWRITTEN}
    assert [p.tree_size for p in report.problems] == [13, 20]
    assert "no longer hash to its root" in report.problems[0].description


def test_a_forged_head_signature_is_named(store: Store) -> None:
    published_log(store)
    other = SigningKey.generate()
    forged = merkle.SignedTreeHead.sign(other, LOG_ID, 13, b"\x00" * 32, 1)
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log_heads SET signature = :s WHERE tree_size = 13"), {"s": forged.signature}
        )
    report = store.verify()
    assert kinds(report) == {ProblemKind.BAD_SIGNATURE}
    assert report.problems[0].tree_size == 13
    assert "signature does not verify" in report.problems[0].description


def test_a_head_whose_root_was_replaced_fails_its_signature_and_its_root(store: Store) -> None:
    published_log(store)
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log_heads SET root_hash = :r WHERE tree_size = 8"), {"r": b"\x01" * 32}
        )
    report = store.verify()
    assert kinds(report) == {ProblemKind.BAD_SIGNATURE, ProblemKind.ROOT_MISMATCH}


def test_a_trusted_head_from_another_key_or_log_is_reported(sqlite_store: Store) -> None:
    published_log(sqlite_store)
    with sqlite_store.sessions.begin() as session:
        real = sqlite_store.log.latest_head(session)
    assert real is not None
    other_key = merkle.SignedTreeHead.sign(SigningKey.generate(), LOG_ID, real.tree_size, real.root_hash, 5)
    other_log = merkle.SignedTreeHead.sign(KEY, "E08000032/audit", real.tree_size, real.root_hash, 5)
    report = sqlite_store.verify((other_key, other_log))
    assert kinds(report) == {ProblemKind.BAD_SIGNATURE, ProblemKind.WRONG_LOG}


def test_an_entry_overwritten_with_garbage_is_named_and_skipped_by_readers(store: Store) -> None:
    published_log(store)
    store.sql("UPDATE audit_log SET entry = 'not a log entry' WHERE idx = 4")
    report = store.verify()
    assert {(p.kind, p.index) for p in report.problems if p.index is not None} == {
        (ProblemKind.EDITED, 4),
        (ProblemKind.UNREADABLE, 4),
    }
    with store.sessions.begin() as session:
        assert [e.index for e in store.log.entries(session, 3, 6)] == [3, 5]
