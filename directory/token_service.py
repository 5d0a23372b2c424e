"""Match-token evaluation: the directory applies its OPRF secret to blinded match keys for councils, with a
proof, and every call is counted, rate-limited per council and logged (P4: each guess costs a logged,
rate-limited online operation). The directory sees only blinded group elements, never a key or a token.

Keys rotate (docs/rotation.md): `rotate()` makes a new current key and keeps the old one answerable as
"previous" (a TokenRequest names it by key_id) until `retire()` destroys its secret.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from whoelse.directory.keys import KeyDirectory
from whoelse.directory.registry import now_ms
from whoelse.directory.storage import DirectoryDatabase, OprfKeyRow, TokenUsageRow, bump_council_list_version
from whoelse.federation.errors import ConfigError, InvalidInput, NotFound, WhoElseError
from whoelse.federation.oprf import ELEMENT_BYTES, OprfServerKey

log = logging.getLogger(__name__)

CURRENT, PREVIOUS, RETIRED = "current", "previous", "retired"


class RateLimited(WhoElseError):
    """A council asked for more evaluations than its allowance; retry_after_s says when enough is back."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class TokenLimits:
    max_batch: int = 1_000
    per_minute: int = 20_000

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ConfigError("max_batch must be at least 1")
        if self.per_minute < self.max_batch:
            raise ConfigError(
                f"rate limit ({self.per_minute}/minute) must allow at least one full batch ({self.max_batch})"
            )


class TokenBucket:
    """Holds up to `capacity` evaluations and refills at capacity per minute (a minute's burst at most)."""

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity = capacity
        self._level = float(capacity)
        self._at = now

    def take(self, count: int, now: float) -> float:
        """Take count if available and return 0; otherwise take nothing and return seconds to wait."""
        rate = self.capacity / 60.0
        self._level = min(float(self.capacity), self._level + (now - self._at) * rate)
        self._at = now
        if count <= self._level:
            self._level -= count
            return 0.0
        return (count - self._level) / rate


class RateLimiter:
    """One token bucket per council, in memory (a restart gives every council a fresh minute)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, council: str, count: int) -> None:
        """Raise RateLimited (nothing taken) if council may not have count more evaluations now."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(council, TokenBucket(self._per_minute, now))
            wait = bucket.take(count, now)
        if wait > 0:
            retry = math.ceil(wait * 10) / 10
            raise RateLimited(
                f"council {council} is over its match-token limit of {self._per_minute} evaluations a "
                f"minute; retry in {retry:.1f} s",
                retry,
            )


@dataclass(frozen=True, slots=True)
class OprfKeyInfo:
    key_id: str
    public_key: bytes
    state: str  # current, previous or retired
    created_at_ms: int
    retired_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    evaluated: list[bytes]
    proof: bytes
    key_id: str


def _info(row: OprfKeyRow) -> OprfKeyInfo:
    return OprfKeyInfo(row.key_id, bytes(row.public_key), row.state, row.created_at_ms, row.retired_at_ms)


class TokenService:
    """Evaluates blinded match keys for councils under the current or a previous key."""

    def __init__(
        self,
        db: DirectoryDatabase,
        keys: KeyDirectory,
        limits: TokenLimits = TokenLimits(),
        limiter: RateLimiter | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._db = db
        self._keys = keys
        self.limits = limits
        self._limiter = limiter or RateLimiter(limits.per_minute)
        self._clock = clock
        self._secrets: dict[str, OprfServerKey] = {}
        self._lock = threading.Lock()

    def _secret(self, key_id: str) -> OprfServerKey:
        with self._lock:
            key = self._secrets.get(key_id)
            if key is None:
                key = self._secrets[key_id] = self._keys.oprf_key(key_id)
            return key

    def _usable_key(self, key_id: str) -> OprfKeyInfo:
        with self._db.session() as session:
            rows = session.scalars(select(OprfKeyRow).where(OprfKeyRow.state != RETIRED)).all()
        if key_id:
            for row in rows:
                if row.key_id == key_id:
                    return _info(row)
            raise NotFound(
                f"match-token key {key_id[:40]} is retired or unknown; "
                "fetch the council list for the current key"
            )
        current = [row for row in rows if row.state == CURRENT]
        if not current:
            raise ConfigError("the directory has no current match-token key; run `whoelse directory init`")
        return _info(current[-1])

    def evaluate(self, council: str, blinded: Sequence[bytes], key_id: str = "") -> Evaluation:
        """Evaluate a batch for council (already authenticated and checked active) under key_id (empty:
        the current key), with a DLEQ proof. Raises InvalidInput for a bad batch, RateLimited over the
        council's allowance, NotFound for a retired key."""
        if not 1 <= len(blinded) <= self.limits.max_batch:
            raise InvalidInput(
                f"a token request holds 1-{self.limits.max_batch} blinded elements, got {len(blinded)}"
            )
        for index, element in enumerate(blinded):
            if len(element) != ELEMENT_BYTES:
                raise InvalidInput(f"blinded element {index} is {len(element)} bytes, not {ELEMENT_BYTES}")
        info = self._usable_key(key_id)
        self._limiter.take(council, len(blinded))
        evaluated, proof = self._secret(info.key_id).evaluate_batch_with_proof(blinded)
        at = self._clock()
        with self._db.session() as session:
            session.add(TokenUsageRow(council=council, count=len(blinded), key_id=info.key_id, at_ms=at))
        # Who, how many, which key, when: never the blinded or evaluated values.
        log.info("tokens council=%s count=%d key_id=%s at_ms=%d", council, len(blinded), info.key_id, at)
        return Evaluation(evaluated, proof, info.key_id)


# ---- key management (operator commands) ----


def list_keys(db: DirectoryDatabase) -> list[OprfKeyInfo]:
    with db.session() as session:
        return [_info(row) for row in session.scalars(select(OprfKeyRow).order_by(OprfKeyRow.created_at_ms))]


def rotate(db: DirectoryDatabase, keys: KeyDirectory, clock: Callable[[], int] = now_ms) -> OprfKeyInfo:
    """Make a new current key; the old current key becomes previous and stays answerable until retired.
    Also used by `init` for the first key."""
    key = OprfServerKey.generate()
    keys.write_oprf_key(key)
    with db.session() as session:
        for row in session.scalars(select(OprfKeyRow).where(OprfKeyRow.state == CURRENT)):
            row.state = PREVIOUS
        created = clock()
        session.add(
            OprfKeyRow(key_id=key.key_id, public_key=key.public_key, state=CURRENT, created_at_ms=created)
        )
        bump_council_list_version(session)
    log.info("match-token key rotated: current key is now %s", key.key_id)
    return OprfKeyInfo(key.key_id, key.public_key, CURRENT, created)


def retire(
    db: DirectoryDatabase, keys: KeyDirectory, key_id: str, clock: Callable[[], int] = now_ms
) -> OprfKeyInfo:
    """Stop answering for a previous key and destroy its secret. The current key cannot be retired."""
    with db.session() as session:
        row = session.get(OprfKeyRow, key_id)
        if row is None:
            raise NotFound(f"match-token key {key_id[:40]} is unknown")
        if row.state == CURRENT:
            raise InvalidInput(f"match-token key {key_id} is the current key; rotate first, then retire it")
        if row.state == PREVIOUS:
            row.state = RETIRED
            row.retired_at_ms = clock()
            bump_council_list_version(session)
        info = _info(row)
    keys.delete_oprf_key(key_id)
    log.info("match-token key %s retired and its secret destroyed", key_id)
    return info
