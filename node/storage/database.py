"""Opening a council's database: SQLite (one file per council) by default, PostgreSQL by URL.

The schema is created and upgraded by Alembic migrations (node/migrations); `Database.migrate()` runs them.
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from federation.database import SqlDatabase
from federation.errors import Unavailable


class Database(SqlDatabase):
    """A council's database."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "database")

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from node.storage.migrate import upgrade

        try:
            upgrade(self)
        except OperationalError as exc:
            raise Unavailable(f"database: cannot reach {self.where}") from exc
