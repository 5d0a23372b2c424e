"""The declarative base every node table derives from (one metadata, one Alembic history)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from whoelse.federation.database import metadata


class Base(DeclarativeBase):
    metadata = metadata()
