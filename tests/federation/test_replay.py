"""The replay cache: each query is accepted once, forgotten only after it could no longer pass freshness."""

from __future__ import annotations

import threading

import pytest

from whoelse.federation.errors import Refused, Unavailable
from whoelse.federation.replay import DEFAULT_WINDOW_MS, ReplayCache

NOW = 1_750_000_000_000
NONCE = bytes(16)


def test_a_query_is_accepted_once() -> None:
    cache = ReplayCache()
    cache.check_and_remember("q1", NONCE, NOW, NOW)
    with pytest.raises(Refused, match="replayed query q1"):
        cache.check_and_remember("q1", NONCE, NOW, NOW + 1_000)


def test_a_used_query_id_is_refused_even_with_a_fresh_nonce() -> None:
    cache = ReplayCache()
    cache.check_and_remember("q1", NONCE, NOW, NOW)
    with pytest.raises(Refused, match="replayed query"):
        cache.check_and_remember("q1", b"\x01" * 16, NOW, NOW)


def test_entries_expire_after_the_window_and_an_expired_query_is_still_refused() -> None:
    cache = ReplayCache(window_ms=240_000)
    cache.check_and_remember("q1", NONCE, NOW, NOW)
    cache.check_and_remember("q2", NONCE, NOW + 200_000, NOW + 200_000)
    cache.check_and_remember("q3", NONCE, NOW + 241_000, NOW + 241_000)
    assert cache.size == 2  # q1 forgotten
    with pytest.raises(Refused, match="before the replay window"):
        cache.check_and_remember("q1", NONCE, NOW, NOW + 241_000)


def test_there_is_no_gap_between_forgetting_and_refusing_as_too_old() -> None:
    cache = ReplayCache(window_ms=1_000)
    cache.check_and_remember("q", NONCE, NOW, NOW)
    for now in range(NOW, NOW + 3_000, 97):
        with pytest.raises(Refused, match="replayed query"):
            cache.check_and_remember("q", NONCE, NOW, now)


def test_a_query_from_ahead_of_the_clock_is_kept_until_its_own_window_ends() -> None:
    cache = ReplayCache(window_ms=1_000)
    cache.check_and_remember("q", NONCE, NOW + 500, NOW)
    with pytest.raises(Refused, match="already received"):
        cache.check_and_remember("q", NONCE, NOW + 500, NOW + 1_400)


def test_a_full_cache_fails_closed_and_frees_room_as_entries_expire() -> None:
    cache = ReplayCache(window_ms=1_000, max_entries=2)
    cache.check_and_remember("a", NONCE, NOW, NOW)
    cache.check_and_remember("b", NONCE, NOW, NOW)
    with pytest.raises(Unavailable, match="full"):
        cache.check_and_remember("c", NONCE, NOW, NOW)
    cache.check_and_remember("c", NONCE, NOW + 1_001, NOW + 1_001)


def test_concurrent_deliveries_of_one_query_admit_exactly_one() -> None:
    cache = ReplayCache()
    accepted: list[int] = []
    barrier = threading.Barrier(16)

    def deliver(worker: int) -> None:
        barrier.wait()
        try:
            cache.check_and_remember("same", NONCE, NOW, NOW)
            accepted.append(worker)
        except Refused:
            pass

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 1


def test_defaults_are_twice_the_freshness_window() -> None:
    assert ReplayCache().window_ms == DEFAULT_WINDOW_MS == 240_000
    with pytest.raises(ValueError):
        ReplayCache(window_ms=0)
