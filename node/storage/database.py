"""Opening a council's database: SQLite (one file per council) by default, PostgreSQL by URL.

The schema is created and upgraded by Alembic migrations (node/migrations); `Database.migrate()` runs them.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from whoelse.federation.database import SqlDatabase
from whoelse.federation.errors import Unavailable
from whoelse.node.keystore import SESSION_KEY_STORE, KeyStore, locate


class Database(SqlDatabase):
    """A council's database, and the key store its secret keys are kept in (node/keystore.py)."""

    def __init__(self, url: str, keys: str | None = None) -> None:
        """`keys` names the key store (a folder or pkcs11: URI); by default WHOELSE_NODE_KEYS, or the folder
        beside a SQLite file."""
        super().__init__(url, "database")
        self.key_store: KeyStore = locate(self.url, keys)
        self._sessions.configure(info={SESSION_KEY_STORE: self.key_store})

    @classmethod
    def open_initialised(cls, url: str, keys: str | None = None) -> Database:
        """An existing council database that `whoelse node init` made, brought up to date: what every
        command but `init` opens, so a mistyped path is an error rather than a new, empty database."""
        db = cls(url, keys)
        try:
            db.require_tables("node_settings", "whoelse node init")
            db.migrate()
            from whoelse.node.settings import load

            with db.session() as session:
                load(session)
        except Exception:
            db.dispose()
            raise
        return db

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from whoelse.node.storage.migrate import upgrade

        try:
            upgrade(self)
        except OperationalError as exc:
            raise Unavailable(f"database: cannot reach {self.where}") from exc


LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_postgres(admin_url: str = LOCAL_POSTGRES, prefix: str = "whoelse_scratch") -> Iterator[Database]:
    """A new, empty PostgreSQL database for one test or benchmark, with a key folder of its own, both dropped
    afterwards (even if in use)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as scratch:
            database = Database(admin_url.rsplit("/", 1)[0] + f"/{name}", keys=f"{scratch}/keys")
            try:
                yield database
            finally:
                database.dispose()
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
