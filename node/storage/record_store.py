"""Reading and writing child records and their lookup tags.

One row per child: the identity and whereabouts in columns, carers, involvements and causes for concern
as a JSON document in `details` (read and written whole, with the record). Writes are bulk upserts keyed by
the council's record id: the old row for an id is deleted and the new one inserted in the same transaction,
so re-importing a file is idempotent and a failed batch leaves the previous version intact.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, LargeBinary, delete, func, select, text, update
from sqlalchemy.orm import Session

from whoelse.node.records import (
    Address,
    Carer,
    CauseForConcern,
    ChildRecord,
    Education,
    GeneralPractice,
    Involvement,
    RecordId,
    SensitiveBasis,
    ServiceType,
    Sex,
    Shielding,
)
from whoelse.node.storage.base import Base
from whoelse.node.storage.tables import Child, MatchTag

TagFn = Callable[[ChildRecord], Sequence[tuple[bytes, str]]]
"""A record's lookup tags, each with the kind of match key it was made from."""


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _details(r: ChildRecord) -> str:
    return json.dumps(
        {
            "carers": [[c.name, c.relationship, c.contact] for c in r.carers],
            "involvements": [
                [
                    i.practitioner,
                    i.organisation,
                    i.role,
                    i.contact,
                    i.service_type.value,
                    _date(i.start_date),
                    _date(i.end_date),
                    i.sensitive_basis.value if i.sensitive_basis else None,
                    i.override_reason,
                ]
                for i in r.involvements
            ],
            "concerns": [[c.raised_by, c.contact, _date(c.raised_on)] for c in r.concerns],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


ROW_KEYS = ("id", "version", "updated_at")  # set by the write itself
VALUE_COLUMNS = tuple(c.name for c in Child.__table__.columns if c.name not in ROW_KEYS)
CHILD_COLUMNS = (*ROW_KEYS, *VALUE_COLUMNS)
TAG_COLUMNS = ("tag", "scheme", "child_id", "kind")  # id numbered by the database; secret only for OPRF
ChildValues = tuple[Any, ...]
"""A record's `children` columns other than ROW_KEYS, in VALUE_COLUMNS order: what an import worker makes."""


def child_values(r: ChildRecord) -> ChildValues:
    """The stored form of a record: its `children` columns other than id, version and write time."""
    values = {
        "record_id": r.record_id,
        "forename": r.forename,
        "middle_names": r.middle_names,
        "surname": r.surname,
        "known_as": r.known_as,
        "previous_surnames": ";".join(r.previous_surnames),
        "date_of_birth": r.date_of_birth,
        "sex": r.sex.value,
        "nhs_number": r.nhs_number,
        "address_line1": r.address.line1,
        "address_line2": r.address.line2,
        "address_town": r.address.town,
        "address_postcode": r.address.postcode,
        "education_institution": r.education.institution if r.education else None,
        "education_contact": r.education.contact if r.education else "",
        "gp_practice": r.gp.practice if r.gp else None,
        "gp_contact": r.gp.contact if r.gp else "",
        "shielding_reason": r.shielding.reason if r.shielding else None,
        "shielding_shielded_by": r.shielding.shielded_by if r.shielding else "",
        "shielding_shielded_on": r.shielding.shielded_on if r.shielding else None,
        "retention_consent_to_25": r.retention_consent_to_25,
        "ended_on": r.ended_on,
        "archived_on": None,
        "details": _details(r),
    }
    return tuple(values[c] for c in VALUE_COLUMNS)


BULK_WRITE_ROWS = 1000
"""A write of at least this many records (an import, a first tokenisation) ends by refreshing the planner's
statistics (`refresh_statistics`)."""


TAG_TABLE = Base.metadata.tables[MatchTag.__tablename__]


def holds_no_records(engine: Engine) -> bool:
    """Whether the council holds no record yet (its first load is still to come)."""
    with engine.connect() as conn:
        return conn.execute(select(Child.id).limit(1)).first() is None


@contextmanager
def tag_indexes_built_after(engine: Engine) -> Iterator[None]:
    """Write a first load's lookup tags with the tag table's indexes dropped, and build them once at the end.

    A first load writes about 16 tags per child, each a random 16-byte value: kept in an index as they arrive,
    every insert lands on a random page, and at 100,000 children that is two thirds of the import's database
    time (docs/benchmarks.md, "bench node"); building the index from the finished table is a sort. The
    indexes are rebuilt whatever happens in the block. A process killed inside it leaves them missing, so
    searches still answer correctly but slowly, until `ensure_tag_indexes` runs: at the next import and
    when the node starts."""
    with engine.begin() as conn:
        for index in TAG_TABLE.indexes:
            index.drop(conn, checkfirst=True)
    try:
        yield
    finally:
        ensure_tag_indexes(engine)


def ensure_tag_indexes(engine: Engine) -> None:
    """Create whichever of the tag table's indexes is missing (a first load cut short); cheap otherwise."""
    with engine.begin() as conn:
        for index in TAG_TABLE.indexes:
            index.create(conn, checkfirst=True)


def refresh_statistics(engine: Engine) -> None:
    """Bring PostgreSQL's planner statistics for the record tables up to date after a bulk write.

    PostgreSQL plans each query from table statistics that autovacuum refreshes only now and then. Right after
    a council's first load they still describe empty tables, and the tag look-up every search makes (at the
    holding council and at every other) is planned as a scan of millions of tag rows: 273 ms at the median
    instead of 1.7 ms at 350,000 children, until autovacuum gets round to the tables (docs/benchmarks.md,
    "bench node"). ANALYZE samples a fixed number of rows, so it takes under a second at that size. SQLite
    plans these queries from the indexes alone, so nothing is done there."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        conn.execute(text(f"ANALYZE {Child.__tablename__}, {MatchTag.__tablename__}"))


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert rows straight through the driver, bypassing SQLAlchemy's per-row statement processing (most
    of an import's database time): COPY on PostgreSQL, one prepared executemany on SQLite. Values are
    converted by the columns' own SQLAlchemy types, so what is stored is what an ORM insert stores."""
    if not rows:
        return
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql_table = Base.metadata.tables[table]
        dialect = conn.dialect
        types = [sql_table.c[c].type for c in columns]
        # bytes go to sqlite3 as they are; the binary type's processor only wraps them in a memoryview
        processors = [
            None if isinstance(t, LargeBinary) else t.dialect_impl(dialect).bind_processor(dialect)
            for t in types
        ]
        converting = [(n, f) for n, f in enumerate(processors) if f is not None]
        if converting:
            converted = []
            for row in rows:
                values = list(row)
                for n, f in converting:
                    values[n] = f(values[n])
                converted.append(values)
            rows = [tuple(v) for v in converted]
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def upsert_records(session: Session, records: Sequence[ChildRecord], tag_fn: TagFn, scheme: str) -> int:
    """Insert or replace `records` (by record id) with their lookup tags. Returns how many were written."""
    return write_prepared(session, [(child_values(r), tag_fn(r)) for r in records], scheme)


def write_prepared(
    session: Session, prepared: Sequence[tuple[ChildValues, Sequence[tuple[bytes, str]]]], scheme: str
) -> int:
    """Insert or replace records (by record id), given as `child_values` with their already-made lookup
    tags, in the session's transaction. Returns how many were written (the last copy of an id wins)."""
    if not prepared:
        return 0
    now = dt.datetime.now(dt.UTC)
    at = VALUE_COLUMNS.index("record_id")
    by_id = {values[at]: (values, tags) for values, tags in prepared}
    conn = session.connection()
    stored = select(Child.record_id, Child.version).where(Child.record_id.in_(list(by_id)))
    versions = {record_id: int(version) for record_id, version in conn.execute(stored)}
    if versions:
        conn.execute(delete(Child).where(Child.record_id.in_(list(versions))))
    if conn.dialect.name == "postgresql":
        # Ids are assigned here rather than by RETURNING (far faster in bulk); one writer at a time.
        conn.execute(text("LOCK TABLE children IN SHARE ROW EXCLUSIVE MODE"))
    next_id = int(conn.execute(select(func.coalesce(func.max(Child.id), 0))).scalar_one()) + 1
    children = []
    tag_rows: list[tuple[bytes, str, int, str]] = []
    for n, (record_id, (values, tags)) in enumerate(by_id.items()):
        pk = next_id + n
        children.append((pk, versions.get(record_id, 0) + 1, now, *values))
        tag_rows.extend((tag, scheme, pk, kind) for tag, kind in dict.fromkeys(tags))
    bulk_insert(conn, Child.__tablename__, CHILD_COLUMNS, children)
    bulk_insert(conn, MatchTag.__tablename__, TAG_COLUMNS, tag_rows)
    return len(by_id)


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def record_from_row(child: Child) -> ChildRecord:
    """The domain record stored in one `children` row."""
    details = json.loads(child.details or "{}")
    return ChildRecord(
        record_id=RecordId(child.record_id),
        forename=child.forename,
        surname=child.surname,
        date_of_birth=child.date_of_birth,
        sex=Sex(child.sex),
        address=Address(
            line1=child.address_line1,
            line2=child.address_line2,
            town=child.address_town,
            postcode=child.address_postcode,
        ),
        middle_names=child.middle_names,
        known_as=child.known_as,
        nhs_number=child.nhs_number,
        education=(
            Education(child.education_institution, child.education_contact)
            if child.education_institution is not None
            else None
        ),
        gp=GeneralPractice(child.gp_practice, child.gp_contact) if child.gp_practice is not None else None,
        carers=tuple(
            Carer(name, relationship, contact) for name, relationship, contact in details.get("carers", [])
        ),
        involvements=tuple(
            Involvement(
                practitioner=practitioner,
                organisation=organisation,
                role=role,
                contact=contact,
                service_type=ServiceType(service),
                start_date=dt.date.fromisoformat(start),
                end_date=_day(end),
                sensitive_basis=SensitiveBasis(basis) if basis else None,
                override_reason=reason,
            )
            for practitioner, organisation, role, contact, service, start, end, basis, reason in details.get(
                "involvements", []
            )
        ),
        concerns=tuple(
            CauseForConcern(raised_by, contact, dt.date.fromisoformat(raised_on))
            for raised_by, contact, raised_on in details.get("concerns", [])
        ),
        shielding=(
            Shielding(child.shielding_reason, child.shielding_shielded_by, child.shielding_shielded_on)
            if child.shielding_reason is not None and child.shielding_shielded_on is not None
            else None
        ),
        retention_consent_to_25=child.retention_consent_to_25,
        previous_surnames=tuple(p for p in child.previous_surnames.split(";") if p),
        ended_on=child.ended_on,
    )


def load_records(session: Session, child_ids: Sequence[int]) -> dict[int, ChildRecord]:
    """Whole records for the given internal ids, in one indexed query."""
    if not child_ids:
        return {}
    ids = list(dict.fromkeys(child_ids))
    return {ch.id: record_from_row(ch) for ch in session.scalars(select(Child).where(Child.id.in_(ids)))}


def shared_kinds(session: Session, tags: Sequence[bytes], scheme: str | None = None) -> dict[int, set[str]]:
    """For each record sharing any of `tags`: the kinds of match key it shares. One indexed query."""
    if not tags:
        return {}
    query = select(MatchTag.child_id, MatchTag.kind).where(MatchTag.tag.in_(list(tags)))
    if scheme is not None:
        query = query.where(MatchTag.scheme == scheme)
    kinds: dict[int, set[str]] = {}
    for child_id, kind in session.execute(query):
        kinds.setdefault(int(child_id), set()).add(kind)
    return kinds


def child_rows(session: Session, child_ids: Sequence[int]) -> dict[int, Child]:
    """The `children` rows of these internal ids, in one indexed query."""
    if not child_ids:
        return {}
    return {c.id: c for c in session.scalars(select(Child).where(Child.id.in_(list(child_ids))))}


def held_tags(
    engine: Engine, tags: Sequence[bytes], scheme: str
) -> list[tuple[int, bytes, bytes | None, str]]:
    """(child id, tag, demographics key, key kind) for each of `tags` this council holds under `scheme`.

    Every council runs this for every federated query, and nearly all of them hold nothing, so it goes to
    the driver as one plain parameterised statement: building and processing it through SQLAlchemy cost
    three times what SQLite takes to answer it (docs/benchmarks.md, "bench search")."""
    if not tags:
        return []
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"  # SQLite / psycopg
    sql = (
        f"SELECT child_id, tag, secret, kind FROM {MatchTag.__tablename__} "  # values go as parameters
        f"WHERE scheme = {mark} AND tag IN ({', '.join([mark] * len(tags))})"
    )
    with engine.connect() as conn:  # a plain read; the pool rolls the connection back when it returns
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, (scheme, *tags))
            rows = cursor.fetchall()
        finally:
            cursor.close()
    return [
        (int(cid), bytes(tag), None if secret is None else bytes(secret), str(kind))
        for cid, tag, secret, kind in rows
    ]


def count_records(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Child)) or 0)


def records_by_record_id(session: Session, record_ids: Sequence[str]) -> dict[str, ChildRecord]:
    """The stored version of each of these records (by the council's record id), where one exists."""
    rows = session.scalars(select(Child).where(Child.record_id.in_(list(record_ids))))
    return {row.record_id: record_from_row(row) for row in rows}


def end_absent_records(session: Session, present: Container[str], today: dt.date) -> list[str]:
    """End (never delete) every current record whose record id is not in `present`; their record ids.

    An ended record keeps its row, tags and audit trail but is no longer disclosed (node/disclosure.py);
    importing the child again makes it current."""
    current = session.scalars(select(Child.record_id).where(Child.ended_on.is_(None)))
    absent = sorted(rid for rid in current if rid not in present)
    for start in range(0, len(absent), 500):
        chunk = absent[start : start + 500]
        session.execute(update(Child).where(Child.record_id.in_(chunk)).values(ended_on=today))
    return absent


def record_version(session: Session, record_id: str) -> int:
    """The stored version of a record (each write adds one), or 0 when this council does not hold it."""
    return int(session.scalar(select(Child.version).where(Child.record_id == record_id)) or 0)
