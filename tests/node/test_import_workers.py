"""A large file is validated and tagged in worker processes and written through the driver (COPY on
PostgreSQL): what it stores is what the in-process path stores, and a bad row at the end still writes
nothing (issue #11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.node.records_factory import TODAY
from tests.node.test_bad_input_corpus import dump
from tests.node.test_importer import good_row, write_jsonl
from whoelse.node import import_workers
from whoelse.node.importer import ImportRejected, import_file, validate_file
from whoelse.node.matching import record_tags
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import count_records, load_records
from whoelse.node.storage.tables import Child, MatchTag
from whoelse.node.tags import LocalTagger

NAMES = ["Ann", "Liam", "Zoë", "Omar", "Ewa", "Kai"]


def rows(count: int) -> list[dict[str, object]]:
    out = []
    for i in range(count):
        row = good_row(record_id=f"W-{i:05d}", forename=NAMES[i % 6], surname=f"Smith{chr(97 + i % 26)}")
        row["date_of_birth"] = f"20{10 + i % 8:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        if i % 7 == 0:
            row["involvements"] = [
                {
                    "practitioner": "Sam Patel",
                    "organisation": "Leeds Children's Services",
                    "role": "Social worker",
                    "contact": "0113 496 0002",
                    "service_type": "social_care",
                    "start_date": "2024-01-02",
                }
            ]
        out.append(row)
    return out


@pytest.fixture
def in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as large: validated and tagged in worker processes."""
    monkeypatch.setattr(import_workers, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(import_workers, "CHUNK", 50)  # several chunks per worker, out of step


def tagger_of(db: Database) -> LocalTagger:
    with db.session() as session:
        return LocalTagger(load(session).tag_key)


def stored(db: Database) -> tuple[dict[str, object], dict[str, set[tuple[bytes, str]]]]:
    with db.session() as session:
        records = {str(r.record_id): r for r in load_records(session, list(range(1, 10_000))).values()}
        tags: dict[str, set[tuple[bytes, str]]] = {}
        query = select(Child.record_id, MatchTag.tag, MatchTag.kind).join(
            Child, Child.id == MatchTag.child_id
        )
        for record_id, tag, kind in session.execute(query):
            tags.setdefault(record_id, set()).add((bytes(tag), kind))
    return dict(records), tags


def test_workers_store_what_validation_and_tagging_make(
    db: Database, tmp_path: Path, in_workers: None
) -> None:
    path = write_jsonl(tmp_path / "export.jsonl", rows(900))
    tagger = tagger_of(db)
    report = import_file(db, path, tagger, record_tags, today=TODAY, batch=200)
    assert (report.records, report.batches) == (900, 5)
    records, tags = stored(db)
    expected = {str(r.record_id): r for r in validate_file(path, TODAY)}
    assert records == expected  # every field back as it was validated (dates, flags, details)
    assert tags == {rid: set(record_tags(tagger, r)) for rid, r in expected.items()}


def test_a_bad_row_at_the_end_writes_nothing(db: Database, tmp_path: Path, in_workers: None) -> None:
    bad = rows(600)
    bad[-1]["date_of_birth"] = "2020-02-30"
    path = write_jsonl(tmp_path / "export.jsonl", bad)
    tagger = tagger_of(db)
    before = dump(db)
    with pytest.raises(ImportRejected, match=r"export.jsonl line 600, field date_of_birth"):
        import_file(db, path, tagger, record_tags, today=TODAY)
    assert dump(db) == before
    with db.session() as session:
        assert count_records(session) == 0


def test_reimport_in_workers_replaces_and_counts_versions(
    db: Database, tmp_path: Path, in_workers: None
) -> None:
    path = write_jsonl(tmp_path / "export.jsonl", rows(300))
    tagger = tagger_of(db)
    import_file(db, path, tagger, record_tags, today=TODAY)
    import_file(db, path, tagger, record_tags, today=TODAY)
    with db.session() as session:
        assert count_records(session) == 300
        assert set(session.scalars(select(Child.version))) == {2}
    assert len(stored(db)[1]) == 300
