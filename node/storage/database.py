"""Opening a council's database: SQLite (one file per council) by default, PostgreSQL by URL.

The schema is created and upgraded by Alembic migrations (node/migrations); `Database.migrate()` runs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from federation.errors import ConfigError, Unavailable


def database_url(value: str) -> str:
    """Accept a SQLAlchemy URL or a plain file path (taken as a SQLite file)."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the importer; synchronous=NORMAL is durable at each commit under WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """A council's database: an engine plus a session factory."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(database_url(url))
        except ArgumentError as exc:
            raise ConfigError(f"database: not a valid database URL or path: {url!r}") from exc
        self.url = parsed
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.engine: Engine = create_engine(parsed, future=True, pool_pre_ping=True)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from node.storage.migrate import upgrade

        try:
            upgrade(self)
        except OperationalError as exc:
            raise Unavailable(
                f"database: cannot reach {self.url.render_as_string(hide_password=True)}"
            ) from exc

    def dispose(self) -> None:
        self.engine.dispose()
