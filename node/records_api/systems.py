"""The case-management systems a council's records team registered to write through the records API.

Each system has its own client certificate, issued under the federation CA when it is added and known here
by its fingerprint, and scopes saying which kinds of change it may make. A revoked system's certificate is
refused from the next call on; the record of what it wrote stays in the audit log.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from whoelse.federation.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from whoelse.node.records_api.tables import RecordsSystem

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
COMMON_NAME_PREFIX = "records-system."


class Scope(enum.StrEnum):
    CHILDREN = "children"  # UpsertChild
    INVOLVEMENTS = "involvements"  # AddInvolvement, EndInvolvement
    CONCERNS = "concerns"  # RaiseConcern
    SHIELDING = "shielding"  # Shield, Unshield
    CONSENT = "consent"  # RecordConsent


@dataclass(frozen=True, slots=True)
class System:
    name: str
    scopes: frozenset[Scope]

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(
                f"records system {self.name} may not make {scope.value} changes "
                f"(its scopes: {', '.join(sorted(self.scopes)) or 'none'})"
            )


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(f"system name {name[:60]!r}: use 1-40 lower-case letters, digits, '-' or '_'")
    return name


def parse_scopes(values: list[str]) -> frozenset[Scope]:
    scopes: set[Scope] = set()
    for value in (v.strip() for item in values for v in item.split(",")):
        if not value:
            continue
        try:
            scopes.add(Scope(value))
        except ValueError:
            raise InvalidInput(
                f"--scope: unknown scope {value[:40]!r}; use {', '.join(s.value for s in Scope)}"
            ) from None
    if not scopes:
        raise InvalidInput("--scope: give at least one scope")
    return frozenset(scopes)


def add_system(session: Session, name: str, scopes: frozenset[Scope], fingerprint: str) -> System:
    if session.get(RecordsSystem, check_name(name)) is not None:
        raise InvalidInput(f"records system {name} already exists; revoke it and add it under a new name")
    session.add(
        RecordsSystem(
            name=name,
            fingerprint=fingerprint,
            scopes=",".join(sorted(scopes)),
            added_at=dt.datetime.now(dt.UTC),
        )
    )
    session.flush()
    return System(name, scopes)


def revoke_system(session: Session, name: str) -> None:
    row = session.get(RecordsSystem, name)
    if row is None:
        raise NotFound(f"no records system named {name[:60]!r}")
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)


def system_for(session: Session, fingerprint: str | None) -> System:
    """The registered, unrevoked system whose client certificate has this fingerprint."""
    if fingerprint is None:
        raise Unauthenticated("the records API needs a records system's client certificate")
    row = session.scalar(select(RecordsSystem).where(RecordsSystem.fingerprint == fingerprint))
    if row is None:
        raise Unauthenticated("this certificate is not registered as a records system at this council")
    if row.revoked_at is not None:
        raise Unauthenticated(f"records system {row.name} was revoked; ask the records team")
    return System(row.name, frozenset(Scope(s) for s in row.scopes.split(",") if s))


@dataclass(frozen=True, slots=True)
class SystemEntry:
    name: str
    scopes: str
    added_at: dt.datetime
    revoked_at: dt.datetime | None


def list_systems(session: Session) -> list[SystemEntry]:
    rows = session.scalars(select(RecordsSystem).order_by(RecordsSystem.name))
    return [SystemEntry(r.name, r.scopes, r.added_at, r.revoked_at) for r in rows]
