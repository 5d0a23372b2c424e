"""All node tables on one metadata, for Alembic and for tests. Import every table module here."""

from __future__ import annotations

import whoelse.node.accounts.tables
import whoelse.node.alerts.tables
import whoelse.node.audit
import whoelse.node.records_api.tables
import whoelse.node.storage.tables  # noqa: F401  (importing registers the tables on Base.metadata)
from whoelse.node.storage.base import Base

metadata = Base.metadata
