"""The calibration benchmark's arithmetic and the census-style data set's adaptation (issue #8)."""

from __future__ import annotations

from collections import Counter

from whoelse.harness.bench_calibration import FIELDS, calibration, em
from whoelse.harness.bench_census import YEAR_SHIFT, dataset


def test_calibration_bins_candidates_by_score_with_the_share_that_is_the_child() -> None:
    no: tuple[str, ...] = ()
    rows = [(no, 1.0, False), (no, 1.5, False), (no, 18.2, True), (no, 19.9, True), (no, 18.0, False)]
    assert calibration(rows) == [
        {"score_from": 0.0, "candidates": 2, "true_match_rate": 0.0},
        {"score_from": 18.0, "candidates": 3, "true_match_rate": 0.6667},
    ]


def test_em_finds_agreement_likelier_for_the_same_child_without_seeing_the_truth() -> None:
    agree = ("exact", "exact", "exact", "agree", "exact")
    differ = ("different", "different", "different", "disagree", "different")
    mixed = ("different", "exact", "exact", "agree", "exact")  # a twin: only the forename differs
    share, estimated = em(Counter({agree: 90, differ: 60, mixed: 10}), rounds=50)
    forename = dict(zip(FIELDS, estimated, strict=True))["forename"]
    m_exact, u_exact = forename["exact"]
    m_different, u_different = forename["different"]
    assert m_exact > u_exact and m_different < u_different
    assert 0.4 < share < 0.7


def test_census_children_keep_their_households_and_move_on_six_years() -> None:
    held, searched = dataset()
    assert len(held) > 1900 and 1900 < len(searched) <= len(held)
    assert {c.sex for c in held} <= {"F", "M", "U"}
    entities = {c.entity for c in held}
    assert all(c.entity in entities for c in searched)  # every search is for a child the council holds
    years = sorted(int(c.date_of_birth[:4]) for c in held if c.date_of_birth[:4].isdigit())
    in_range = [y for y in years if 2002 + YEAR_SHIFT <= y <= 2020 + YEAR_SHIFT]
    assert len(in_range) > 0.95 * len(years)  # the rest carry the census's own wrong digits
    by_household = Counter(c.postcode for c in held)
    assert max(by_household.values()) >= 2  # brothers and sisters share an address
