"""Moving an old database's secrets out (migration 0006): the signing, sealing and tag keys from its
node_settings rows into its key store, and its practitioners' TOTP secrets from clear to encrypted.

Both steps MUST be idempotent: a key already in the store is kept (and one that differs is refused, never
overwritten), a TOTP secret already encrypted is left alone; keys are written to the store before their rows
are deleted, so a run that stops half-way loses nothing and can be run again. What is deleted MUST NOT stay
readable in the file: SQLite overwrites it (secure_delete) and its WAL is truncated after the migration
commits, and on PostgreSQL both tables are rewritten (VACUUM FULL) then (node/storage/migrate.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from whoelse.federation.errors import ConfigError
from whoelse.node.accounts.totp_storage import TotpSecrets, is_sealed
from whoelse.node.keystore import FileKeyStore, KeyStore
from whoelse.node.settings import LEGACY_KEYS


@dataclass(frozen=True)
class Moved:
    keys: tuple[str, ...]  # key names moved from the database into the store
    totp_secrets: int  # secrets encrypted


def move_keys_out(connection: Connection, store: KeyStore) -> Moved:
    """Move keys out of node_settings into `store` and encrypt clear TOTP secrets (see the contract above)."""
    rows = connection.execute(text("SELECT key, value FROM node_settings")).all()
    adopt = {LEGACY_KEYS[key]: bytes.fromhex(value) for key, value in rows if key in LEGACY_KEYS}
    clear = [
        (row_id, username, secret)
        for row_id, username, secret in connection.execute(
            text("SELECT id, username, totp_secret FROM practitioners")
        ).all()
        if not is_sealed(secret)
    ]
    if not adopt and not clear:
        return Moved((), 0)  # a new database, or one already moved: the store is not touched
    keys = store.ensure(adopt)
    if connection.dialect.name == "sqlite":
        # Overwrite what is deleted or rewritten, so the old keys and secrets do not stay in free pages.
        connection.execute(text("PRAGMA secure_delete = ON"))
    connection.execute(
        text("DELETE FROM node_settings WHERE key IN ('signing_key', 'sealing_key', 'tag_key')")
    )
    totp = TotpSecrets(keys.totp)
    for row_id, username, secret in clear:
        connection.execute(
            text("UPDATE practitioners SET totp_secret = :sealed WHERE id = :id"),
            {"sealed": totp.seal(username, secret), "id": row_id},
        )
    return Moved(tuple(sorted(adopt)), len(clear))


def move_keys_in(connection: Connection, store: KeyStore) -> None:
    """The downgrade: the three keys back into node_settings and TOTP secrets back in clear (the store keeps
    its copy; delete it by hand once the old version runs)."""
    if not store.present():
        return
    if not isinstance(store, FileKeyStore):
        raise ConfigError(
            f"node keys: {store.where} will not give its keys up; a downgrade needs a key folder"
        )
    keys = store.load()
    raw = store.raw()
    for row, name in LEGACY_KEYS.items():
        connection.execute(
            text("INSERT INTO node_settings (key, value) VALUES (:key, :value)"),
            {"key": row, "value": raw[name].hex()},
        )
    totp = TotpSecrets(keys.totp)
    for row_id, username, secret in connection.execute(
        text("SELECT id, username, totp_secret FROM practitioners")
    ).all():
        if is_sealed(secret):
            connection.execute(
                text("UPDATE practitioners SET totp_secret = :clear WHERE id = :id"),
                {"clear": totp.open(username, secret), "id": row_id},
            )
