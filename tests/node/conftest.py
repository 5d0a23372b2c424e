"""Node test fixtures: a council database on SQLite and, where available, on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from whoelse.node.keystore import KEYS_ENV
from whoelse.node.settings import initialise
from whoelse.node.storage.database import Database, scratch_postgres

PG_ADMIN_URL = os.environ.get("WHOELSE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("WHOELSE_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL required (WHOELSE_REQUIRE_POSTGRES is set): {reason}")
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(
    request: pytest.FixtureRequest, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    """A migrated, initialised Leeds node database on each backend. A PostgreSQL database's key store is
    named by WHOELSE_NODE_KEYS, as an operator would, so that commands given only its URL find it."""
    if request.param == "sqlite":
        database = Database(f"{tmp_path}/leeds.sqlite")
        yield from _initialised(database)
        return
    if not _postgres_available():
        _skip_or_fail("no PostgreSQL on 127.0.0.1:5432")
    with scratch_postgres(PG_ADMIN_URL, prefix="whoelse_test") as database:
        monkeypatch.setenv(KEYS_ENV, database.key_store.where)
        yield from _initialised(database)


def _initialised(database: Database) -> Iterator[Database]:
    database.migrate()
    with database.session() as session:
        initialise(session, "E08000035", "Leeds", "Leeds records team, 0113 496 0999")
    yield database
    database.dispose()
