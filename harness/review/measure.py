"""Each measurement of the review as one function of a running Environment, returning plain JSON data.

`whoelse review` runs them all on one environment; `whoelse bench review-<piece>` runs one alone.
"""

from __future__ import annotations

import contextlib
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whoelse.federation.errors import WhoElseError
from whoelse.harness.review import availability, flows, speed, stores
from whoelse.harness.review.environment import (
    NATIONAL_CHILDREN,
    NATIONAL_COUNCILS,
    Environment,
    children_per_council,
)

PEAK_SEARCHES_PER_S = 5.0
"""BRIEF.md: "a few per second nationally at peak"; five is the figure the extrapolation uses."""


def _parties(env: Environment) -> dict[str, tuple[str, Path]]:
    """Every party's store: name -> (kind, SQLite file)."""
    out = {"central index": ("central", env.central_db), "directory": ("directory", env.layout.directory_db)}
    for c in env.layout.councils:
        out[f"{c.name} ({c.code})"] = ("council", c.database)
    return out


def measure_stores(env: Environment, truth: stores.Truth) -> dict[str, Any]:
    time.sleep(flows.FLUSH_WAIT_S)  # every council's group-committed entries are written first
    scanner = stores.Scanner(truth)
    parties = {
        name: {"kind": kind, **stores.inventory(path, scanner)}
        for name, (kind, path) in _parties(env).items()
    }
    return {
        "children_in_population": len(truth.copies),
        "records_in_population": len(truth.rows),
        "parties": parties,
    }


def measure_breach(env: Environment, truth: stores.Truth) -> dict[str, Any]:
    scanner = stores.Scanner(truth)
    per_council = {c.code: scanner.identified(c.database) for c in env.layout.councils}
    origin = env.layout.councils[0].code
    x = flows.pick_child(truth, origin)
    non_holders = [c for c in env.layout.councils if c.code not in truth.held_by(x)]
    return {
        "children_in_population": len(truth.copies),
        "central_index": len(scanner.identified(env.central_db)),
        "directory": len(scanner.identified(env.layout.directory_db)),
        "one_council": {code: len(found) for code, found in per_council.items()},
        "k_councils": stores.breach_curve(per_council, env.seed),
        "searched_child_held_by": sorted(truth.held_by(x)),
        # The searched child's details in each store of a council that does not hold the child.
        "searched_child_at_non_holders": {
            c.code: len(scanner.identified(c.database, only={x})) for c in non_holders
        },
        "insider_direct_read": flows.insider_unlogged(
            {name: path for name, (_, path) in _parties(env).items() if not name.endswith(")")}
            | {env.layout.councils[0].name: env.layout.councils[0].database},
            flows.read_children,
        ),
    }


EXPOSURE_CHILDREN = 4000  # `whoelse bench match`'s default children a council
EXPOSURE_SEARCHES = 6000


def measure_flows(env: Environment, truth: stores.Truth) -> dict[str, Any]:
    """The information-flow table from the run, and the near-holder figure: measured on a population of
    `whoelse bench match`'s size for the same councils and seed (the review's own few hundred children a
    council are too few for openings, which are rare, to be counted and scaled)."""
    from whoelse.harness.bench_exposure import exposure_at

    result = flows.information_flow(env, truth)
    result["near_holder"] = exposure_at(
        [c.code for c in env.layout.councils], EXPOSURE_CHILDREN, env.seed, EXPOSURE_SEARCHES
    )
    return result


def measure_reach(env: Environment, truth: stores.Truth, inventory: dict[str, Any]) -> dict[str, Any]:
    parties = inventory["parties"]
    council_accounts = sum(p["practitioner_accounts"] for p in parties.values() if p["kind"] == "council")
    stores_per_child = sum(len(truth.held_by(p)) for p in truth.copies) / max(1, len(truth.copies))
    return {
        "central": {
            "accounts_able_to_search_any_child": parties["central index"]["practitioner_accounts"],
            "databases_holding_a_child": 1.0,
            "children_one_operator_can_read": parties["central index"]["children_identifiable"],
        },
        "federation": {
            "accounts_able_to_search_any_child": council_accounts,
            "databases_holding_a_child": round(stores_per_child, 3),
            "children_one_operator_can_read": max(
                p["children_identifiable"] for p in parties.values() if p["kind"] == "council"
            ),
        },
        "children_in_population": len(truth.copies),
    }


def measure_speed(env: Environment, truth: stores.Truth, searches: int = 40) -> dict[str, Any]:
    return speed.measure_speed(env, truth, searches=searches)


def measure_growth(
    points: list[tuple[int, float]], seed: int, searches: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both architectures rebuilt at each (councils, scale): (measured points, points that could not be
    measured on this machine and why — a busy shared machine can take longer than the start-up allows)."""
    measured, failed = [], []
    for councils, scale in points:
        try:
            measured.append(speed.growth_point(councils, scale, seed, searches))
        except WhoElseError as exc:
            failed.append(
                {
                    "councils": councils,
                    "children_per_council": children_per_council(scale),
                    "error": str(exc).split(";")[0],
                }
            )
    return measured, failed


def measure_availability(env: Environment, truth: stores.Truth) -> dict[str, Any]:
    return availability.measure_availability(env, truth)


def cost_model(
    speed_result: dict[str, Any], inventory: dict[str, Any], growth: list[dict[str, Any]]
) -> dict[str, Any]:
    """CPU and storage measured here, a national extrapolation, and the model checked on other points.

    Model: a federated search costs the origin and the directory a fixed amount and every other council
    the same amount again (cpu(N) = fixed + per_council x (N - 1)); a central search costs one index
    lookup, taken as flat in the number of children (an indexed look-up). Storage grows with records."""
    fed = speed_result["federation"]["cpu_ms_per_search"]
    fixed = fed["origin_council"] + fed["directory"]
    per_council = fed["per_other_council"]
    central_ms = speed_result["central"]["cpu_ms_per_search"]["central"]
    parties = inventory["parties"]
    council_bytes = sum(p["bytes"] for p in parties.values() if p["kind"] == "council")
    records = inventory["records_in_population"]
    children = inventory["children_in_population"]
    central_bytes = parties["central index"]["bytes"]
    checks = []
    for point in growth:
        measured = point["federation"]["cpu_ms_per_search"]
        total = measured["origin_council"] + measured["directory"] + measured["other_councils_total"]
        predicted = fixed + per_council * (point["councils"] - 1)
        central = point["central"]["cpu_ms_per_search"]["central"]
        checks.append(
            {
                "councils": point["councils"],
                "children_per_council": point["children_per_council"],
                "federation_cpu_ms_measured": round(total, 1),
                "federation_cpu_ms_predicted": round(predicted, 1),
                "federation_error": round((predicted - total) / total, 3) if total else None,
                "central_cpu_ms_measured": central,
                "central_cpu_ms_predicted": central_ms,
                "central_error": round((central_ms - central) / central, 3) if central else None,
            }
        )
    national_fed_ms = fixed + per_council * (NATIONAL_COUNCILS - 1)
    return {
        "measured": {
            "federation_cpu_ms_per_search_total": round(fixed + fed["other_councils_total"], 2),
            "federation_cpu_ms_per_search_per_council": per_council,
            "central_cpu_ms_per_search": central_ms,
            "federation_bytes_per_child": round(council_bytes / children),
            "central_bytes_per_child": round(central_bytes / children),
            "records_per_child": round(records / children, 4),
        },
        "national": {
            "children": NATIONAL_CHILDREN,
            "councils": NATIONAL_COUNCILS,
            "peak_searches_per_s": PEAK_SEARCHES_PER_S,
            "federation_cpu_ms_per_search": round(national_fed_ms, 1),
            "federation_cores_busy_at_peak": round(national_fed_ms * PEAK_SEARCHES_PER_S / 1000, 2),
            "central_cpu_ms_per_search": central_ms,
            "central_cores_busy_at_peak": round(central_ms * PEAK_SEARCHES_PER_S / 1000, 3),
            "federation_storage_gb": round(council_bytes / children * NATIONAL_CHILDREN / 1e9, 1),
            "central_storage_gb": round(central_bytes / children * NATIONAL_CHILDREN / 1e9, 1),
        },
        "checks": checks,
    }


def machine() -> dict[str, Any]:
    import os

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except OSError:
        commit = ""
    mem = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_mb": mem,
        "python": platform.python_version(),
        "system": platform.platform(),
        "commit": commit or "unknown",
        "load_average": os.getloadavg()[0],
    }


Piece = Callable[[Environment, stores.Truth], dict[str, Any]]
