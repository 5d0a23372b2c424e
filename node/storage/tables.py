"""Tables for a council's child records, their match tags and the node's own settings.

Columns mirror node/records.py field for field; there is no column for notes, assessments or opinion.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from whoelse.node.storage.base import Base

NAME = 100
CONTACT = 200


class NodeSetting(Base):
    """Key/value settings of this node (council code and name, records team contact, local tag key)."""

    __tablename__ = "node_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Child(Base):
    __tablename__ = "children"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    forename: Mapped[str] = mapped_column(String(NAME))
    middle_names: Mapped[str] = mapped_column(String(NAME), default="")
    surname: Mapped[str] = mapped_column(String(NAME))
    known_as: Mapped[str] = mapped_column(String(NAME), default="")
    previous_surnames: Mapped[str] = mapped_column(String(4 * NAME), default="")  # ";"-joined
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    sex: Mapped[str] = mapped_column(String(1))
    nhs_number: Mapped[str] = mapped_column(String(10), default="")
    address_line1: Mapped[str] = mapped_column(String(CONTACT))
    address_line2: Mapped[str] = mapped_column(String(CONTACT), default="")
    address_town: Mapped[str] = mapped_column(String(NAME), default="")
    address_postcode: Mapped[str] = mapped_column(String(8))
    education_institution: Mapped[str | None] = mapped_column(String(CONTACT), nullable=True)
    education_contact: Mapped[str] = mapped_column(String(CONTACT), default="")
    gp_practice: Mapped[str | None] = mapped_column(String(CONTACT), nullable=True)
    gp_contact: Mapped[str] = mapped_column(String(CONTACT), default="")
    shielding_reason: Mapped[str | None] = mapped_column(String(CONTACT), nullable=True)
    shielding_shielded_by: Mapped[str] = mapped_column(String(NAME), default="")
    shielding_shielded_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    retention_consent_to_25: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # absent from a full refresh
    archived_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # retention ended (retention.py)
    # Incremented by every write (import or records API), so a system's change can name the version it
    # started from and a change made meanwhile is not overwritten (node/records_api/service.py).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Carers, involvements and causes for concern, as JSON (node/storage/record_store.py): a node reads a
    # child's record whole, so one row per child makes a lookup one round trip and an import one insert.
    details: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class MatchTag(Base):
    """A one-way lookup tag derived from one match key of one record (see node/tags.py).

    `scheme` names how the tag was made ("local" keyed hash, or an OPRF key id), so a key rotation can
    re-tag records while old tags still answer.
    """

    __tablename__ = "match_tags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[bytes] = mapped_column(LargeBinary(16))
    scheme: Mapped[str] = mapped_column(String(32))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    # For OPRF tags: the key that opens demographics sent with this tag (derived from the token).
    secret: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # The kind of match key behind the tag (federation/match_keys.KeyKind), for the opening rule: what a
    # record shares with a search is weighed by the details its keys are made of, not by their number.
    kind: Mapped[str] = mapped_column(String(24), default="")

    __table_args__ = (Index("ix_match_tags_tag", "tag"),)
