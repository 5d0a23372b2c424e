"""Run the node's Alembic migrations from code (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from whoelse.node.storage.database import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["key_store"] = db.key_store  # migration 0006 moves keys out of the database into it
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    moved = config.attributes.get("moved")
    if moved is not None and (moved.keys or moved.totp_secrets):
        _forget_moved_secrets(db)


def _forget_moved_secrets(db: Database) -> None:
    """After migration 0006 has committed, make what it deleted unreadable in the files too: SQLite's WAL
    still holds page images from before (written back into the overwritten file and emptied); PostgreSQL
    keeps dead row versions until the tables are rewritten."""
    if db.is_sqlite:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM FULL node_settings, practitioners")


def revision(db: Database, message: str) -> None:
    """Developer tool: autogenerate a new migration against a database at the current head."""
    config = alembic_config(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
