"""The timing benchmark's attacker (harness/bench_timing.py classify): the best threshold on the data it is
scored on, by balanced accuracy, so a coin toss scores 0.5 whatever the share of holders."""

from __future__ import annotations

import pytest

from whoelse.federation.errors import InvalidInput
from whoelse.harness.bench_timing import classify


def test_separable_answer_times_name_every_holder() -> None:
    samples = [(1.0, False), (2.0, False), (2.5, False), (9.0, True), (10.0, True)]
    assert classify(samples) == {"balanced_accuracy": 1.0, "threshold_ms": 2.5, "accuracy": 1.0}


def test_answer_times_that_say_nothing_score_a_coin_toss() -> None:
    # Holders and non-holders take the same times: no threshold beats always guessing "not a holder".
    samples = [(float(ms), held) for ms in range(10) for held in (False, True)]
    assert classify(samples)["balanced_accuracy"] <= 0.55


def test_without_both_kinds_of_answer_there_is_nothing_to_classify() -> None:
    with pytest.raises(InvalidInput, match="need holders and non-holders"):
        classify([(1.0, False), (2.0, False)])
