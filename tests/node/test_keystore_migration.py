"""Migration 0006 on a database made before it: the keys move to the key store, TOTP secrets are encrypted,
nothing readable is left behind, the practitioner still signs in, and running it again changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.node.accounts import PASSWORD, FakeClock, light_passwords, make_service
from tests.node.conftest import PG_ADMIN_URL, _postgres_available, _skip_or_fail
from tests.node.test_keystore import assert_no_secret_in
from whoelse.federation.errors import ConfigError
from whoelse.federation.sealing import SealingKey
from whoelse.federation.signing import SigningKey
from whoelse.node.accounts.credentials import new_totp_secret, totp_code
from whoelse.node.accounts.totp_storage import is_sealed
from whoelse.node.keystore import FileKeyStore
from whoelse.node.keystore_migration import move_keys_out
from whoelse.node.settings import load
from whoelse.node.storage.database import Database, scratch_postgres
from whoelse.node.storage.migrate import upgrade

OLD_KEYS = {"signing": SigningKey.generate().to_bytes(), "sealing": SealingKey.generate().to_bytes()}
OLD_KEYS["tag"] = bytes(range(32))
TOTP_SECRET = new_totp_secret()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A council database at revision 0005, as `whoelse node init` and `practitioner add` left it: keys in
    node_settings and a TOTP secret in clear."""
    if request.param == "sqlite":
        database = Database(str(tmp_path / "leeds.sqlite"))
        yield from _old(database)
        return
    if not _postgres_available():
        _skip_or_fail("no PostgreSQL on 127.0.0.1:5432")
    with scratch_postgres(PG_ADMIN_URL, prefix="whoelse_keys") as database:
        yield from _old(database)


def _old(database: Database) -> Iterator[Database]:
    upgrade(database, "0005")
    settings = {
        "council_code": "E08000035", "council_name": "Leeds", "records_team_contact": "Leeds records team",
        "signing_key": OLD_KEYS["signing"].hex(), "sealing_key": OLD_KEYS["sealing"].hex(),
        "tag_key": OLD_KEYS["tag"].hex(),
    }  # fmt: skip
    with database.engine.begin() as conn:
        for key, value in settings.items():
            conn.execute(
                text("INSERT INTO node_settings (key, value) VALUES (:k, :v)"), {"k": key, "v": value}
            )
        conn.execute(
            text(
                "INSERT INTO practitioners (username, display_name, role, organisation, contact, status, "
                "status_reason, manager_authorised_by, manager_authorised_on, dbs_checked_on, "
                "training_completed_on, agreement_signed_on, organisation_accredited, password_hash, "
                "totp_secret, created_at) VALUES ('sam.patel', 'Sam Patel', 'Social worker', 'Leeds', "
                "'0113 496 0002', 'active', '', 'Jo Manager', '2025-01-10', '2025-01-15', '2025-01-10', "
                "'2025-01-10', :yes, :hash, :secret, '2025-01-10 09:00:00')"
            ),
            {"yes": True, "hash": light_passwords().hash(PASSWORD), "secret": TOTP_SECRET},
        )
    yield database
    database.dispose()


def test_migration_moves_the_keys_out_and_encrypts_totp_secrets(old_db: Database) -> None:
    old_db.migrate()

    with old_db.session() as session:
        settings = load(session)
    assert settings.signing_key.to_bytes() == OLD_KEYS["signing"]  # the same council, the same keys
    assert settings.sealing_key.to_bytes() == OLD_KEYS["sealing"]
    assert settings.tag_key == OLD_KEYS["tag"]
    with old_db.engine.connect() as conn:
        names = {row[0] for row in conn.execute(text("SELECT key FROM node_settings"))}
        [stored] = conn.execute(text("SELECT totp_secret FROM practitioners")).scalars()
    assert names == {"council_code", "council_name", "records_team_contact"}
    assert is_sealed(stored) and TOTP_SECRET not in stored

    clock = FakeClock()
    accounts = make_service(old_db, clock)
    assert accounts.login("sam.patel", PASSWORD, totp_code(TOTP_SECRET, clock())).username == "sam.patel"

    if old_db.is_sqlite:
        assert isinstance(old_db.key_store, FileKeyStore)
        assert_no_secret_in(Path(str(old_db.url.database)), old_db.key_store.raw(), [TOTP_SECRET])


def test_running_the_move_again_changes_nothing(old_db: Database) -> None:
    old_db.migrate()
    store = old_db.key_store
    assert isinstance(store, FileKeyStore)
    before = store.raw()
    with old_db.engine.begin() as conn:
        stored = conn.execute(text("SELECT totp_secret FROM practitioners")).scalar_one()
        moved = move_keys_out(conn, old_db.key_store)
        assert (moved.keys, moved.totp_secrets) == ((), 0)
        assert conn.execute(text("SELECT totp_secret FROM practitioners")).scalar_one() == stored
    assert store.raw() == before


def test_a_run_stopped_after_writing_the_keys_completes(old_db: Database) -> None:
    old_db.key_store.ensure(OLD_KEYS)  # the store written, the transaction that deletes the rows lost
    old_db.migrate()
    with old_db.session() as session:
        assert load(session).tag_key == OLD_KEYS["tag"]


def test_a_key_store_holding_other_keys_is_refused_and_nothing_is_lost(old_db: Database) -> None:
    old_db.key_store.ensure({**OLD_KEYS, "tag": bytes(32)})
    with pytest.raises(ConfigError, match="already holds a tag key that differs from the one in the"):
        old_db.migrate()
    with old_db.engine.connect() as conn:
        names = {row[0] for row in conn.execute(text("SELECT key FROM node_settings"))}
    assert "tag_key" in names  # still in the database: the operator decides which one is right
