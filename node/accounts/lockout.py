"""Failed log-ins slow down, then lock for a bounded time (BRIEF.md "Who may search").

The pilot of the system this replaces locked practitioners out for a week and they stopped using it, so a
lock here always ends on its own (15 minutes by default) and the council can lift it at once.

Failures are counted per username *as typed*, whether or not it exists, so the slow-down and the lock behave
the same for unknown usernames and reveal nothing about which usernames are real.

Someone who knows a practitioner's username must not be able to keep them locked out, so the slow-down and
the lock MUST be counted per username *and client source* (the caller's network address): a stranger's
guesses lock only the stranger's source. Guesses spread over many sources MUST still be bounded, so every
source's failures also count towards the account's ceiling (`account_ceiling` within `lock_duration`); once
it is reached, log-ins are refused from every source except those that logged in to the account within
`trusted_for` — the practitioner's own machines — which MUST NOT be held down by it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from whoelse.federation.errors import Unauthenticated


class LoginThrottled(Unauthenticated):
    """A log-in was refused unchecked because of recent failures; `retry_at` says when to try again."""

    def __init__(self, message: str, retry_at: dt.datetime, locked: bool) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.locked = locked


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """Consecutive failed log-ins for one username, and when the last one happened."""

    failures: int = 0
    last_failure_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """After `free_failures` failures each attempt waits 2^k seconds (capped); `lock_after` failures lock.

    A lock lasts `lock_duration` from the last failure. Failures older than `lock_duration` are forgotten, so
    once a lock has run out the count starts again from zero.
    """

    free_failures: int = 3
    max_delay: dt.timedelta = dt.timedelta(seconds=60)
    lock_after: int = 10
    lock_duration: dt.timedelta = dt.timedelta(minutes=15)
    account_ceiling: int = 50  # failures from all sources together: five sources' worth of locks
    trusted_for: dt.timedelta = dt.timedelta(days=90)

    def __post_init__(self) -> None:
        if not 0 <= self.free_failures < self.lock_after:
            raise ValueError("lockout: free_failures must be at least 0 and less than lock_after")
        if self.lock_duration <= dt.timedelta(0) or self.max_delay < dt.timedelta(0):
            raise ValueError("lockout: lock_duration must be positive and max_delay not negative")
        if self.account_ceiling < self.lock_after:
            raise ValueError("lockout: account_ceiling must be at least lock_after")

    def current(self, record: FailureRecord, now: dt.datetime) -> FailureRecord:
        """The record as it stands now: forgotten once `lock_duration` has passed since the last failure."""
        if record.last_failure_at is None or now - record.last_failure_at >= self.lock_duration:
            return FailureRecord()
        return record

    def delay_after(self, failures: int) -> dt.timedelta:
        """How long after the last failure the next attempt must wait (before any lock)."""
        if failures < self.free_failures:
            return dt.timedelta(0)
        exponent = failures - self.free_failures + 1
        # Cap the exponent before computing 2^k so a huge count cannot build a huge integer.
        seconds = 2 ** min(exponent, 32)
        return min(dt.timedelta(seconds=seconds), self.max_delay)

    def refusal(self, record: FailureRecord, now: dt.datetime) -> LoginThrottled | None:
        """The error to raise instead of checking credentials now, or None if an attempt may be made."""
        record = self.current(record, now)
        if record.last_failure_at is None:
            return None
        if record.failures >= self.lock_after:
            until = record.last_failure_at + self.lock_duration
            minutes = max(1, math.ceil((until - now).total_seconds() / 60))
            return LoginThrottled(
                f"log-ins for this username are locked after {record.failures} failed attempts; try again "
                f"in {_plural(minutes, 'minute')}, or ask your council's records team to unlock it now",
                retry_at=until,
                locked=True,
            )
        retry_at = record.last_failure_at + self.delay_after(record.failures)
        if now < retry_at:
            seconds = max(1, math.ceil((retry_at - now).total_seconds()))
            return LoginThrottled(
                f"too many failed log-ins for this username; wait {_plural(seconds, 'second')} and try again",
                retry_at=retry_at,
                locked=False,
            )
        return None

    def ceiling_refusal(self, account: FailureRecord, now: dt.datetime) -> LoginThrottled | None:
        """The error for a source the practitioner has not logged in from lately, once the account's
        failures from all sources reach the ceiling; None otherwise."""
        account = self.current(account, now)
        if account.last_failure_at is None or account.failures < self.account_ceiling:
            return None
        until = account.last_failure_at + self.lock_duration
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        return LoginThrottled(
            f"log-ins for this username from new places are locked after {account.failures} failed attempts; "
            f"try again in {_plural(minutes, 'minute')} from where you usually log in, or ask your council's "
            "records team to unlock it now",
            retry_at=until,
            locked=True,
        )

    def trusts(self, last_success_at: dt.datetime | None, now: dt.datetime) -> bool:
        """Whether a source that last logged in to the account at `last_success_at` is spared the ceiling."""
        return last_success_at is not None and now - last_success_at < self.trusted_for

    def after_failure(self, record: FailureRecord, now: dt.datetime) -> FailureRecord:
        """The record after one more failed attempt at `now`."""
        return FailureRecord(self.current(record, now).failures + 1, now)


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
