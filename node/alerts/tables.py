"""Tables for proactive alerts: events waiting to be sent to other councils, and alerts received here.

Both hold only what the sender's disclosure rules let leave it (a summary and a contact), plus this council's
own record id. The child's name is not copied here: it is read from the local record when alerts are listed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from whoelse.node.accounts.tables import UtcDateTime
from whoelse.node.storage.base import Base

SUMMARY = 400
CONTACT = 320  # a practitioner's name and contact
NAME = 100
COUNCIL_CODE = 16
LAST_ERROR = 500


class AlertOutboxRow(Base):
    """A change at this council, queued until every council has answered it (`sent_at`) or the retry bound
    has passed (`undelivered_at`: the councils in `waiting_for` never heard of it)."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(String(SUMMARY))
    contact: Mapped[str] = mapped_column(String(CONTACT))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Council codes, space-separated, that have not answered yet; NULL until the first attempt reaches the
    # directory (every active council is then asked).
    waiting_for: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    undelivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR), nullable=True)

    # The sender asks "what is still unsent?" on every poll.
    __table_args__ = (Index("ix_alert_outbox_unsent", "sent_at", "attempts", "id"),)


class AlertRow(Base):
    """An alert received from another council for one practitioner involved with the child here."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(32), unique=True)  # uuid4 hex, shown to the practitioner
    record_id: Mapped[str] = mapped_column(String(64))
    practitioner_name: Mapped[str] = mapped_column(String(NAME))  # as recorded on the involvement
    # practitioner_name folded (case, spaces), so an account's display name finds it on every backend.
    practitioner_key: Mapped[str] = mapped_column(String(NAME), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    from_council_code: Mapped[str] = mapped_column(String(COUNCIL_CODE))
    from_council_name: Mapped[str] = mapped_column(String(NAME))
    summary: Mapped[str] = mapped_column(String(SUMMARY))
    contact: Mapped[str] = mapped_column(String(CONTACT))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
