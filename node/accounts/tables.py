"""Storage for practitioner accounts: practitioners, their log-in sessions and failed log-in counts.

Each node's database belongs to one council, so a unique username here is unique per council.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Enum, ForeignKey, Integer, String, TypeDecorator, false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from whoelse.node.accounts.eligibility import AccountStatus
from whoelse.node.storage.base import Base


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite would otherwise hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime: refusing a naive datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class PractitionerRow(Base):
    """A practitioner account granted by this council."""

    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200))
    status: Mapped[AccountStatus] = mapped_column(
        Enum(
            AccountStatus,
            native_enum=False,
            length=16,
            values_callable=lambda members: [m.value for m in members],
            validate_strings=True,
        )
    )
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    manager_authorised_by: Mapped[str] = mapped_column(String(200), default="")
    manager_authorised_on: Mapped[dt.date | None] = mapped_column(Date)
    dbs_checked_on: Mapped[dt.date | None] = mapped_column(Date)
    training_completed_on: Mapped[dt.date | None] = mapped_column(Date)
    agreement_signed_on: Mapped[dt.date | None] = mapped_column(Date)
    organisation_accredited: Mapped[bool] = mapped_column(Boolean, default=False)
    # May use the records team's pages of the portal (accounts, shielding, subject access, imports, audit).
    records_team: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    password_hash: Mapped[str] = mapped_column(String(200))
    # Encrypted under the TOTP key of the node's key store (node/accounts/totp_storage.py), so that a copy of
    # the database alone is not enough to generate codes.
    totp_secret: Mapped[str] = mapped_column(String(200))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # last accepted TOTP step: refuses replays
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class SessionRow(Base):
    """A logged-in session. Only a hash of its token is stored, so the table cannot be used to log in."""

    __tablename__ = "practitioner_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())  # the absolute limit


class LoginFailureRow(Base):
    """Recent failed log-ins for one username as typed, existing or not, from every source together: the
    account's ceiling (node/accounts/lockout.py).

    Keyed by a hash of the username so that passwords typed into the username box are not kept readable.
    """

    __tablename__ = "login_failures"

    username_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class LoginSourceRow(Base):
    """Recent failed log-ins for one username from one client source (its network address), and when that
    source last logged in to the account: the per-source throttle, and the sources the ceiling spares.

    Keyed by a hash of username and source together; neither is kept readable.
    """

    __tablename__ = "login_sources"

    source_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    username_key: Mapped[str] = mapped_column(String(64), index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
