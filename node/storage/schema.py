"""All node tables on one metadata, for Alembic and for tests. Import every table module here."""

from __future__ import annotations

import node.accounts.tables
import node.alerts.tables
import node.audit
import node.records_api.tables
import node.storage.tables  # noqa: F401  (importing registers the tables on Base.metadata)
from node.storage.base import Base

metadata = Base.metadata
