"""The directory's database: the council registry, the OPRF key list (public halves only), token-evaluation
counts, the councils' published tree heads and the routing log. No child data, and no sealed payload, ever.

SQLite file (one per directory, WAL) or PostgreSQL by URL. The schema is small and owned by the directory
alone, so it is created with `metadata.create_all` rather than migrations.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Integer,
    LargeBinary,
    String,
    Text,
    select,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from whoelse.federation.database import SqlDatabase, metadata
from whoelse.federation.errors import Unavailable
from whoelse.federation.transparency_log import define_log_table


class Base(DeclarativeBase):
    metadata = metadata()


class CouncilRow(Base):
    """One council in the registry."""

    __tablename__ = "councils"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(300))
    signing_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealing_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    certificate_fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class RevokedCertificateRow(Base):
    """A certificate the directory refuses for good, by SHA-256 fingerprint, whatever its name and validity:
    a council's replaced certificate (rotation), or one reported lost or mis-issued."""

    __tablename__ = "revoked_certificates"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))  # the common name it was issued for, as the operator gave
    reason: Mapped[str] = mapped_column(Text)
    revoked_at_ms: Mapped[int] = mapped_column(BigInteger)


class SettingRow(Base):
    """Small named values: the council-list version, where the key files live."""

    __tablename__ = "directory_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class OprfKeyRow(Base):
    """A match-token key's public half and state. The secret lives in a 0600 file under the key directory."""

    __tablename__ = "oprf_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    state: Mapped[str] = mapped_column(String(16))  # current, previous or retired
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    retired_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class TokenUsageRow(Base):
    """One EvaluateTokens call: who, how many, which key, when. Never the blinded or evaluated values."""

    __tablename__ = "token_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    council: Mapped[str] = mapped_column(String(16), index=True)
    count: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(String(64))
    at_ms: Mapped[int] = mapped_column(BigInteger)


class SignedHeadColumns:
    """A signed tree head as the directory received it (shared by the latest and the history tables)."""

    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    received_at_ms: Mapped[int] = mapped_column(BigInteger)


class TreeHeadRow(SignedHeadColumns, Base):
    """The latest signed tree head each council published for its audit log."""

    __tablename__ = "tree_heads"

    log_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class TreeHeadHistoryRow(SignedHeadColumns, Base):
    """Every head the directory accepted for a council's log, with the consistency proof that linked it to the
    head before (empty for the first): the chain an auditor fetches (`whoelse audit collect-heads`)."""

    __tablename__ = "tree_head_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    log_id: Mapped[str] = mapped_column(String(64), index=True)
    consistency_proof: Mapped[bytes] = mapped_column(LargeBinary)  # the proof's hashes, concatenated


class RoutingCosignatureRow(Base):
    """A council's cosignature on a routing-log head it checked extends the last one it witnessed
    (federation/witness.py): one per council and tree size."""

    __tablename__ = "routing_cosignatures"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    witness: Mapped[str] = mapped_column(String(64), primary_key=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    received_at_ms: Mapped[int] = mapped_column(BigInteger)


ROUTING_LOG = define_log_table(Base.metadata, "routing_log")
"""The directory's routing log (federation/transparency_log.py): one entry per routed query holding only its
metadata (origin, query id, purpose, times, who answered). Never a sealed payload."""


class DirectoryDatabase(SqlDatabase):
    """The directory's database (tables made by create_all: the directory has no migrations yet)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "db")

    @classmethod
    def open(cls, url: str) -> DirectoryDatabase:
        """Open (creating the tables if needed) the directory database at url or file path."""
        db = cls(url)
        db.create_tables()
        return db

    @classmethod
    def open_existing(cls, url: str) -> DirectoryDatabase:
        """The directory database that `whoelse directory init` made: what every command but `init` opens,
        so a mistyped path is an error rather than a new, empty directory."""
        db = cls(url)
        try:
            db.require_tables(SettingRow.__tablename__, "whoelse directory init")
            db.create_tables()  # any table added since (create_all leaves existing ones alone)
        except Exception:
            db.dispose()
            raise
        return db

    def create_tables(self) -> None:
        try:
            Base.metadata.create_all(self.engine)
        except OperationalError as exc:
            raise Unavailable(f"db: cannot open the directory database {self.where}") from exc


def get_setting(session: Session, name: str) -> str | None:
    row = session.get(SettingRow, name)
    return row.value if row else None


def set_setting(session: Session, name: str, value: str) -> None:
    row = session.get(SettingRow, name)
    if row is None:
        session.add(SettingRow(name=name, value=value))
    else:
        row.value = value


COUNCIL_LIST_VERSION = "council_list_version"


def council_list_version(session: Session) -> int:
    return int(get_setting(session, COUNCIL_LIST_VERSION) or "0")


def bump_council_list_version(session: Session) -> int:
    """Every change to what the signed council list says (a council's entry, the OPRF keys) gets a new
    version, so nodes can refuse to go back to an older list."""
    # SELECT ... FOR UPDATE where the backend has it (PostgreSQL); SQLite serialises writers anyway.
    row = session.scalars(
        select(SettingRow).where(SettingRow.name == COUNCIL_LIST_VERSION).with_for_update()
    ).first()
    version = (int(row.value) if row else 0) + 1
    set_setting(session, COUNCIL_LIST_VERSION, str(version))
    return version
