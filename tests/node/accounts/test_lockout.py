"""The slow-down and bounded lock policy on its own (the service tests drive it through log-ins)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.node.accounts import START
from whoelse.node.accounts.lockout import FailureRecord, LockoutPolicy

POLICY = LockoutPolicy()


def fail(times: int, at: dt.datetime = START) -> FailureRecord:
    record = FailureRecord()
    for _ in range(times):
        record = POLICY.after_failure(record, at)
    return record


def test_first_three_failures_need_no_wait_then_waits_double_up_to_a_cap() -> None:
    delays = [POLICY.delay_after(n).total_seconds() for n in range(12)]
    assert delays == [0, 0, 0, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert POLICY.delay_after(10**9) == dt.timedelta(seconds=60)


def test_attempt_during_the_wait_is_refused_with_the_time_left() -> None:
    record = fail(4)  # the next attempt must wait 4 s
    refusal = POLICY.refusal(record, START + dt.timedelta(seconds=1))
    assert refusal is not None and not refusal.locked
    assert str(refusal) == "too many failed log-ins for this username; wait 3 seconds and try again"
    assert POLICY.refusal(record, START + dt.timedelta(seconds=4)) is None


def test_ten_failures_lock_for_fifteen_minutes_then_forget() -> None:
    record = fail(10)
    refusal = POLICY.refusal(record, START + dt.timedelta(minutes=14, seconds=59))
    assert refusal is not None and refusal.locked
    assert refusal.retry_at == START + dt.timedelta(minutes=15)
    assert "unlock it now" in str(refusal)
    later = START + dt.timedelta(minutes=15)
    assert POLICY.refusal(record, later) is None
    assert POLICY.after_failure(record, later).failures == 1


@pytest.mark.parametrize(
    "kwargs", [{"free_failures": 10, "lock_after": 10}, {"lock_duration": dt.timedelta(0)}]
)
def test_nonsense_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="lockout"):
        LockoutPolicy(**kwargs)  # type: ignore[arg-type]
