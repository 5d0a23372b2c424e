"""Backing up a council's database and restoring it into a new one, checked before it is trusted.

SQLite: the online backup API (a consistent copy while the node serves). PostgreSQL: `pg_dump` in its custom
format, and `pg_restore` into an empty database. Beside each backup FILE goes FILE.json, what it held
(council, record count, audit entries), and FILE-keys/, a copy of the node's key folder (node/keystore.py;
0700, each key 0600): the database alone cannot be used without its keys. Keys in a PKCS#11 token are not
copied (FILE.json says so): back the token up with the HSM's own tools. A restore MUST refuse a target that
already holds a database, MUST put FILE-keys/ in the target's key store (refusing one that holds other
keys), and MUST check the result — every audit entry and signed head verifies with the council's key, and
the record and audit counts equal the backup's — before it reports success.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL

from whoelse.federation.database import private_folder
from whoelse.federation.errors import InvalidInput, NotFound, Refused, Unavailable
from whoelse.node.audit import AuditLog
from whoelse.node.keystore import FileKeyStore, KeyStore, beside
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import count_records


@dataclass(frozen=True)
class Contents:
    """What a backup holds, written beside it as FILE.json and compared after a restore."""

    council: str
    records: int
    audit_entries: int
    taken_at: str
    backend: str  # "sqlite" or "postgresql"
    keys: str = ""  # where the keys went: "FILE-keys", or why they were not copied


def contents_of(db: Database, backend: str) -> Contents:
    with db.session() as session:
        council = load(session).council.code
        records = count_records(session)
    return Contents(council, records, AuditLog.of(db).size(), dt.datetime.now(dt.UTC).isoformat(), backend)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it (so it is not
    on a command line for `ps` to show)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    if shutil.which(argv[0]) is None:
        raise Unavailable(f"{what} needs {argv[0]} (PostgreSQL client tools) on PATH")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise Refused(f"{what}: {argv[0]} failed: {lines[-1] if lines else 'exit ' + str(done.returncode)}")


def backup(db: Database, target: Path) -> Contents:
    """Write a consistent copy of the council's database to `target` (and `target`.json)."""
    if target.exists():
        raise InvalidInput(f"--to {target}: already exists; choose a new file")
    private_folder(target.parent)
    backend = "sqlite" if db.is_sqlite else "postgresql"
    contents = contents_of(db, backend)
    if db.is_sqlite:
        _sqlite_copy(str(db.url.database), target, self_contained=True)
    else:
        where, env = _libpq(db.url)
        _run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", f"--dbname={where}"],
            env,
            "backup",
        )
    target.chmod(0o600)  # it holds the council's records
    contents = replace(contents, keys=_copy_keys(db.key_store, _keys_beside(target)))
    manifest = _manifest(target)
    manifest.write_text(json.dumps(asdict(contents), indent=2), encoding="utf-8")
    manifest.chmod(0o600)
    return contents


def _manifest(backup_file: Path) -> Path:
    return backup_file.with_name(backup_file.name + ".json")


def _keys_beside(backup_file: Path) -> Path:
    return beside(backup_file)  # where the backup, opened as a SQLite database, finds its keys


def _copy_keys(store: KeyStore, target: Path) -> str:
    if not isinstance(store, FileKeyStore):
        return f"not copied: {store.where} is not a key folder; back it up with its own tools"
    store.copy_to(target)
    return target.name


@dataclass(frozen=True)
class Restored:
    contents: Contents
    verified_heads: int


def restore(source: Path, url: str) -> Restored:
    """Restore the backup `source` into the new database `url`, then check it (see the module's contract)."""
    if not source.is_file():
        raise NotFound(f"--from {source}: no such backup file")
    try:
        expected = Contents(**json.loads(_manifest(source).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInput(f"--from {source}: no readable {_manifest(source).name} beside it") from exc
    target = Database(url)
    backend = "sqlite" if target.is_sqlite else "postgresql"
    if backend != expected.backend:
        raise InvalidInput(
            f"--from {source} is a {expected.backend} backup; restore it into {expected.backend}"
        )
    saved_keys = _keys_beside(source)
    try:
        path = Path(str(target.url.database))
        if target.is_sqlite and path.exists():
            raise InvalidInput(f"--db {path}: already exists; restore into a new database")
        if not target.is_sqlite and inspect(target.engine).get_table_names():
            raise InvalidInput(f"--db {target.where}: holds tables already; restore into an empty database")
        if saved_keys.is_dir():
            target.key_store.ensure(FileKeyStore(saved_keys).raw())
        elif not target.key_store.present():
            raise InvalidInput(
                f"--from {source}: no {saved_keys.name}/ beside it, and {target.key_store.where} holds no "
                f"keys; put the backup's key folder beside it (its manifest: {expected.keys or 'no keys'})"
            )
        if target.is_sqlite:
            _sqlite_copy(str(source), path, self_contained=False)
        else:
            where, env = _libpq(target.url)
            _run(
                ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={where}", str(source)],
                env,
                "restore",
            )
    finally:
        target.dispose()
    return Restored(expected, _check(url, expected))


def _check(url: str, expected: Contents) -> int:
    """Open the restored database, verify its audit log with the council's own key and compare counts."""
    db = Database.open_initialised(url)
    try:
        with db.session() as session:
            settings = load(session)
        audit = AuditLog.of(db)
        report = audit.verify(settings.signing_key.verify_key_bytes)
        if not report.ok:
            raise Refused(f"restored audit log does not verify: {report.problems[0].description}")
        found = contents_of(db, expected.backend)
    finally:
        db.dispose()
    if (found.council, found.records, found.audit_entries) != (
        expected.council,
        expected.records,
        expected.audit_entries,
    ):
        raise Refused(
            f"restored database holds {found.records} records and {found.audit_entries} audit entries for "
            f"{found.council}; the backup held {expected.records} and {expected.audit_entries} for "
            f"{expected.council}"
        )
    return report.heads_checked


def _sqlite_copy(source: str, target: str | Path, *, self_contained: bool) -> None:
    """Copy a SQLite database with the online backup API, the source opened read-only; `self_contained`
    leaves one file with no -wal or -shm beside it (a backup)."""
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        with copy:
            reader.backup(copy)
        if self_contained:
            copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        reader.close()
