"""The review's figures as PNG files (matplotlib, Agg backend: no display, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FED, CEN = "#1d70b8", "#d4351c"  # GOV.UK blue and red: readable on white


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def breach(b: dict[str, Any], path: Path) -> Path:
    ks = [p["k"] for p in b["k_councils"]]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(
        ks,
        [p["mean"] for p in b["k_councils"]],
        "o-",
        color=FED,
        label="federation: k councils' stores (mean)",
    )
    ax.fill_between(
        ks,
        [max(p["min"], 0.5) for p in b["k_councils"]],
        [p["max"] for p in b["k_councils"]],
        color=FED,
        alpha=0.15,
        label="federation: lowest to highest set of k",
    )
    ax.axhline(b["central_index"], color=CEN, linestyle="--", label="central index: one store")
    ax.set_yscale("log")
    ax.set_xticks(ks)
    ax.set_xlabel("k, councils whose databases the attacker holds")
    ax.set_ylabel("children identifiable (count, log scale)")
    ax.set_title(f"What a breach exposes (directory's store: {b['directory']} children)")
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def latency_cdf(speed: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for mode, colour, label in (("federation", FED, "federation"), ("central", CEN, "central index")):
        values = sorted(speed["samples_ms"][mode])
        ax.step(
            values,
            [(i + 1) / len(values) for i in range(len(values))],
            where="post",
            color=colour,
            label=f"{label} (p50 {speed[mode]['p50_ms']} ms)",
        )
    ax.set_xscale("log")
    ax.set_xlabel("search latency through Practitioner.Search (ms, log scale)")
    ax.set_ylabel("share of searches (cumulative)")
    ax.set_title(f"Search latency, {speed['councils']} councils, {speed['searches']} searches each")
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def growth(points: list[dict[str, Any]], path: Path, by: str = "councils") -> Path:
    """Latency against councils (children a council fixed) or against children a council (councils fixed)."""
    xs = [p[by] for p in points]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for mode, colour, label in (("federation", FED, "federation"), ("central", CEN, "central index")):
        ax.plot(xs, [p[mode]["p50_ms"] for p in points], "o-", color=colour, label=f"{label} p50")
        ax.plot(xs, [p[mode]["p95_ms"] for p in points], "s:", color=colour, label=f"{label} p95")
    ax.set_xscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{x:,}" for x in xs])
    ax.minorticks_off()
    if by == "councils":
        ax.set_xlabel(f"councils, log scale ({points[0]['children_per_council']:,} children a council)")
        ax.set_title("How search latency grows with the number of councils")
    else:
        ax.set_xlabel(f"children a council, log scale ({points[0]['councils']} councils)")
        ax.set_title("How search latency grows with children a council")
    ax.set_ylabel("search latency (ms)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def availability(a: dict[str, Any], path: Path) -> Path:
    fed = [s for s in a["steps"] if s["mode"] == "federation" and s["share_down"] is not None]
    cen = [s for s in a["steps"] if s["mode"] == "central"]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    xs = [100 * s["share_down"] for s in fed]
    ax.plot(
        xs, [100 * s["answered_in_full"] for s in fed], "o-", color=FED, label="federation: answered in full"
    )
    ax.plot(
        xs,
        [100 * s["children_findable"] for s in fed],
        "s--",
        color=FED,
        label="federation: children findable",
    )
    ax.plot(
        [100 * s["share_down"] for s in cen],
        [100 * s["children_findable"] for s in cen],
        "D",
        color=CEN,
        markersize=8,
        label="central index: children findable (up, then stopped)",
    )
    directory = [s for s in a["steps"] if s["down"] == "directory"]
    if directory:
        ax.plot(
            [100],
            [100 * directory[0]["children_findable"]],
            "o",
            mfc="none",
            color=FED,
            markersize=10,
            label="federation, directory stopped: children findable",
        )
    ax.set_xlabel("share of the architecture's servers stopped (% of councils; central: the one server)")
    ax.set_ylabel("share of searches / children (%)")
    ax.set_ylim(-5, 105)
    ax.set_title("Availability when servers are stopped")
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def cost(cost_result: dict[str, Any], speed: dict[str, Any], path: Path) -> Path:
    m = cost_result["measured"]
    fixed = (
        speed["federation"]["cpu_ms_per_search"]["origin_council"]
        + speed["federation"]["cpu_ms_per_search"]["directory"]
    )
    ns = list(range(2, 154))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(
        ns,
        [fixed + m["federation_cpu_ms_per_search_per_council"] * (n - 1) for n in ns],
        color=FED,
        label="federation model: fixed + per council x (N - 1)",
    )
    ax.axhline(m["central_cpu_ms_per_search"], color=CEN, linestyle="--", label="central model: flat")
    pts = [(speed["councils"], m["federation_cpu_ms_per_search_total"])]
    pts += [(c["councils"], c["federation_cpu_ms_measured"]) for c in cost_result["checks"]]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", color="black", label="federation measured")
    ax.plot(
        [speed["councils"], *(c["councils"] for c in cost_result["checks"])],
        [m["central_cpu_ms_per_search"], *(c["central_cpu_ms_measured"] for c in cost_result["checks"])],
        "x",
        color=CEN,
        label="central measured",
    )
    ax.set_xscale("log")
    ax.set_xlabel("councils (log scale)")
    ax.set_ylabel("CPU time per search, all processes (ms)")
    ax.set_title("CPU per search: measured points and the model")
    ax.legend(fontsize=8)
    return _save(fig, path)
