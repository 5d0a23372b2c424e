"""An append-only, tamper-evident Merkle log over two SQL tables, shared by council nodes and the directory.

SPEC: RFC 9162 (Certificate Transparency Version 2.0), https://www.rfc-editor.org/rfc/rfc9162 —
§2.1.1 tree hashing, §2.1.3 inclusion proofs, §2.1.4 consistency proofs (maths in federation/merkle.py);
the signed tree head follows §4.10 in spirit (Ed25519 over canonical JSON, federation/signing.py).

The log works in three steps kept apart (as Tessera does):

1. **append** — `TransparencyLog.append` durably stores one entry and returns its index. Indexes are 0-based
   and contiguous: the next index is taken inside the writer's transaction under a lock (a PostgreSQL advisory
   lock, or SQLite's database write lock), so concurrent appenders MUST NOT get the same or a skipped index.
2. **integrate** — `TransparencyLog.checkpoint` extends the Merkle tree over the new leaves. The tree's
   *compact range* (the roots of the perfect subtrees covering [0, n), one per set bit of n) is stored with
   each head, so integrating costs O(new leaves + log n), not O(n).
3. **checkpoint** — the same call signs a `SignedTreeHead` over (log id, size, root, time) and stores it;
   heads are what a log publishes (to the directory) so that others can hold it to its history.

What is hashed for leaf i is the canonical JSON of `{"entry": <entry>, "index": i}` (stored verbatim in the
`entry` column): binding the index into the leaf means two swapped rows are named by the verifier, not just
noticed. `verify_log` recomputes everything from the stored entries and reports each problem it finds —
edited, deleted, reordered, truncated or rewritten entries, and forged heads — with the index it concerns.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

from whoelse.federation import merkle
from whoelse.federation.canonical import canonical_json
from whoelse.federation.errors import InvalidInput, NotFound, Refused
from whoelse.federation.merkle import HASH_BYTES, SignedTreeHead
from whoelse.federation.signing import SigningKey

LOG_ID_BYTES = 128


# --------------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True, slots=True)
class LogTables:
    """The two tables of one log: its entries (`<name>`) and its signed tree heads (`<name>_heads`)."""

    entries: Table
    heads: Table

    @property
    def name(self) -> str:
        return self.entries.name


def define_log_table(metadata: MetaData, name: str) -> LogTables:
    """Define a log's tables on metadata (Alembic migrations create them). Entry `idx` is 0-based and
    contiguous; `entry` is the canonical JSON that was hashed; `leaf_hash` is its RFC 9162 §2.1.1 leaf hash.
    A head row also keeps `compact_range`, the interior state that lets the next checkpoint integrate only
    the new leaves; it is a cache, never trusted by the verifier."""
    entries = Table(
        name,
        metadata,
        Column("idx", BigInteger, primary_key=True, autoincrement=False),
        Column("entry", Text, nullable=False),
        Column("leaf_hash", LargeBinary(HASH_BYTES), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    heads = Table(
        f"{name}_heads",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("log_id", String(LOG_ID_BYTES), nullable=False),
        Column("tree_size", BigInteger, nullable=False),
        Column("root_hash", LargeBinary(HASH_BYTES), nullable=False),
        Column("timestamp_ms", BigInteger, nullable=False),
        Column("signature", LargeBinary(64), nullable=False),
        Column("compact_range", LargeBinary, nullable=True),
        Index(f"ix_{name}_heads_tree_size", "tree_size"),
    )
    return LogTables(entries, heads)


# ------------------------------------------------------------------------------------------- compact range


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size), largest first: enough to extend the tree
    leaf by leaf and to compute MTH(D[size]) in O(log size).

    SPEC: RFC 9162 §2.1.1 — MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])) with k the largest power of
    two below n, so the root is the right fold of these subtree roots (the "compact range" of Tessera and
    Trillian)."""

    __slots__ = ("_roots", "size")

    def __init__(self, size: int = 0, roots: Sequence[bytes] = ()) -> None:
        if len(roots) != size.bit_count():
            raise InvalidInput(
                f"a compact range of size {size} holds {size.bit_count()} roots, not {len(roots)}"
            )
        self.size = size
        self._roots = list(roots)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash: like adding 1 to a binary counter, equal-sized subtrees merge as they carry."""
        carry, size = leaf, self.size
        while size & 1:
            carry = merkle.node_hash(self._roots.pop(), carry)
            size >>= 1
        self._roots.append(carry)
        self.size += 1

    def root(self) -> bytes:
        if not self._roots:
            return merkle.EMPTY_ROOT
        result = self._roots[-1]
        for left in reversed(self._roots[:-1]):
            result = merkle.node_hash(left, result)
        return result

    @property
    def roots(self) -> tuple[bytes, ...]:
        return tuple(self._roots)

    def to_bytes(self) -> bytes:
        return b"".join(self._roots)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> CompactRange:
        if len(data) != HASH_BYTES * size.bit_count():
            raise InvalidInput(f"stored compact range for size {size} is {len(data)} bytes")
        return cls(size, [data[i : i + HASH_BYTES] for i in range(0, len(data), HASH_BYTES)])


# --------------------------------------------------------------------------------------------------- the log


@dataclass(frozen=True, slots=True)
class LogEntry:
    index: int
    entry: Mapping[str, Any]
    created_at: dt.datetime


def leaf_document(index: int, entry: Mapping[str, Any]) -> bytes:
    """The exact bytes hashed for leaf `index` (what the `entry` column stores)."""
    return canonical_json({"entry": entry, "index": index})


def _leaf_document_of(index: int, canonical_entry: bytes) -> bytes:
    """leaf_document(index, entry) from canonical_json(entry), without encoding the entry again: canonical
    JSON sorts "entry" before "index" and writes no whitespace, so the two are byte for byte the same (MUST
    stay so; tests/federation/test_transparency_log.py compares them)."""
    return b'{"entry":' + canonical_entry + b',"index":' + str(index).encode("ascii") + b"}"


def parse_leaf_document(document: str | bytes) -> tuple[int, Mapping[str, Any]] | None:
    """(index, entry) from a stored leaf document, or None if it is not one (the verifier reports it)."""
    try:
        parsed = json.loads(document)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("entry"), dict):
        return None
    index = parsed.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        return None
    return index, parsed["entry"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _lock_key(table: str, step: str) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock, one per (table, step)."""
    digest = hashlib.sha256(f"whoelse/v1/log-lock/{table}/{step}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def utc(value: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC datetime."""
    # SQLite hands back naive datetimes; every value written here is UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class TransparencyLog:
    """One append-only log. `signing_key` may be None for a reader that only appends or serves proofs;
    checkpoint() needs it. Every method works inside the caller's session (the caller commits)."""

    def __init__(
        self,
        tables: LogTables,
        log_id: str,
        signing_key: SigningKey | None,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        if not log_id or len(log_id) > LOG_ID_BYTES:
            raise InvalidInput(f"log id must be 1-{LOG_ID_BYTES} characters, got {log_id!r}")
        self.tables = tables
        self.log_id = log_id
        self._signing_key = signing_key
        self._clock_ms = clock_ms
        # Built once: a node appends for every query it receives, and building a statement costs more than
        # the database takes to run it.
        self._next_index = select(func.coalesce(func.max(tables.entries.c.idx) + 1, 0))
        self._insert_entry = tables.entries.insert()

    # -- step 1: append

    def append(self, session: Session, entry: Mapping[str, Any]) -> int:
        """Store entry as the next leaf and return its index. Raises InvalidInput if entry cannot be
        canonically encoded (floats, huge integers, non-string keys)."""
        return self.append_many(session, [entry])[0]

    def append_many(self, session: Session, entries: Sequence[Mapping[str, Any]]) -> range:
        """Store entries as the next leaves, in order, and return their indexes: one lock, one look-up of
        the next index and one insert for the lot (a node group-commits the queries it received). Raises
        InvalidInput, before taking the lock and storing any, if an entry cannot be canonically encoded."""
        encoded = [canonical_json(entry) for entry in entries]
        if not encoded:
            return range(0)
        _lock(session, self.tables.entries, "append")
        conn = session.connection()
        first = int(conn.execute(self._next_index).scalar_one())
        created_at = dt.datetime.now(dt.UTC)
        rows = []
        for index, body in enumerate(encoded, start=first):
            document = _leaf_document_of(index, body)
            rows.append(
                {
                    "idx": index,
                    "entry": document.decode("utf-8"),
                    "leaf_hash": merkle.leaf_hash(document),
                    "created_at": created_at,
                }
            )
        conn.execute(self._insert_entry, rows)
        return range(first, first + len(rows))

    # -- steps 2 and 3: integrate and checkpoint

    def checkpoint(self, session: Session) -> SignedTreeHead:
        """Integrate every appended entry into the tree, sign a head over it, store and return the head."""
        if self._signing_key is None:
            raise InvalidInput(f"log {self.log_id}: a signing key is needed to checkpoint")
        _lock(session, self.tables.heads, "checkpoint")
        compact = self._cached_compact_range(session)
        entries = self.tables.entries
        rows = session.execute(
            select(entries.c.idx, entries.c.leaf_hash)
            .where(entries.c.idx >= compact.size)
            .order_by(entries.c.idx)
        )
        for idx, leaf in rows:
            if idx != compact.size:
                raise Refused(
                    f"log {self.log_id}: entry {compact.size} is missing; run `whoelse audit verify`"
                )
            compact.append(bytes(leaf))
        head = SignedTreeHead.sign(
            self._signing_key, self.log_id, compact.size, compact.root(), self._clock_ms()
        )
        session.execute(
            self.tables.heads.insert().values(
                log_id=head.log_id,
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                timestamp_ms=head.timestamp_ms,
                signature=head.signature,
                compact_range=compact.to_bytes(),
            )
        )
        return head

    def _cached_compact_range(self, session: Session) -> CompactRange:
        """The compact range stored with the newest head, if it still reproduces that head's root;
        otherwise start again from leaf 0 (slower, never wrong about what is stored)."""
        heads = self.tables.heads
        row = session.execute(
            select(heads.c.tree_size, heads.c.root_hash, heads.c.compact_range)
            .where(heads.c.log_id == self.log_id)
            .order_by(heads.c.tree_size.desc(), heads.c.id.desc())
            .limit(1)
        ).first()
        if row is None or row.compact_range is None:
            return CompactRange()
        try:
            cached = CompactRange.from_bytes(int(row.tree_size), bytes(row.compact_range))
        except InvalidInput:
            return CompactRange()
        return cached if cached.root() == bytes(row.root_hash) else CompactRange()

    # -- reading

    def size(self, session: Session) -> int:
        """How many entries are stored (signed or not yet)."""
        table = self.tables.entries
        return int(session.execute(select(func.coalesce(func.max(table.c.idx) + 1, 0))).scalar_one())

    def latest_head(self, session: Session) -> SignedTreeHead | None:
        """The largest (then newest) signed head, or None before the first checkpoint."""
        heads = self.heads(session, newest_first=True, limit=1)
        return heads[0] if heads else None

    def heads(
        self, session: Session, *, newest_first: bool = False, limit: int | None = None
    ) -> list[SignedTreeHead]:
        """Stored heads in order of tree size (ties: in the order they were signed)."""
        heads = self.tables.heads
        order = (
            (heads.c.tree_size.desc(), heads.c.id.desc()) if newest_first else (heads.c.tree_size, heads.c.id)
        )
        query = select(heads).where(heads.c.log_id == self.log_id).order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        return [_head_from_row(row) for row in session.execute(query)]

    def head_at(self, session: Session, tree_size: int) -> SignedTreeHead | None:
        """The newest head signed at exactly tree_size, or None."""
        heads = self.tables.heads
        row = session.execute(
            select(heads)
            .where(heads.c.log_id == self.log_id, heads.c.tree_size == tree_size)
            .order_by(heads.c.id.desc())
            .limit(1)
        ).first()
        return _head_from_row(row) if row is not None else None

    def entries(self, session: Session, start: int = 0, stop: int | None = None) -> list[LogEntry]:
        """Entries with start <= index < stop (stop None: to the end), in index order; a row that is not a
        log entry document (damaged: see verify_log) is skipped."""
        table = self.tables.entries
        query = select(table.c.idx, table.c.entry, table.c.created_at).where(table.c.idx >= start)
        if stop is not None:
            query = query.where(table.c.idx < stop)
        out = []
        for idx, document, created_at in session.execute(query.order_by(table.c.idx)):
            parsed = parse_leaf_document(document)
            if parsed is not None:
                out.append(LogEntry(int(idx), parsed[1], utc(created_at)))
        return out

    def _leaf_hashes(self, session: Session, tree_size: int) -> list[bytes]:
        table = self.tables.entries
        rows = session.execute(
            select(table.c.leaf_hash).where(table.c.idx < tree_size).order_by(table.c.idx)
        ).scalars()
        leaves = [bytes(leaf) for leaf in rows]
        if len(leaves) != tree_size:
            raise NotFound(f"log {self.log_id} holds {len(leaves)} entries, not {tree_size}")
        return leaves

    def inclusion_proof(self, session: Session, index: int, tree_size: int) -> list[bytes]:
        """Audit path for entry `index` in the tree of `tree_size` leaves. SPEC: RFC 9162 §2.1.3.1."""
        if not 0 <= index < tree_size:
            raise InvalidInput(f"leaf index {index} is not in a tree of {tree_size} leaves")
        return merkle.inclusion_proof(self._leaf_hashes(session, tree_size), index, tree_size)

    def consistency_proof(self, session: Session, old_size: int, new_size: int) -> list[bytes]:
        """Proof that the first old_size entries are a prefix of the first new_size.
        SPEC: RFC 9162 §2.1.4.1."""
        if not 0 <= old_size <= new_size:
            raise InvalidInput(f"old tree size {old_size} is not between 0 and the new size {new_size}")
        old = self._compact_range_at(session, old_size)
        if old is None:  # no head was signed at old_size here: from every leaf
            return merkle.consistency_proof(self._leaf_hashes(session, new_size), old_size, new_size)
        # From the head signed at old_size and the entries since: a node publishing every few seconds reads
        # only its new entries, however long its log.
        table = self.tables.entries
        rows = session.execute(
            select(table.c.leaf_hash)
            .where(table.c.idx >= old_size, table.c.idx < new_size)
            .order_by(table.c.idx)
        ).scalars()
        leaves = [bytes(leaf) for leaf in rows]
        if len(leaves) != new_size - old_size:
            raise NotFound(f"log {self.log_id} does not hold entries {old_size} to {new_size - 1}")
        return merkle.consistency_proof_extending(old.roots, old_size, leaves)

    def _compact_range_at(self, session: Session, tree_size: int) -> CompactRange | None:
        """The compact range stored with a head of exactly tree_size, if one reproduces that head's root."""
        heads = self.tables.heads
        rows = session.execute(
            select(heads.c.root_hash, heads.c.compact_range)
            .where(heads.c.log_id == self.log_id, heads.c.tree_size == tree_size)
            .order_by(heads.c.id.desc())
        )
        for root_hash, stored in rows:
            if stored is None:
                continue
            try:
                compact = CompactRange.from_bytes(tree_size, bytes(stored))
            except InvalidInput:
                continue
            if compact.root() == bytes(root_hash):
                return compact
        return None


def _lock(session: Session, table: Table, step: str) -> None:
    """Serialise writers of one log for the rest of the transaction."""
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(_ADVISORY_LOCK, {"key": _lock_key(table.name, step)})
    elif dialect == "sqlite":
        # A no-op UPDATE takes SQLite's write lock now (waiting busy_timeout), so the index read next is
        # the newest and no other writer can take the same one before this transaction commits.
        conn.execute(_sqlite_write_lock(table))
    # Elsewhere the primary key still refuses a duplicate index: a racing writer fails, never forks the log.


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


@functools.cache
def _sqlite_write_lock(table: Table) -> Update:
    first_column = next(iter(table.primary_key.columns))
    return update(table).where(false()).values({first_column.name: first_column})


def _head_from_row(row: Any) -> SignedTreeHead:
    return SignedTreeHead(
        log_id=row.log_id,
        tree_size=int(row.tree_size),
        root_hash=bytes(row.root_hash),
        timestamp_ms=int(row.timestamp_ms),
        signature=bytes(row.signature),
    )


# ------------------------------------------------------------------------------------ trusted heads as JSON


def head_to_json(head: SignedTreeHead) -> dict[str, Any]:
    """A head as JSON (hashes and signatures in hex), the format of a trusted-heads file."""
    return {
        "log_id": head.log_id,
        "tree_size": head.tree_size,
        "root_hash": head.root_hash.hex(),
        "timestamp_ms": head.timestamp_ms,
        "signature": head.signature.hex(),
    }


def head_from_json(obj: Any, where: str = "tree head") -> SignedTreeHead:
    """Parse one head written by head_to_json; raises InvalidInput naming the bad field."""
    if not isinstance(obj, Mapping):
        raise InvalidInput(
            f"{where}: expected an object with log_id, tree_size, root_hash, timestamp_ms, signature"
        )
    try:
        log_id, size, stamp = obj["log_id"], obj["tree_size"], obj["timestamp_ms"]
        root_hex, signature_hex = obj["root_hash"], obj["signature"]
    except KeyError as exc:
        raise InvalidInput(f"{where}: missing field {exc.args[0]!r}") from None
    if not isinstance(log_id, str) or not isinstance(size, int) or not isinstance(stamp, int):
        raise InvalidInput(f"{where}: log_id must be a string, tree_size and timestamp_ms integers")
    try:
        root_hash, signature = bytes.fromhex(root_hex), bytes.fromhex(signature_hex)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}: root_hash and signature must be hex strings") from None
    if len(root_hash) != HASH_BYTES:
        raise InvalidInput(f"{where}: root_hash is {len(root_hash)} bytes, not {HASH_BYTES}")
    return SignedTreeHead(log_id, size, root_hash, stamp, signature)


def load_trusted_heads(path: Path) -> list[SignedTreeHead]:
    """Read a JSON file holding one head or a list of heads (e.g. fetched from the directory)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read trusted heads ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    items = data if isinstance(data, list) else [data]
    return [head_from_json(item, f"{path}: head {n}") for n, item in enumerate(items)]


# -------------------------------------------------------------------------------------------- verification


class ProblemKind(enum.StrEnum):
    EDITED = "edited entry"
    MISSING = "missing entry"
    MISPLACED = "reordered entry"
    UNREADABLE = "unreadable entry"
    BAD_SIGNATURE = "bad head signature"
    WRONG_LOG = "head for another log"
    ROOT_MISMATCH = "head does not match entries"
    TRUNCATED = "truncated log"
    REWRITTEN = "rewritten log"


@dataclass(frozen=True, slots=True)
class LogProblem:
    """One thing wrong with a log. `index` is the entry concerned, `tree_size` the head concerned."""

    kind: ProblemKind
    description: str
    index: int | None = None
    tree_size: int | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.description}"


@dataclass(slots=True)
class VerificationReport:
    """What `verify_log` checked and every problem it found; `ok` when there are none."""

    log: str
    log_id: str | None = None
    entries: int = 0
    heads_checked: int = 0
    trusted_heads_checked: int = 0
    latest_signed_size: int | None = None
    problems: list[LogProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def unsigned_entries(self) -> int:
        """Entries appended since the newest head (not yet checkpointed: covered by no signature)."""
        return self.entries - (self.latest_signed_size or 0)

    def to_text(self) -> str:
        lines = [
            f"log {self.log}" + (f" ({self.log_id})" if self.log_id else ""),
            f"  entries: {self.entries} ({self.unsigned_entries} not yet covered by a signed head)",
            f"  signed tree heads checked: {self.heads_checked}",
            f"  trusted (published) heads checked: {self.trusted_heads_checked}",
        ]
        if self.ok:
            lines.append("  result: OK — every entry, head and trusted head is consistent")
        else:
            lines.append(f"  result: FAILED — {len(self.problems)} problem(s):")
            lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "log_id": self.log_id,
            "ok": self.ok,
            "entries": self.entries,
            "heads_checked": self.heads_checked,
            "trusted_heads_checked": self.trusted_heads_checked,
            "latest_signed_size": self.latest_signed_size,
            "problems": [
                {
                    "kind": p.kind.value,
                    "index": p.index,
                    "tree_size": p.tree_size,
                    "description": p.description,
                }
                for p in self.problems
            ],
        }


@dataclass(frozen=True, slots=True)
class _HeadToCheck:
    head: SignedTreeHead
    trusted: bool

    @property
    def label(self) -> str:
        when = dt.datetime.fromtimestamp(self.head.timestamp_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return f"{'trusted' if self.trusted else 'stored'} head of size {self.head.tree_size} signed {when}"


def verify_log(
    session: Session,
    tables: LogTables,
    verify_key: bytes,
    trusted_heads: Sequence[SignedTreeHead] = (),
    log_id: str | None = None,
) -> VerificationReport:
    """Recompute the whole log from its stored entries and check it against every stored head and every
    trusted head (one published elsewhere, e.g. to the directory). Problems found:

    - an entry whose bytes no longer hash to its leaf hash (edited), or that holds another index (reordered);
    - a gap in the indexes (deleted); a head beyond the last entry (truncated);
    - a head whose signature fails with verify_key (forged), or whose root differs from the root recomputed
      from the entries (RFC 9162 §2.1.1; edited, reordered, deleted or replaced entries);
    - a trusted head the log no longer extends: recomputing MTH over its first tree_size entries is the
      strongest form of the RFC 9162 §2.1.4 consistency check (truncated, or rewritten and re-signed).

    log_id: the expected log id; by default taken from the stored (else trusted) heads."""
    heads_table = tables.heads
    stored = [_head_from_row(row) for row in session.execute(select(heads_table).order_by(heads_table.c.id))]
    expected_id = log_id or (
        stored[0].log_id if stored else trusted_heads[0].log_id if trusted_heads else None
    )
    report = VerificationReport(log=tables.name, log_id=expected_id)
    to_check = [_HeadToCheck(h, False) for h in stored] + [_HeadToCheck(h, True) for h in trusted_heads]

    for item in to_check:
        _check_head_signature(item, verify_key, expected_id, report)
    forged = [p for p in report.problems if p.kind is ProblemKind.BAD_SIGNATURE]
    if len(to_check) > 1 and len(forged) == len(to_check):
        # Not one head verifies: far likelier the wrong key than every head forged. Say so once.
        report.problems = [p for p in report.problems if p.kind is not ProblemKind.BAD_SIGNATURE]
        report.problems.append(
            LogProblem(
                ProblemKind.BAD_SIGNATURE,
                f"none of the {len(to_check)} signed heads verifies with key {verify_key.hex()[:16]}…: "
                "wrong key? (else every head was forged)",
            )
        )

    by_size: dict[int, list[_HeadToCheck]] = {}
    for item in to_check:
        by_size.setdefault(item.head.tree_size, []).append(item)

    compact = CompactRange()
    _check_roots(by_size.pop(0, []), compact, report)
    for leaf in _walk_entries(session, tables, report):
        compact.append(leaf)
        if by_size:
            _check_roots(by_size.pop(compact.size, []), compact, report)
    report.entries = compact.size

    for size in sorted(by_size):  # heads that claim more entries than are stored
        for item in by_size[size]:
            report.problems.append(
                LogProblem(
                    ProblemKind.TRUNCATED,
                    f"{item.label} covers {size} entries but the log holds only {compact.size}: "
                    f"entries {compact.size}..{size - 1} were deleted (log truncated)",
                    index=compact.size,
                    tree_size=size,
                )
            )
    report.heads_checked = len(stored)
    report.trusted_heads_checked = len(trusted_heads)
    report.latest_signed_size = max((h.tree_size for h in stored), default=None)
    return report


def _check_head_signature(
    item: _HeadToCheck, verify_key: bytes, expected_id: str | None, report: VerificationReport
) -> None:
    head = item.head
    if expected_id is not None and head.log_id != expected_id:
        report.problems.append(
            LogProblem(
                ProblemKind.WRONG_LOG,
                f"{item.label} is for log {head.log_id!r}, not {expected_id!r}",
                tree_size=head.tree_size,
            )
        )
    try:
        head.verify(verify_key)
    except Refused:
        report.problems.append(
            LogProblem(
                ProblemKind.BAD_SIGNATURE,
                f"{item.label}: signature does not verify with key {verify_key.hex()[:16]}… "
                "(head forged or altered)",
                tree_size=head.tree_size,
            )
        )


def _check_roots(items: Sequence[_HeadToCheck], compact: CompactRange, report: VerificationReport) -> None:
    if not items:
        return
    recomputed = compact.root()
    for item in items:
        if item.head.root_hash == recomputed:
            continue
        if item.trusted:
            report.problems.append(
                LogProblem(
                    ProblemKind.REWRITTEN,
                    f"{item.label}: the first {compact.size} entries no longer hash to its root, so the log "
                    "does not extend what it published (rewritten or re-ordered since; RFC 9162 §2.1.4)",
                    tree_size=compact.size,
                )
            )
        else:
            report.problems.append(
                LogProblem(
                    ProblemKind.ROOT_MISMATCH,
                    f"{item.label}: root recomputed from entries 0..{compact.size - 1} differs from the "
                    "signed root (entries edited, reordered, deleted or replaced after it was signed)",
                    tree_size=compact.size,
                )
            )


def _walk_entries(session: Session, tables: LogTables, report: VerificationReport) -> Iterator[bytes]:
    """Yield the recomputed leaf hash of each stored row in index order, reporting row-level problems."""
    entries = tables.entries
    rows = session.execute(
        select(entries.c.idx, entries.c.entry, entries.c.leaf_hash).order_by(entries.c.idx),
        execution_options={"yield_per": 5000},
    )
    expected = 0
    for idx, document, stored_leaf in rows:
        idx = int(idx)
        if idx != expected:
            missing = f"entry {expected}" if idx == expected + 1 else f"entries {expected}..{idx - 1}"
            report.problems.append(
                LogProblem(ProblemKind.MISSING, f"{missing} missing: deleted from the log", index=expected)
            )
        raw = document.encode("utf-8")
        leaf = merkle.leaf_hash(raw)
        if leaf != bytes(stored_leaf):
            report.problems.append(
                LogProblem(
                    ProblemKind.EDITED,
                    f"entry {idx}: stored entry does not hash to its recorded leaf hash (entry edited)",
                    index=idx,
                )
            )
        parsed = parse_leaf_document(raw)
        if parsed is None:
            report.problems.append(
                LogProblem(ProblemKind.UNREADABLE, f"entry {idx}: not a log entry document", index=idx)
            )
        elif parsed[0] != idx:
            report.problems.append(
                LogProblem(
                    ProblemKind.MISPLACED,
                    f"entry {idx}: holds the entry written as number {parsed[0]} "
                    "(entries reordered or moved)",
                    index=idx,
                )
            )
        expected = idx + 1
        yield leaf


def verify_entry_inclusion(
    entry_document: bytes, index: int, proof: Sequence[bytes], head: SignedTreeHead, verify_key: bytes
) -> None:
    """For an auditor holding one exported entry: check head's signature, then that the entry is leaf
    `index` of head's tree. Raises Refused naming what failed. SPEC: RFC 9162 §2.1.3.2."""
    head.verify(verify_key)
    merkle.verify_inclusion(merkle.leaf_hash(entry_document), index, head.tree_size, proof, head.root_hash)


__all__ = [
    "CompactRange",
    "LogEntry",
    "LogProblem",
    "LogTables",
    "ProblemKind",
    "TransparencyLog",
    "VerificationReport",
    "define_log_table",
    "head_from_json",
    "head_to_json",
    "leaf_document",
    "load_trusted_heads",
    "parse_leaf_document",
    "utc",
    "verify_entry_inclusion",
    "verify_log",
]
