"""Storage for the records API: the case-management systems registered to write, and every change applied.

A change row is the record of idempotency: (system, change id) is unique, and a retry of a change is
answered from its row instead of being applied again.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from whoelse.node.storage.base import Base


class RecordsSystem(Base):
    """A case-management system registered by the records team, with its certificate and scopes."""

    __tablename__ = "records_systems"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of its client certificate
    scopes: Mapped[str] = mapped_column(
        String(200)
    )  # ","-joined whoelse.node.records_api.systems.Scope values
    added_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RecordsChange(Base):
    """One change applied through the records API, kept so a retry with the same change id is answered
    with the same result and never applied twice."""

    __tablename__ = "records_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(40))
    change_id: Mapped[str] = mapped_column(String(64))
    request_digest: Mapped[bytes] = mapped_column(LargeBinary(32))  # SHA-256 of the request
    record_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("system", "change_id", name="uq_records_changes_system_change"),)
