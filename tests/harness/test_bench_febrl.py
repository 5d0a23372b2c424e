"""The FEBRL benchmark: loading and adapting FEBRL 1–3, the Fellegi–Sunter baseline, and a small run
through a real federation (directory and councils as processes on this machine)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from whoelse.federation.identity import normalise_postcode
from whoelse.harness.bench_baseline import LEVELS, blocks, candidate_pairs, compare, estimate, link
from whoelse.harness.bench_febrl import (
    REFERENCE_DATE,
    ChildCopy,
    adapt,
    bench_febrl,
    dataset,
    load,
    postcode_map,
    sent_date,
)


def test_loader_reads_febrl_1_with_entity_ids() -> None:
    originals, duplicates = load(1)
    assert (len(originals), len(duplicates)) == (500, 500)
    assert all(r.original and r.rec_id == f"rec-{r.entity}-org" for r in originals)
    assert all(not r.original and r.rec_id.startswith(f"rec-{r.entity}-dup-") for r in duplicates)
    assert len({r.entity for r in originals}) == 500
    assert {r.entity for r in duplicates} <= {r.entity for r in originals}
    waller = next(r for r in originals if r.rec_id == "rec-223-org")
    assert (waller.entity, waller.surname, waller.postcode, waller.date_of_birth) == (
        223,
        "waller",
        "4011",
        "19081209",
    )


def test_every_original_is_a_child_and_a_year_error_stays_an_error() -> None:
    originals, duplicates = dataset("febrl3")
    earliest = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 17)
    for child in originals:
        if child.date_of_birth:
            assert earliest <= dt.date.fromisoformat(child.date_of_birth) < REFERENCE_DATE
    raw_originals = {r.entity: r for r in load(3)[0]}
    raw_duplicates = {r.rec_id: r for r in load(3)[1]}
    by_entity = {c.entity: c for c in originals}
    year_errors = 0
    for child in duplicates:
        raw, raw_original = raw_duplicates[child.record_id], raw_originals[child.entity]
        if not (child.written_date and by_entity[child.entity].written_date):
            continue
        # One offset per entity: the shift between the copies' years is the shift FEBRL wrote.
        raw_gap = int(raw.date_of_birth[:4]) - int(raw_original.date_of_birth[:4])
        gap = int(child.written_date[:4]) - int(by_entity[child.entity].written_date[:4])
        assert gap == raw_gap
        year_errors += gap != 0
    assert year_errors > 50


def test_the_sent_date_is_missing_unless_real_or_a_day_month_swap_the_product_accepts() -> None:
    assert sent_date("2012-04-22", accept_swapped=False) == "2012-04-22"
    assert sent_date("2012-22-04", accept_swapped=False) == ""
    assert sent_date("2012-22-04", accept_swapped=True) == "2012-22-04"
    assert sent_date("2012-45-02", accept_swapped=True) == ""
    assert sent_date("", accept_swapped=True) == ""


def test_the_postcode_map_is_one_to_one_onto_uk_postcodes() -> None:
    mapping = postcode_map()
    australian = {r.postcode for n in (1, 2, 3) for part in load(n) for r in part}
    assert set(mapping) == australian
    assert len(set(mapping.values())) == len(mapping)
    assert all(normalise_postcode(uk) == uk for uk in mapping.values())
    (first, *_), _ = load(1)
    same = adapt([first, first])
    assert same[0].postcode == same[1].postcode == mapping[first.postcode]


def test_baseline_em_puts_m_above_u_for_agreement_and_finds_most_febrl_1_pairs() -> None:
    originals, duplicates = dataset("febrl1")
    by_pass = blocks(originals, duplicates)
    pairs = candidate_pairs(by_pass)
    model = estimate(
        originals, duplicates, by_pass, {(d, o): compare(duplicates[d], originals[o]) for d, o in pairs}
    )
    for f, name in enumerate(LEVELS):
        assert model.m[f][0] > 10 * model.u[f][0], name  # exact agreement
    assert model.m[0][1] > model.u[0][1]  # forename: Jaro-Winkler ≥ 0.92
    assert model.m[0][3] < model.u[0][3]  # forename: different
    linkage = link(originals, duplicates)
    assert linkage.true_pairs_in_blocks == 500
    assert linkage.precision >= 0.99
    assert linkage.recall >= 0.97


def _clean(originals: Sequence[ChildCopy], duplicates: Sequence[ChildCopy]) -> list[ChildCopy]:
    """Duplicates whose searched fields equal their original's (FEBRL changed only other fields)."""
    by_entity = {o.entity: o for o in originals}

    def fields(c: ChildCopy) -> tuple[str, ...]:
        return (c.forename, c.surname, c.date_of_birth, c.postcode)

    clean = [d for d in duplicates if fields(d) == fields(by_entity[d.entity]) and all(fields(d))]
    return clean[:60]


@pytest.mark.slow
def test_a_small_federated_run_finds_clean_duplicates_through_the_real_servers() -> None:
    result = bench_febrl(["febrl1"], select=_clean, threads=2)
    figures = result["datasets"][0]
    assert figures["duplicates_searched"] == 60
    assert figures["unanswered_councils"] == 0
    assert figures["refused"] == 0
    assert figures["recall"] == 1.0
    assert figures["precision"] == 1.0
    assert figures["baseline_recall"] >= 0.97
