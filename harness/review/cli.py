"""`whoelse review --out DIR` and `whoelse bench review-<piece>`: both architectures measured side by side."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whoelse.federation.errors import InvalidInput
from whoelse.harness.review import measure
from whoelse.harness.review.environment import (
    DEFAULT_COUNCILS,
    DEFAULT_SCALE,
    DEFAULT_SEED,
    Environment,
    build_environment,
    children_per_council,
)
from whoelse.harness.review.stores import Truth

DEFAULT_GROWTH = "5,20,50,153"
DEFAULT_GROWTH_SCALE = 0.0004  # 31 children a council, as `whoelse bench search` uses 30
DEFAULT_SIZES = "0.01"
TINY = {"councils": 3, "scale": 0.0003, "growth": "", "sizes": "", "searches": 8}


def _growth(text: str) -> list[int]:
    try:
        points = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise InvalidInput(f"--growth must be council counts separated by commas, not {text!r}") from None
    if any(not 2 <= p <= 153 for p in points):
        raise InvalidInput("--growth: each council count must be between 2 and 153")
    return points


def _sizes(text: str) -> list[float]:
    try:
        scales = sorted({float(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise InvalidInput(f"--sizes must be scales separated by commas, not {text!r}") from None
    for scale in scales:
        children_per_council(scale)  # names the bad one
    return scales


def _check(args: argparse.Namespace) -> None:
    if args.tiny:
        for key, value in TINY.items():
            setattr(args, key, value)
    children_per_council(args.scale)
    children_per_council(args.growth_scale)
    _growth(args.growth)
    _sizes(args.sizes)
    if not 2 <= args.councils <= 153:
        raise InvalidInput("--councils must be between 2 and 153")
    if args.searches < 2:
        raise InvalidInput("--searches must be at least 2")


def run_review(args: argparse.Namespace, progress: bool = True) -> dict[str, Any]:
    """Measure everything on one environment (then the growth points, each built afresh)."""

    def say(text: str) -> None:
        if progress:
            print(text, flush=True)

    started = time.perf_counter()
    points = _growth(args.growth)
    machine = measure.machine()
    with tempfile.TemporaryDirectory(prefix="whoelse-review-") as tmp:
        env = build_environment(Path(tmp), args.councils, args.scale, args.seed, progress=progress)
        setup_s = time.perf_counter() - started
        try:
            truth = Truth.load(env.layout.data_dir)

            say("measuring: information flow")
            flows = measure.measure_flows(env, truth)
            say("measuring: speed")
            speed = measure.measure_speed(env, truth, args.searches)
            say("measuring: stores and breach exposure")
            stores = measure.measure_stores(env, truth)
            breach = measure.measure_breach(env, truth)
            reach = measure.measure_reach(env, truth, stores)
            say("measuring: availability (stopping processes)")
            availability = measure.measure_availability(env, truth)
            names = [c.name for c in env.layout.councils]
        finally:
            env.stop()
    # Growth with councils: every point built afresh with few children a council, so that 153 councils
    # start on this machine within the run's budget; growth with children a council: at --councils.
    searches = max(10, args.searches // 2)
    if points:
        say(f"measuring: growth at {', '.join(map(str, points))} councils")
    extra, failed = measure.measure_growth([(n, args.growth_scale) for n in points], args.seed, searches)
    known = {children_per_council(args.scale), children_per_council(args.growth_scale)}
    sizes = [x for x in _sizes(args.sizes) if children_per_council(x) not in known]
    if sizes:
        children = ", ".join(f"{children_per_council(x):,}" for x in sizes)
        say(f"measuring: growth to {children} children a council")
    bigger, failed_sizes = measure.measure_growth([(args.councils, x) for x in sizes], args.seed, searches)
    main_point = {k: v for k, v in speed.items() if k != "samples_ms"} | {
        "setup_and_run_s": round(setup_s, 1)
    }
    growth = sorted(extra, key=lambda g: g["councils"])
    same_councils = [g for g in extra if g["councils"] == args.councils]
    by_size = sorted([main_point, *same_councils, *bigger], key=lambda g: g["children_per_council"])
    if len(by_size) < 2:
        by_size = []
    return {
        "command": "",
        "options": {
            "councils": args.councils,
            "scale": args.scale,
            "seed": args.seed,
            "growth": points,
            "growth_scale": args.growth_scale,
            "growth_children_per_council": children_per_council(args.growth_scale),
            "sizes": _sizes(args.sizes),
            "children_per_council": children_per_council(args.scale),
            "council_names": names,
            "searches": args.searches,
        },
        "machine": machine,
        "stores": stores,
        "breach": breach,
        "flows": flows,
        "reach": reach,
        "speed": speed,
        "growth": growth,
        "growth_not_measured": failed,
        "growth_by_size": by_size,
        "growth_by_size_not_measured": failed_sizes,
        "availability": availability,
        "cost": measure.cost_model(speed, stores, extra + bigger),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def cmd_review(args: argparse.Namespace) -> int:
    from whoelse.harness.review.report import write_report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {args.out}: exists and is not a folder")
    if args.from_results:  # write the report again from a run's figures, measuring nothing
        try:
            results = json.loads(Path(args.from_results).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"--from-results {args.from_results}: not a results.json ({exc})") from exc
    else:
        _check(args)
        results = run_review(args)
        results["command"] = _command(args)
    md, page = write_report(results, out)
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"wrote {page} and {md} in {results['elapsed_s']:.0f} s")
    return 0


_NONE = "''"


def _command(args: argparse.Namespace) -> str:
    if args.tiny:
        return f"whoelse review --out {args.out} --tiny"
    return (
        f"whoelse review --out {args.out} --councils {args.councils} --scale {args.scale} "
        f"--seed {args.seed} --growth {args.growth or _NONE} --growth-scale {args.growth_scale} "
        f"--sizes {args.sizes or _NONE}"
    )


Piece = Callable[[Environment, Truth, argparse.Namespace], dict[str, Any]]


def _piece(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement alone, on an environment built for it."""
    with tempfile.TemporaryDirectory(prefix=f"whoelse-review-{name}-") as tmp:
        env = build_environment(Path(tmp), args.councils, args.scale, args.seed)
        try:
            truth = Truth.load(env.layout.data_dir)
            if name == "flows":
                return measure.measure_flows(env, truth)
            if name == "speed":
                return measure.measure_speed(env, truth, args.searches)
            if name == "availability":
                return measure.measure_availability(env, truth)
            if name == "breach":
                return measure.measure_breach(env, truth)
            stores = measure.measure_stores(env, truth)
            if name == "stores":
                return stores
            if name == "reach":
                return measure.measure_reach(env, truth, stores)
            speed = measure.measure_speed(env, truth, args.searches)
        finally:
            env.stop()
    points = [(n, args.growth_scale) for n in _growth(args.growth)]
    points += [(args.councils, x) for x in _sizes(args.sizes) if x != args.scale]
    extra, _ = measure.measure_growth(points, args.seed, max(10, args.searches // 2))
    return measure.cost_model(speed, stores, extra)


PIECES = {
    "stores": "what each party's store holds, counted from the files",
    "flows": "what each party learns from one search (information-flow table)",
    "breach": "children a breach exposes: central index, directory, one council, k councils",
    "reach": "accounts able to reach each child in each mode",
    "speed": "search latency p50/p95/p99, searches per second and CPU, both modes",
    "availability": "share answered in full and children findable as processes are stopped",
    "cost": "CPU per search and storage per child; national extrapolation checked on --growth, --sizes",
}


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--councils", type=int, default=DEFAULT_COUNCILS, help="councils (default %(default)s)")
    p.add_argument(
        "--scale",
        type=float,
        default=DEFAULT_SCALE,
        help="children per council as a share of an average council's 78,431 (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--searches", type=int, default=40, help="searches timed per mode (default %(default)s)")
    p.add_argument(
        "--growth",
        default=DEFAULT_GROWTH,
        help="council counts to measure growth at, comma-separated (default %(default)s; '' for none)",
    )
    p.add_argument(
        "--growth-scale",
        type=float,
        default=DEFAULT_GROWTH_SCALE,
        help="children a council at the --growth points, as a share like --scale (default %(default)s)",
    )
    p.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help="scales (children a council) to measure growth at, at --councils councils (default "
        "%(default)s; '' for none)",
    )
    p.add_argument("--tiny", action="store_true", help="3 councils of 24 children, no growth points (tests)")


def register(commands: Any, benchmarks: Any) -> None:
    p = commands.add_parser("review", help="measure the federation and ContactPoint mode; write the report")
    p.add_argument("--out", required=True, help="folder for report.html, report.md, PNGs and results.json")
    p.add_argument("--from-results", help="write the report from this results.json instead of measuring")
    _options(p)
    p.set_defaults(handler=cmd_review)
    for name, text in PIECES.items():
        q = benchmarks.add_parser(f"review-{name}", help=text)
        _options(q)
        q.add_argument("--json", action="store_true")
        q.set_defaults(handler=_bench_handler(name))


def _bench_handler(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        _check(args)
        result = _piece(name, args)
        if name == "speed" and args.json:
            result.pop("samples_ms", None)
        print(json.dumps(result) if args.json else json.dumps(result, indent=2))
        return 0

    return handler
