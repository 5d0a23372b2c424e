"""The directory-signed, versioned list of councils and their keys, and the on-disk cache a node verifies
peers from, so that it keeps working while the directory is down.

What is signed (Ed25519, federation/signing.py, context "whoelse/v1/council-list") is the canonical JSON of
the list's fields (`CouncilList.signed_fields()`), rebuilt from the protobuf bytes on both sides, as tree
heads are (federation/merkle.py); the wire carries the serialised `CouncilList` and the signature
(`SignedCouncilList`). A node pins the directory's verify key at enrolment (a file of 64 hex digits written by
`whoelse directory init`) and accepts a list only if

- its signature verifies under the pinned key, and
- its version is not lower than the version it already holds (a directory, or anyone replaying an old signed
  list, cannot roll a node back to a list in which a revoked council was still active).

Only councils with status "active" may be queried or answered; suspended and revoked councils stay in the
list, with their status, so a node can say why it refuses them.
"""

from __future__ import annotations

import base64
import enum
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError

from whoelse.federation import closed_sets
from whoelse.federation.errors import ConfigError, InvalidInput, NotFound, Refused, Unavailable
from whoelse.federation.signing import VERIFY_KEY_BYTES, SigningKey, verify
from whoelse.v1 import federation_pb2

log = logging.getLogger(__name__)

COUNCIL_LIST_CONTEXT = "whoelse/v1/council-list"


class CouncilStatus(enum.StrEnum):
    """Where a council stands in the registry. Only ACTIVE councils take part in searches."""

    PENDING = "pending"  # asked to join; an operator has not approved it yet (never in the signed list)
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class CouncilEntry:
    code: str
    name: str
    endpoint: str
    signing_key: bytes  # Ed25519 verify key
    sealing_key: bytes  # X25519 public key
    certificate_fingerprint: str  # SHA-256 of the council's TLS certificate (hex)
    status: CouncilStatus

    @property
    def active(self) -> bool:
        return self.status is CouncilStatus.ACTIVE

    def signed_fields(self) -> Mapping[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "endpoint": self.endpoint,
            "signing_key": self.signing_key,
            "sealing_key": self.sealing_key,
            "certificate_fingerprint": self.certificate_fingerprint,
            "status": self.status.value,
        }


@dataclass(frozen=True, slots=True)
class CouncilList:
    version: int
    issued_at_ms: int
    councils: tuple[CouncilEntry, ...]
    oprf_key_id: str
    oprf_public_key: bytes
    previous_oprf_key_ids: tuple[str, ...] = ()
    directory_certificate_fingerprint: str = ""  # the one certificate nodes accept the directory's calls from
    _by_code: dict[str, CouncilEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Looked up for every answer and every delivery: an index, not a scan of 153 entries.
        object.__setattr__(self, "_by_code", {entry.code: entry for entry in reversed(self.councils)})

    def signed_fields(self) -> Mapping[str, Any]:
        """Everything the directory's signature covers."""
        return {
            "version": self.version,
            "issued_at_ms": self.issued_at_ms,
            "councils": [entry.signed_fields() for entry in self.councils],
            "oprf_key_id": self.oprf_key_id,
            "oprf_public_key": self.oprf_public_key,
            "previous_oprf_key_ids": list(self.previous_oprf_key_ids),
            # Only when set, so lists signed before it existed still verify.
            **(
                {"directory_certificate_fingerprint": self.directory_certificate_fingerprint}
                if self.directory_certificate_fingerprint
                else {}
            ),
        }

    def find(self, code: str) -> CouncilEntry | None:
        return self._by_code.get(code)

    def entry(self, code: str) -> CouncilEntry:
        """The entry for code, whatever its status; NotFound if the list does not name it."""
        found = self.find(code)
        if found is None:
            raise NotFound(f"council {code} is not in the directory's council list (version {self.version})")
        return found

    def require_active(self, code: str) -> CouncilEntry:
        """The entry for code if the council is active; otherwise Refused saying why."""
        found = self.find(code)
        if found is None:
            raise Refused(f"council {code} is unknown to the federation")
        if not found.active:
            raise Refused(f"council {code} is {found.status.value}")
        return found

    def active(self) -> tuple[CouncilEntry, ...]:
        return tuple(entry for entry in self.councils if entry.active)


# ---- protobuf <-> domain ----


def to_proto(council_list: CouncilList) -> federation_pb2.CouncilList:
    return federation_pb2.CouncilList(
        version=council_list.version,
        issued_at_ms=council_list.issued_at_ms,
        councils=[
            federation_pb2.CouncilEntry(
                code=e.code,
                name=e.name,
                endpoint=e.endpoint,
                signing_key=e.signing_key,
                sealing_key=e.sealing_key,
                certificate_fingerprint=e.certificate_fingerprint,
                **closed_sets.COUNCIL_STATUS.fields(e.status.value),
            )
            for e in council_list.councils
        ],
        oprf_key_id=council_list.oprf_key_id,
        oprf_public_key=council_list.oprf_public_key,
        previous_oprf_key_ids=list(council_list.previous_oprf_key_ids),
        directory_certificate_fingerprint=council_list.directory_certificate_fingerprint,
    )


def from_proto(message: federation_pb2.CouncilList) -> CouncilList:
    """Domain value from the wire; Refused if an entry's status is not one a signed list may carry."""
    entries = []
    for e in message.councils:
        try:
            written = closed_sets.COUNCIL_STATUS.read(e)
            status = CouncilStatus(written)
        except (ValueError, InvalidInput):
            raise Refused(f"council list entry {e.code} has an unknown status") from None
        entries.append(
            CouncilEntry(
                code=e.code,
                name=e.name,
                endpoint=e.endpoint,
                signing_key=bytes(e.signing_key),
                sealing_key=bytes(e.sealing_key),
                certificate_fingerprint=e.certificate_fingerprint,
                status=status,
            )
        )
    return CouncilList(
        version=message.version,
        issued_at_ms=message.issued_at_ms,
        councils=tuple(entries),
        oprf_key_id=message.oprf_key_id,
        oprf_public_key=bytes(message.oprf_public_key),
        previous_oprf_key_ids=tuple(message.previous_oprf_key_ids),
        directory_certificate_fingerprint=message.directory_certificate_fingerprint,
    )


# ---- signing and verification ----


def sign(council_list: CouncilList, key: SigningKey) -> federation_pb2.SignedCouncilList:
    """The directory signs a list for the wire."""
    return federation_pb2.SignedCouncilList(
        council_list=to_proto(council_list).SerializeToString(deterministic=True),
        signature=key.sign(council_list.signed_fields(), COUNCIL_LIST_CONTEXT),
    )


def verify_signed(signed: federation_pb2.SignedCouncilList, verify_key: bytes) -> CouncilList:
    """Parse and check a signed list against the directory's pinned verify key; Refused if it does not
    verify (tampered, or signed by someone else)."""
    message = federation_pb2.CouncilList()
    try:
        message.ParseFromString(signed.council_list)
    except DecodeError as exc:
        raise Refused("council list is not a valid CouncilList message") from exc
    council_list = from_proto(message)
    try:
        verify(verify_key, council_list.signed_fields(), COUNCIL_LIST_CONTEXT, bytes(signed.signature))
    except Refused as exc:
        raise Refused(f"council list version {council_list.version} is not signed by the directory") from exc
    return council_list


def load_verify_key(path: Path | str) -> bytes:
    """Read the directory's pinned verify key: a file holding 64 hex digits (`directory.pub`)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"directory verify key: cannot read {path}") from exc
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise ConfigError(f"directory verify key: {path} must hold {VERIFY_KEY_BYTES} bytes as 64 hex digits")
    return bytes.fromhex(text)


def write_verify_key(path: Path | str, verify_key: bytes) -> None:
    Path(path).write_text(verify_key.hex() + "\n", encoding="ascii")


# ---- the node's cache ----

Fetcher = Callable[[int], federation_pb2.SignedCouncilList]
"""Asks the directory for its current signed list, given the version we hold; raises Unavailable if it
cannot be reached."""


class CouncilListCache:
    """The last verified council list, kept on disk at path, verified again whenever it is read back.

    Thread-safe. A node looks peers up here on every federated message; it refreshes from the directory
    periodically (`refresh`), and when the directory is down it keeps answering from the cached list."""

    def __init__(self, path: Path | str, verify_key: bytes) -> None:
        if len(verify_key) != VERIFY_KEY_BYTES:
            raise ConfigError(f"directory verify key must be {VERIFY_KEY_BYTES} bytes, got {len(verify_key)}")
        self._path = Path(path)
        self._verify_key = bytes(verify_key)
        self._lock = threading.Lock()
        self._held_bytes = b""  # the signed list behind _current as fetched, to skip re-verifying it
        self._current: CouncilList | None = self._load()

    def _load(self) -> CouncilList | None:
        if not self._path.exists():
            return None
        try:
            stored = json.loads(self._path.read_text(encoding="utf-8"))
            signed = federation_pb2.SignedCouncilList(
                council_list=base64.b64decode(stored["council_list"], validate=True),
                signature=base64.b64decode(stored["signature"], validate=True),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"council list cache {self._path} is unreadable; delete it to refetch") from exc
        # The file is re-verified: a list edited on disk is refused like one tampered with on the wire.
        return verify_signed(signed, self._verify_key)

    def _store(self, signed: federation_pb2.SignedCouncilList) -> None:
        document = {
            "council_list": base64.b64encode(signed.council_list).decode("ascii"),
            "signature": base64.b64encode(signed.signature).decode("ascii"),
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_name(self._path.name + ".tmp")
        temporary.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temporary, self._path)  # atomic: a crash leaves the old list or the new one, never half

    @property
    def current(self) -> CouncilList | None:
        """The cached list, or None before the first successful fetch."""
        return self._current

    @property
    def version(self) -> int:
        return self._current.version if self._current else 0

    def require(self) -> CouncilList:
        """The cached list; Unavailable if there is none yet (the node has never reached the directory)."""
        current = self._current
        if current is None:
            raise Unavailable("no council list yet: the directory has not been reached since enrolment")
        return current

    def update(self, signed: federation_pb2.SignedCouncilList) -> CouncilList:
        """Verify a signed list and keep it if it is newer; returns the list now held.

        Refused if the signature does not verify, or if its version is lower than the cached one (rollback).
        A list with the same version as the cached one changes nothing."""
        received = signed.SerializeToString(deterministic=True)
        with self._lock:
            if self._current is not None and received == self._held_bytes:
                return self._current  # the very bytes verified last time: nothing new to check or store
        candidate = verify_signed(signed, self._verify_key)
        with self._lock:
            held = self._current
            if held is not None and candidate.version < held.version:
                raise Refused(
                    f"council list version {candidate.version} is older than the cached version "
                    f"{held.version}; refusing a rollback"
                )
            if held is not None and candidate.version == held.version:
                self._held_bytes = received
                return held
            self._store(signed)
            self._current = candidate
            self._held_bytes = received
            log.info(
                "council list updated to version %d (%d councils)", candidate.version, len(candidate.councils)
            )
            return candidate

    def refresh(self, fetch: Fetcher) -> CouncilList:
        """Fetch from the directory and update; if the directory is unreachable, answer from the cache
        (Unavailable only when there is no cached list at all)."""
        try:
            signed = fetch(self.version)
        except Unavailable:
            if self._current is None:
                raise
            log.warning("directory unreachable; using cached council list version %d", self._current.version)
            return self._current
        return self.update(signed)

    # Look-ups a node makes for each federated message.

    def entry(self, code: str) -> CouncilEntry:
        return self.require().entry(code)

    def status(self, code: str) -> CouncilStatus | None:
        """The council's status, or None if the list does not name it."""
        found = self.require().find(code)
        return found.status if found else None

    def require_active(self, code: str) -> CouncilEntry:
        """The council's entry if active; Refused("council X is revoked") etc. otherwise."""
        return self.require().require_active(code)

    def signing_key(self, code: str) -> bytes:
        """The Ed25519 verify key of an active council (to check its signed queries and answers)."""
        return self.require_active(code).signing_key

    def sealing_key(self, code: str) -> bytes:
        """The X25519 public key of an active council (to seal a query or an answer to it)."""
        return self.require_active(code).sealing_key
