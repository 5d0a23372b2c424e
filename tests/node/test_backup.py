"""`whoelse node backup` and `whoelse node restore` on SQLite and PostgreSQL: the restored database is
checked (audit log, counts) and can be searched like the original."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.node.conftest import PG_ADMIN_URL
from whoelse.federation.cli import main
from whoelse.federation.errors import InvalidInput, Refused
from whoelse.node.audit import AuditLog
from whoelse.node.backup import backup, restore
from whoelse.node.storage.database import Database, scratch_postgres

ZOE = {
    "record_id": "LDS-0001", "forename": "Zoe", "surname": "Smith", "date_of_birth": "2015-03-07",
    "sex": "F", "address": {"line1": "1 High Street", "postcode": "LS6 2AB"},
}  # fmt: skip


@pytest.fixture()
def leeds(db: Database, tmp_path: Path) -> Database:
    """The council's database with one child imported and a few audit entries."""
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps(ZOE) + "\n", encoding="utf-8")
    url = db.url.render_as_string(hide_password=False)
    assert main(["node", "import", str(records), "--db", url, "--quiet"]) == 0
    audit = AuditLog.of(db)
    audit.account_event("sam.patel", "add", "records.team")
    audit.checkpoint()
    return db


@pytest.fixture()
def new_database(db: Database, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind to restore into."""
    if db.is_sqlite:
        yield str(tmp_path / "restored.sqlite")
        return
    with scratch_postgres(PG_ADMIN_URL, prefix="whoelse_restore") as empty:
        yield empty.url.render_as_string(hide_password=False)


def test_a_restored_backup_verifies_and_finds_the_child(
    leeds: Database, new_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = leeds.url.render_as_string(hide_password=False)
    saved = tmp_path / f"leeds-{uuid.uuid4().hex[:6]}.backup"
    assert main(["node", "backup", "--db", url, "--to", str(saved)]) == 0
    assert "backed up E08000035: 1 records, 1 audit entries" in capsys.readouterr().out
    assert saved.stat().st_mode & 0o077 == 0  # it holds records and accounts
    saved_keys = saved.with_name(saved.name + "-keys")  # the key store, copied beside it
    assert saved_keys.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in saved_keys.iterdir()} == {
        "signing.key": 0o600, "sealing.key": 0o600, "tag.key": 0o600, "totp.key": 0o600,
    }  # fmt: skip
    assert json.loads(saved.with_name(saved.name + ".json").read_text())["keys"] == saved_keys.name

    assert main(["node", "restore", "--from", str(saved), "--db", new_database]) == 0
    out = capsys.readouterr().out
    assert "1 records and 1 audit entries" in out and "audit log and 1 signed heads verify" in out
    search = ["node", "search", "--db", new_database, "--forename", "Zoe", "--surname", "Smith"]
    assert main([*search, "--dob", "2015-03-07", "--json"]) == 0
    [found] = json.loads(capsys.readouterr().out)
    assert found["record_id"] == "LDS-0001"

    with pytest.raises(InvalidInput, match="restore into"):  # never over an existing database
        restore(saved, new_database)


def test_a_backup_that_does_not_match_its_manifest_is_refused(leeds: Database, tmp_path: Path) -> None:
    if not leeds.is_sqlite:
        pytest.skip("the tampering is done on the SQLite file")
    saved = tmp_path / "leeds.backup"
    backup(leeds, saved)
    tampered = Database(str(saved))
    with tampered.engine.begin() as conn:
        conn.execute(text("DELETE FROM children"))
    tampered.dispose()
    with pytest.raises(Refused, match=r"holds 0 records .* the backup held 1"):
        restore(saved, str(tmp_path / "restored.sqlite"))


def test_a_restore_without_the_backups_keys_is_refused_before_writing(
    leeds: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not leeds.is_sqlite:
        pytest.skip("a PostgreSQL restore here shares the key store named by WHOELSE_NODE_KEYS")
    saved = tmp_path / "leeds.backup"
    backup(leeds, saved)
    shutil.move(saved.with_name("leeds.backup-keys"), tmp_path / "kept-apart")
    target = tmp_path / "restored.sqlite"
    with pytest.raises(InvalidInput, match=r"no leeds.backup-keys/ beside it, and .* holds no keys"):
        restore(saved, str(target))
    assert not target.exists()
