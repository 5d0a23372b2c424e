"""The node's keys live in its key store, not its database: a copy of the database alone holds no key and no
TOTP secret, cannot sign as the council, and cannot log anyone in; key files are the owner's only."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.node.accounts import light_passwords
from whoelse.federation.cli import main
from whoelse.federation.errors import ConfigError, WhoElseError
from whoelse.node.accounts.credentials import totp_code
from whoelse.node.accounts.service import AccountService
from whoelse.node.keystore import KEYS_ENV, FileKeyStore, beside, locate
from whoelse.node.settings import load
from whoelse.node.storage.database import Database

SAM = [
    "--username", "sam.patel", "--name", "Sam Patel", "--role", "Social worker",
    "--organisation", "Leeds Children's Services", "--contact", "0113 496 0002", "--manager", "Jo Manager",
    "--dbs-checked", "2025-01-15", "--trained", "2025-01-10", "--agreement-signed", "2025-01-10",
    "--accredited", "--json",
]  # fmt: skip


def init_with_practitioner(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[str, str]:
    """`whoelse node init` and `practitioner add` on a new SQLite file; returns the TOTP secret and password
    shown once."""
    assert main(["node", "init", "--db", str(path), "--council", "E08000035", "--name", "Leeds"]) == 0
    capsys.readouterr()
    assert main(["node", "practitioner", "add", "--db", str(path), *SAM]) == 0
    shown = json.loads(capsys.readouterr().out)
    return str(shown["totp_secret"]), str(shown["password"])


def forms(secret: bytes) -> list[bytes]:
    """Every way a key could sit in a file: raw, hex either case, base64, base32."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
        base64.b32encode(secret).rstrip(b"="),
    ]


def database_bytes(path: Path) -> bytes:
    """The database file and any WAL beside it, as a thief copying the folder's database files would get."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def assert_no_secret_in(path: Path, keys: dict[str, bytes], totp_secrets: list[str]) -> None:
    content = database_bytes(path)
    for name, key in keys.items():
        for form in forms(key):
            assert form not in content, f"the {name} key is in the database"
    for secret in totp_secrets:
        assert secret.encode() not in content and secret.lower().encode() not in content
        assert base64.b32decode(secret) not in content


def test_init_keeps_every_key_and_totp_secret_out_of_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "leeds.sqlite"
    secret, _password = init_with_practitioner(capsys, path)
    keys = FileKeyStore(beside(path)).raw()
    assert_no_secret_in(path, keys, [secret])
    with Database(str(path)).engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        names = {row[0] for row in conn.execute(text("SELECT key FROM node_settings"))}
    assert names == {"council_code", "council_name", "records_team_contact"}
    assert_no_secret_in(path, keys, [secret])


def test_keys_is_printed_from_the_key_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "leeds.sqlite"
    init_with_practitioner(capsys, path)
    keys = FileKeyStore(beside(path)).load()
    assert main(["node", "keys", "--db", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {
        "council": "E08000035",
        "signing_key": keys.signing_key.verify_key_bytes.hex(),
        "sealing_key": keys.sealing_key.public_key_bytes.hex(),
    }


def test_a_stolen_database_alone_cannot_sign_or_log_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "council" / "leeds.sqlite"
    path.parent.mkdir()
    secret, password = init_with_practitioner(capsys, path)
    stolen = tmp_path / "thief" / "leeds.sqlite"
    stolen.parent.mkdir()
    for part in ("", "-wal", "-shm"):  # every database file, as a thief copying them would; not the keys
        if path.with_name(path.name + part).exists():
            shutil.copy(path.with_name(path.name + part), stolen.with_name(stolen.name + part))

    with pytest.raises(ConfigError, match=r"no key folder at .*thief/leeds\.sqlite-keys"):
        Database.open_initialised(str(stolen))
    assert main(["node", "keys", "--db", str(stolen)]) != 0  # nothing to sign with

    # A thief who makes keys of their own (and knows the password) still cannot log in: the TOTP secret
    # does not open, and any code made from a guess is refused.
    thief = Database(str(stolen))
    thief.key_store.ensure()
    accounts = AccountService(thief, passwords=light_passwords())
    with pytest.raises(WhoElseError):
        accounts.login("sam.patel", password, totp_code(secret, accounts.now()))
    council_key = FileKeyStore(beside(path)).load().signing_key.verify_key_bytes
    with thief.session() as session:
        assert load(session).signing_key.verify_key_bytes != council_key  # the thief signs as nobody known
    thief.dispose()


def test_sign_in_works_with_the_code_from_the_secret_shown_at_enrolment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "leeds.sqlite"
    secret, password = init_with_practitioner(capsys, path)
    db = Database.open_initialised(str(path))
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT totp_secret FROM practitioners")).scalar_one()
    assert stored.startswith("v1:") and secret not in stored
    accounts = AccountService(db, passwords=light_passwords())
    session = accounts.login("sam.patel", password, totp_code(secret, accounts.now()))
    assert session.username == "sam.patel"
    db.dispose()


def test_key_files_are_the_owners_only_and_an_exposed_one_is_refused(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        store = FileKeyStore(tmp_path / "keys")
        store.ensure()
    finally:
        os.umask(previous)
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    for name in ("signing", "sealing", "tag", "totp"):
        assert (tmp_path / "keys" / f"{name}.key").stat().st_mode & 0o777 == 0o600
    (tmp_path / "keys" / "totp.key").chmod(0o644)
    with pytest.raises(ConfigError, match=r"totp.key is readable by others \(mode 644\); `chmod 600"):
        store.load()


def test_ensure_keeps_existing_keys_and_refuses_a_different_one(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    store.ensure()
    first = store.raw()
    store.ensure()
    assert store.raw() == first  # idempotent
    store.ensure({"tag": first["tag"]})
    assert store.raw() == first
    with pytest.raises(ConfigError, match="already holds a tag key that differs"):
        store.ensure({"tag": bytes(32)})


def test_the_key_store_is_found_beside_a_sqlite_file_or_where_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEYS_ENV, raising=False)
    beside_file = Database(str(tmp_path / "leeds.sqlite")).key_store
    assert isinstance(beside_file, FileKeyStore) and beside_file.folder == tmp_path / "leeds.sqlite-keys"
    postgres = Database("postgresql://whoelse:secret@db/whoelse").key_store
    with pytest.raises(ConfigError, match=r"not a local file.*WHOELSE_NODE_KEYS") as raised:
        postgres.load()
    assert "secret" not in str(raised.value)
    with pytest.raises(ConfigError, match=r"not a local file.*WHOELSE_NODE_KEYS"):
        postgres.ensure()  # what `whoelse node init` does
    monkeypatch.setenv(KEYS_ENV, str(tmp_path / "elsewhere"))
    named = Database("postgresql://whoelse@db/whoelse").key_store
    assert isinstance(named, FileKeyStore) and named.folder == tmp_path / "elsewhere"
    configured = locate(Database(str(tmp_path / "x.sqlite")).url, str(tmp_path / "configured"))
    assert isinstance(configured, FileKeyStore) and configured.folder == tmp_path / "configured"
