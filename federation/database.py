"""Opening a SQL database by URL or file path, for both a council node and the directory.

SQLite (a file path, or sqlite:///…) runs in WAL mode so an operator's command can write while a server
reads; PostgreSQL URLs use psycopg 3. Each side subclasses `SqlDatabase` with its own schema handling.

A SQLite file this module creates MUST be readable by its owner only: it is created 0600 (SQLite gives its
-wal and -shm files the database file's mode) in folders created 0700, whatever the umask. It holds every
record, the practitioners' credentials and the audit log.

A URL may name its password's file instead of holding it — `postgresql://whoelse@db/whoelse?password_file=
/run/secrets/db-password` — so that no password sits in an environment variable or a command line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from whoelse.federation.errors import ConfigError, NotFound, Unavailable

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def metadata() -> MetaData:
    """A MetaData with stable constraint names (Alembic needs them to alter SQLite tables)."""
    return MetaData(naming_convention=NAMING)


def database_url(value: str) -> str:
    """Accept a SQLAlchemy URL or a plain file path (taken as a SQLite file)."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def private_folder(path: Path) -> Path:
    """Create path and any missing parent folders with mode 0700 (existing folders are left alone)."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)
        created.chmod(PRIVATE_FOLDER)  # mkdir's mode is masked by the umask
    return path


def _create_private_file(path: Path) -> None:
    """Create an empty file 0600 (and its folders 0700) unless it exists, before SQLite opens it."""
    if path.exists():
        return
    private_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.fchmod(fd, PRIVATE_FILE)
    os.close(fd)


PASSWORD_FILE = "password_file"


def _with_password_from_file(url: URL, what: str) -> URL:
    path = url.query[PASSWORD_FILE]
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{what}: password_file must name one file")
    try:
        password = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{what}: password_file {path}: cannot read ({exc.strerror})") from exc
    if not password:
        raise ConfigError(f"{what}: password_file {path} is empty")
    return url.difference_update_query([PASSWORD_FILE]).set(password=password)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block a writer; synchronous=NORMAL is durable at each commit under WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class SqlDatabase:
    """An engine plus a session factory for one database; `what` names it in errors (e.g. "database")."""

    def __init__(self, url: str, what: str = "database") -> None:
        try:
            parsed = make_url(database_url(url))
        except ArgumentError as exc:
            raise ConfigError(f"{what}: not a valid database URL or path: {url!r}") from exc
        if PASSWORD_FILE in parsed.query:
            parsed = _with_password_from_file(parsed, what)
        if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed
        self.what = what
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # A server connection can drop while pooled, so PostgreSQL connections are pinged on checkout; a
        # SQLite file cannot, and the ping would cost every federated answer a round of SQL for nothing.
        self.engine: Engine = create_engine(parsed, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            if parsed.database and parsed.database != ":memory:":
                path = Path(parsed.database)
                # On first connect, not here: a command that only reads must not create the file.
                event.listen(self.engine, "do_connect", lambda *_: _create_private_file(path))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def require_tables(self, table: str, init_command: str) -> None:
        """Refuse, before anything creates a file or a table, a database that does not exist (a mistyped
        path) or holds no `table` (not initialised): only the init command may create one."""
        path = Path(str(self.url.database)) if self.is_sqlite and self.url.database else None
        shown = str(path) if path is not None else self.where
        hint = f"create it with `{init_command} --db {shown} …`"
        if path is not None and str(path) != ":memory:" and not path.is_file():
            raise NotFound(f"{self.what}: no database at {shown}; {hint}")
        try:
            tables = inspect(self.engine).get_table_names()
        except OperationalError as exc:
            raise Unavailable(f"{self.what}: cannot reach {self.where}") from exc
        if table not in tables:
            raise ConfigError(f"{self.what}: {shown} is not initialised; {hint}")

    @property
    def where(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
