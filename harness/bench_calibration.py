"""`whoelse bench calibration`: how well node/scoring.py's weights fit data, and what EM would estimate.

On a seeded synthetic England at the realistic noise level (harness/synth/noise.py), every cross-council copy
of a child is searched at the council holding the other copy, exactly as a holder would: candidates come
from shared match keys, only searches the opening rule lets through are scored. Each scored candidate is a
comparison vector (one level per field) with its truth from the generator. Two things are printed:

- calibration: candidates binned by score, with the share of each bin that is truly the child, so the
  bands can be read against data (and plotted, `--plot PATH`, as score against true-match rate);
- EM: Fellegi–Sunter m and u per level estimated from the unlabelled vectors (the usual two-class EM with
  fields independent given the class, started from the shipped values), beside the shipped m and u.

The truth is used only for the calibration figures; EM never sees it.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from whoelse.federation.errors import InvalidInput
from whoelse.federation.match_keys import match_keys
from whoelse.node import scoring
from whoelse.node.matching import identity_of, rank_candidates

FIELDS: dict[str, dict[str, scoring.Level]] = {
    "forename": {**scoring.FORENAME_LEVELS, **scoring.INITIAL_LEVELS},
    "surname": scoring.SURNAME_LEVELS,
    "date_of_birth": {**scoring.DATE_OF_BIRTH_LEVELS, **scoring.PARTIAL_DATE_LEVELS},
    "sex": scoring.SEX_LEVELS,
    "postcode": {**scoring.POSTCODE_LEVELS, "exact-same-forename": scoring.HOUSEHOLD_POSTCODE},
}
BIN_WIDTH = 2.0


def scored_candidates(
    councils: list[str], children: int, seed: int
) -> list[tuple[tuple[str, ...], float, bool]]:
    """(levels per field, score, is the child) for every candidate any council would score: at the council
    holding the other copy, and at every other council whose records the search opens."""
    from whoelse.harness.synth.generate import generate

    population = generate(councils, children_per_council=children, seed=seed, noise="realistic")
    by_council = {code: {str(r.record_id): r for r in recs} for code, recs in population.records.items()}
    index: dict[str, dict[Any, list[str]]] = {code: {} for code in by_council}  # key -> record ids
    for code, recs in by_council.items():
        for rid, record in recs.items():
            for key in match_keys(identity_of(record)):
                index[code].setdefault(key, []).append(rid)
    out = []
    for person in population.people:
        if len(person.copies) < 2:
            continue
        searched, held = person.copies[1], person.copies[0]
        query = identity_of(by_council[searched.council][searched.record_id])
        for council in by_council:  # the holder, and every other council the search reaches
            if council == searched.council:
                continue
            kinds: dict[int, set[str]] = {}
            position: dict[str, int] = {}
            for key in match_keys(query):
                for sharing in index[council].get(key, ()):
                    kinds.setdefault(position.setdefault(sharing, len(position)), set()).add(key.kind.value)
            ids = list(position)
            candidates, _ = rank_candidates(kinds, 40)
            for candidate in candidates:
                record_id = ids[candidate.child_id]
                result = scoring.score(query, identity_of(by_council[council][record_id]))
                levels = {c.field: c.level for c in result.contributions}
                vector = tuple(levels.get(field, "missing") for field in FIELDS)
                out.append((vector, result.total, (council, record_id) == (held.council, held.record_id)))
    return out


def calibration(scored: list[tuple[tuple[str, ...], float, bool]]) -> list[dict[str, Any]]:
    bins: dict[float, list[bool]] = {}
    for _, total, truth in scored:
        bins.setdefault(math.floor(total / BIN_WIDTH) * BIN_WIDTH, []).append(truth)
    return [
        {"score_from": low, "candidates": len(v), "true_match_rate": round(sum(v) / len(v), 4)}
        for low, v in sorted(bins.items())
    ]


def em(
    vectors: Counter[tuple[str, ...]], rounds: int = 200
) -> tuple[float, list[dict[str, tuple[float, float]]]]:
    """Two-class EM over comparison vectors; "missing" carries no evidence and is left out of m and u."""
    names = list(FIELDS)
    m = [{lv: lvl.m for lv, lvl in FIELDS[f].items()} for f in names]
    u = [{lv: lvl.u for lv, lvl in FIELDS[f].items()} for f in names]
    share = 0.5
    for _ in range(rounds):
        m_count: list[defaultdict[str, float]] = [defaultdict(float) for _ in names]
        u_count: list[defaultdict[str, float]] = [defaultdict(float) for _ in names]
        matched, total = 0.0, 0.0
        for vector, n in vectors.items():
            like_m, like_u = share, 1 - share
            for f, level in enumerate(vector):
                if level != "missing":
                    like_m *= m[f].get(level, 1e-9)
                    like_u *= u[f].get(level, 1e-9)
            g = like_m / (like_m + like_u)
            for f, level in enumerate(vector):
                m_count[f][level] += g * n
                u_count[f][level] += (1 - g) * n
            matched += g * n
            total += n
        share = matched / total
        for f, field in enumerate(names):
            levels = list(FIELDS[field])
            m_total = sum(m_count[f][lv] for lv in levels) + 0.5 * len(levels)
            u_total = sum(u_count[f][lv] for lv in levels) + 0.5 * len(levels)
            m[f] = {lv: (m_count[f][lv] + 0.5) / m_total for lv in levels}
            u[f] = {lv: (u_count[f][lv] + 0.5) / u_total for lv in levels}
    return share, [{lv: (m[f][lv], u[f][lv]) for lv in FIELDS[field]} for f, field in enumerate(names)]


def _plot(table: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [row["score_from"] + BIN_WIDTH / 2 for row in table]
    ys = [row["true_match_rate"] for row in table]
    sizes = [max(8.0, min(200.0, row["candidates"] / 5)) for row in table]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xs, ys, s=sizes, color="#1d70b8")
    ax.plot(xs, ys, color="#1d70b8", linewidth=1)
    for threshold, label, height in (
        (scoring.POSSIBLE_THRESHOLD, "possible", 0.15),
        (scoring.MATCH_THRESHOLD, "match", 0.05),
    ):
        ax.axvline(threshold, color="#d4351c", linestyle="--", linewidth=1)
        ax.text(threshold + 0.3, height, label, color="#d4351c")
    ax.set_xlabel("score (log2 likelihood ratio), 2-bit bins")
    ax.set_ylabel("share of candidates that are the child")
    ax.set_title("Scoring calibration, synthetic England at the realistic noise level")
    ax.set_ylim(-0.02, 1.02)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bench_calibration(councils: list[str], children: int, seed: int, plot: Path | None) -> dict[str, Any]:
    scored = scored_candidates(councils, children, seed)
    table = calibration(scored)
    share, estimated = em(Counter(vector for vector, _, _ in scored))
    fields: dict[str, Any] = {}
    for f, field in enumerate(FIELDS):
        fields[field] = {
            level: {
                "shipped_weight": round(FIELDS[field][level].weight, 2),
                "em_weight": round(math.log2(m / u), 2),
                "em_m": round(m, 4),
                "em_u": round(u, 5),
            }
            for level, (m, u) in estimated[f].items()
        }
    matches = [total for _, total, truth in scored if truth]
    others = [total for _, total, truth in scored if not truth]
    if plot is not None:
        _plot(table, plot)
    return {
        "benchmark": "calibration",
        "noise": "realistic",
        "candidates": len(scored),
        "true_candidates": len(matches),
        "other_candidates": len(others),
        "highest_other_score": round(max(others), 2) if others else None,
        "true_below_possible": sum(1 for t in matches if t < scoring.POSSIBLE_THRESHOLD),
        "calibration": table,
        "em_match_share": round(share, 4),
        "em_weights": fields,
        "plot": str(plot) if plot else None,
    }


def cmd_bench_calibration(args: argparse.Namespace) -> int:
    councils = [c.strip().upper() for c in args.councils.split(",") if c.strip()]
    if len(councils) < 2:
        raise InvalidInput("--councils needs at least two council codes")
    plot = Path(args.plot) if args.plot else None
    if plot is not None and not plot.parent.exists():
        raise InvalidInput(f"--plot: folder {plot.parent} does not exist")
    result = bench_calibration(councils, args.children, args.seed, plot)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


def register(benchmarks: Any, default_councils: str) -> None:
    p = benchmarks.add_parser(
        "calibration", help="scores against the true-match rate, and EM-estimated weights"
    )
    p.add_argument("--councils", default=default_councils)
    p.add_argument("--children", type=int, default=8000, help="children per council")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--plot", default="", help="write the calibration plot (PNG) here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench_calibration)
