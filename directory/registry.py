"""The registry of councils: who may take part in the federation, with which keys, at which endpoint.

A council joins by request (`Directory.Join`, over mutual TLS as itself) and becomes active only when an
operator approves it (`whoelse directory approve`). Operators suspend and revoke; revocation is final (a
revoked council's keys are never trusted again). Every change bumps the council-list version, so nodes that
cache the signed list can refuse an older one.

State changes:
    (none) --join--> pending --approve--> active --suspend--> suspended --approve--> active
    active --join with different keys--> pending          any --revoke--> revoked (final)

Certificates: each council's TLS certificate is pinned by its SHA-256 fingerprint, and every call to the
directory MUST come with the pinned one (`check_certificate`): a second certificate the CA issued for a
registered council's name is refused, naming why. Rotation is a registry operation
(`rotate_certificate`, which revokes the old one); any single certificate can be revoked
(`revoke_certificate`), e.g. an auditor's, and is then refused for good.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from whoelse.directory.storage import (
    CouncilRow,
    DirectoryDatabase,
    OprfKeyRow,
    RevokedCertificateRow,
    bump_council_list_version,
    council_list_version,
    get_setting,
    set_setting,
)
from whoelse.federation.council_list import CouncilEntry, CouncilList, CouncilStatus
from whoelse.federation.errors import InvalidInput, NotFound, PermissionDenied
from whoelse.federation.sealing import KEY_BYTES as SEALING_KEY_BYTES
from whoelse.federation.signing import VERIFY_KEY_BYTES

log = logging.getLogger(__name__)

ONS_CODE = re.compile(r"[EWSN]\d{8}")
"""An upper-tier local authority's ONS code, e.g. E09000033."""
_ENDPOINT = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})|\[[0-9A-Fa-f:.]+\]):\d{1,5}")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


DIRECTORY_CERTIFICATE = "directory_certificate_fingerprint"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def check_code(code: str) -> str:
    if not ONS_CODE.fullmatch(code):
        raise InvalidInput(f"council code {code[:20]!r} is not an ONS code like E09000033")
    return code


def _check_entry(entry: CouncilEntry) -> None:
    check_code(entry.code)
    if not 1 <= len(entry.name.strip()) <= 200:
        raise InvalidInput(f"council {entry.code}: name must be 1-200 characters")
    if not _ENDPOINT.fullmatch(entry.endpoint) or not 0 < int(entry.endpoint.rsplit(":", 1)[1]) < 65536:
        raise InvalidInput(f"council {entry.code}: endpoint {entry.endpoint[:80]!r} is not HOST:PORT")
    if len(entry.signing_key) != VERIFY_KEY_BYTES:
        raise InvalidInput(f"council {entry.code}: signing key must be {VERIFY_KEY_BYTES} bytes (Ed25519)")
    if len(entry.sealing_key) != SEALING_KEY_BYTES:
        raise InvalidInput(f"council {entry.code}: sealing key must be {SEALING_KEY_BYTES} bytes (X25519)")
    if not _FINGERPRINT.fullmatch(entry.certificate_fingerprint):
        raise InvalidInput(f"council {entry.code}: certificate fingerprint must be 64 lowercase hex digits")


def _entry(row: CouncilRow) -> CouncilEntry:
    return CouncilEntry(
        code=row.code,
        name=row.name,
        endpoint=row.endpoint,
        signing_key=bytes(row.signing_key),
        sealing_key=bytes(row.sealing_key),
        certificate_fingerprint=row.certificate_fingerprint,
        status=CouncilStatus(row.status),
    )


def denial(code: str, entry: CouncilEntry | None) -> str:
    """Why a council may not take part, in the words the caller sees."""
    if entry is None:
        return f"council {code} is not registered with the directory"
    if entry.status is CouncilStatus.PENDING:
        return f"council {code} is pending approval by the directory operator"
    return f"council {code} is {entry.status.value}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The registry at one council-list version: every council by code, and the revoked certificates."""

    version: int
    councils: Mapping[str, CouncilEntry]
    revoked: frozenset[str] = frozenset()

    def check_certificate(self, name: str, fingerprint: str) -> None:
        """PermissionDenied unless the certificate (common name, SHA-256 fingerprint) may call: not revoked,
        and, for a registered council, the one pinned for it."""
        if fingerprint in self.revoked:
            raise PermissionDenied(f"certificate {fingerprint[:16]}… for {name} has been revoked")
        entry = self.councils.get(name)
        if entry is not None and entry.certificate_fingerprint != fingerprint:
            raise PermissionDenied(
                f"certificate {fingerprint[:16]}… is not the one registered for council {name} "
                f"({entry.certificate_fingerprint[:16]}…): a second certificate for a registered council is "
                f"refused; the directory operator registers a new one with `whoelse directory certificate "
                f"rotate {name} --cert FILE`"
            )

    def require_active(self, code: str) -> CouncilEntry:
        entry = self.councils.get(code)
        if entry is None or not entry.active:
            raise PermissionDenied(denial(code, entry))
        return entry


class Registry:
    """The councils known to the directory, stored in its database."""

    def __init__(self, db: DirectoryDatabase, clock: Callable[[], int] = now_ms) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = Snapshot(-1, {})

    # ---- reading ----

    def snapshot(self) -> Snapshot:
        """Every council as of now. Re-read only when the version changed (one cheap query per call), so a
        suspension made with the CLI applies to the very next request."""
        with self._db.session() as session:
            version = council_list_version(session)
            if version == self._snapshot.version:
                return self._snapshot
            rows = session.scalars(select(CouncilRow)).all()
            revoked = frozenset(session.scalars(select(RevokedCertificateRow.fingerprint)).all())
            snapshot = Snapshot(version, {row.code: _entry(row) for row in rows}, revoked)
        with self._lock:
            if snapshot.version >= self._snapshot.version:
                self._snapshot = snapshot
        return snapshot

    def get(self, code: str) -> CouncilEntry | None:
        return self.snapshot().councils.get(code)

    def entries(self) -> list[CouncilEntry]:
        """Every council, ordered by code."""
        return sorted(self.snapshot().councils.values(), key=lambda e: e.code)

    def require_active(self, code: str) -> CouncilEntry:
        """The council's entry if it is active; PermissionDenied("council E06000001 is revoked") if not."""
        return self.snapshot().require_active(code)

    def use_directory_certificate(self, fingerprint: str) -> None:
        """Name the directory's own certificate in the signed list (nodes accept its calls only); a new one
        gets a new list version, so every node fetches it."""
        with self._db.session() as session:
            if get_setting(session, DIRECTORY_CERTIFICATE) != fingerprint:
                set_setting(session, DIRECTORY_CERTIFICATE, fingerprint)
                bump_council_list_version(session)

    def check_certificate(self, name: str, fingerprint: str) -> None:
        """See Snapshot.check_certificate (as of now)."""
        self.snapshot().check_certificate(name, fingerprint)

    def council_list_version(self) -> int:
        """The version of the list nodes cache (bumped by every change to a council or a match-token key)."""
        with self._db.session() as session:
            return council_list_version(session)

    def council_list(self) -> CouncilList:
        """The list nodes cache: active, suspended and revoked councils (never pending ones), and the
        match-token keys, all read in one transaction so the version matches the content."""
        with self._db.session() as session:
            version = council_list_version(session)
            rows = session.scalars(
                select(CouncilRow)
                .where(CouncilRow.status != CouncilStatus.PENDING.value)
                .order_by(CouncilRow.code)
            ).all()
            keys = session.scalars(select(OprfKeyRow).order_by(OprfKeyRow.created_at_ms)).all()
            directory_fingerprint = get_setting(session, DIRECTORY_CERTIFICATE)
        current = [key for key in keys if key.state == "current"]
        return CouncilList(
            version=version,
            issued_at_ms=self._clock(),
            councils=tuple(_entry(row) for row in rows),
            oprf_key_id=current[-1].key_id if current else "",
            oprf_public_key=bytes(current[-1].public_key) if current else b"",
            previous_oprf_key_ids=tuple(key.key_id for key in keys if key.state == "previous"),
            directory_certificate_fingerprint=directory_fingerprint or "",
        )

    # ---- changing ----

    def join(
        self,
        caller: str,
        code: str,
        name: str,
        endpoint: str,
        signing_key: bytes,
        sealing_key: bytes,
        certificate_fingerprint: str,
    ) -> CouncilStatus:
        """A council asks to join, or re-joins with new details. The caller's certificate must name the
        council. New: pending. Same keys: the status is kept and endpoint/certificate updated. Different
        keys on an active council: back to pending until approved again. Suspended or revoked: refused.
        A council in the signed list keeps its listed name: a new name is only logged, for the operator to
        approve with `whoelse directory add` (the name is what practitioners see an answer come from)."""
        if caller != code:
            raise PermissionDenied(
                f"a council may only join as itself: certificate names {caller}, not {code}"
            )
        wanted = CouncilEntry(
            code,
            name.strip(),
            endpoint,
            signing_key,
            sealing_key,
            certificate_fingerprint,
            CouncilStatus.PENDING,
        )
        _check_entry(wanted)
        with self._db.session() as session:
            row = session.get(CouncilRow, code)
            if row is None:
                self._insert(session, wanted)
                return CouncilStatus.PENDING
            held = _entry(row)
            if held.status in (CouncilStatus.SUSPENDED, CouncilStatus.REVOKED):
                raise PermissionDenied(denial(code, held))
            Snapshot(0, {code: held}).check_certificate(code, certificate_fingerprint)
            same_keys = (held.signing_key, held.sealing_key) == (signing_key, sealing_key)
            updated = replace(wanted, status=held.status if same_keys else CouncilStatus.PENDING)
            if held.status is not CouncilStatus.PENDING and updated.name != held.name:
                log.warning(
                    "council %s asked to be renamed %r (listed as %r): not renamed; the operator approves a "
                    "new name with `whoelse directory add %s --name …`",
                    code,
                    updated.name,
                    held.name,
                    code,
                )
                updated = replace(updated, name=held.name)
            if updated != held:
                self._update(session, row, updated)
            return updated.status

    def register_active(
        self,
        code: str,
        name: str,
        endpoint: str,
        signing_key: bytes,
        sealing_key: bytes,
        certificate_fingerprint: str,
    ) -> CouncilEntry:
        """Enrol (or update) a council as active without the Join round trip: for demos, tests and operators
        who checked the council's keys out of band. A revoked council cannot be re-enrolled."""
        entry = CouncilEntry(
            code,
            name.strip(),
            endpoint,
            signing_key,
            sealing_key,
            certificate_fingerprint,
            CouncilStatus.ACTIVE,
        )
        _check_entry(entry)
        with self._db.session() as session:
            row = session.get(CouncilRow, code)
            if row is None or _entry(row) != entry:
                self._refuse_revoked(session, certificate_fingerprint)
            if row is None:
                self._insert(session, entry)
            elif row.status == CouncilStatus.REVOKED.value:
                raise PermissionDenied(f"council {code} is revoked; revocation is final")
            elif _entry(row) != entry:
                if row.certificate_fingerprint != certificate_fingerprint:
                    self._revoke(session, row.certificate_fingerprint, code, "replaced")
                self._update(session, row, entry)
        return entry

    def rotate_certificate(self, code: str, certificate_fingerprint: str) -> CouncilEntry:
        """Pin a council's new certificate and revoke the one it replaces (the operator checked the new one
        out of band). A revoked certificate cannot be pinned again."""
        if not _FINGERPRINT.fullmatch(certificate_fingerprint):
            raise InvalidInput("certificate fingerprint must be 64 lowercase hex digits")
        with self._db.session() as session:
            row = session.get(CouncilRow, code)
            if row is None:
                raise NotFound(f"council {code} is not registered with the directory")
            held = _entry(row)
            if held.certificate_fingerprint == certificate_fingerprint:
                return held
            self._refuse_revoked(session, certificate_fingerprint)
            self._revoke(session, held.certificate_fingerprint, code, "replaced by a rotation")
            updated = replace(held, certificate_fingerprint=certificate_fingerprint)
            self._update(session, row, updated)
            return updated

    def revoke_certificate(self, fingerprint: str, name: str, reason: str) -> bool:
        """Refuse one certificate for good; False if it was already revoked. A council whose pinned
        certificate is revoked cannot call until the operator rotates it."""
        if not _FINGERPRINT.fullmatch(fingerprint):
            raise InvalidInput("certificate fingerprint must be 64 lowercase hex digits")
        with self._db.session() as session:
            if session.get(RevokedCertificateRow, fingerprint) is not None:
                return False
            self._revoke(session, fingerprint, name, reason.strip() or "revoked by the operator")
            bump_council_list_version(session)  # the registry snapshot (and its revoked set) is re-read
            return True

    def _refuse_revoked(self, session: Session, fingerprint: str) -> None:
        if session.get(RevokedCertificateRow, fingerprint) is not None:
            raise PermissionDenied(
                f"certificate {fingerprint[:16]}… has been revoked; it cannot be registered"
            )

    def _revoke(self, session: Session, fingerprint: str, name: str, reason: str) -> None:
        session.add(
            RevokedCertificateRow(
                fingerprint=fingerprint, name=name[:64], reason=reason[:500], revoked_at_ms=self._clock()
            )
        )

    def approve(self, code: str) -> CouncilEntry:
        """Pending or suspended → active. Revocation is final."""
        return self._set_status(
            code, CouncilStatus.ACTIVE, allowed_from=(CouncilStatus.PENDING, CouncilStatus.SUSPENDED)
        )

    def suspend(self, code: str) -> CouncilEntry:
        """Active or pending → suspended: its queries and answers are refused until approved again."""
        return self._set_status(
            code, CouncilStatus.SUSPENDED, allowed_from=(CouncilStatus.ACTIVE, CouncilStatus.PENDING)
        )

    def revoke(self, code: str) -> CouncilEntry:
        """Any state → revoked, for good (e.g. its keys were compromised)."""
        return self._set_status(
            code,
            CouncilStatus.REVOKED,
            allowed_from=(CouncilStatus.PENDING, CouncilStatus.ACTIVE, CouncilStatus.SUSPENDED),
        )

    def _set_status(
        self, code: str, status: CouncilStatus, allowed_from: tuple[CouncilStatus, ...]
    ) -> CouncilEntry:
        with self._db.session() as session:
            row = session.get(CouncilRow, code)
            if row is None:
                raise NotFound(f"council {code} is not registered with the directory")
            held = _entry(row)
            if held.status is status:
                return held  # already so: no change, no new version
            if held.status not in allowed_from:
                raise InvalidInput(f"council {code} is {held.status.value}; it cannot become {status.value}")
            updated = replace(held, status=status)
            self._update(session, row, updated)
            return updated

    def _insert(self, session: Session, entry: CouncilEntry) -> None:
        at = self._clock()
        session.add(
            CouncilRow(
                code=entry.code,
                name=entry.name,
                endpoint=entry.endpoint,
                signing_key=entry.signing_key,
                sealing_key=entry.sealing_key,
                certificate_fingerprint=entry.certificate_fingerprint,
                status=entry.status.value,
                created_at_ms=at,
                updated_at_ms=at,
            )
        )
        bump_council_list_version(session)

    def _update(self, session: Session, row: CouncilRow, entry: CouncilEntry) -> None:
        row.name = entry.name
        row.endpoint = entry.endpoint
        row.signing_key = entry.signing_key
        row.sealing_key = entry.sealing_key
        row.certificate_fingerprint = entry.certificate_fingerprint
        row.status = entry.status.value
        row.updated_at_ms = self._clock()
        bump_council_list_version(session)
