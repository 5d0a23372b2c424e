"""`whoelse synth`: write synthetic council record files for demos, tests and benchmarks."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from typing import Any

from whoelse.federation.errors import InvalidInput
from whoelse.harness.synth.councils import DEFAULT_COUNCILS, all_councils
from whoelse.harness.synth.generate import generate
from whoelse.harness.synth.noise import NOISE_LEVELS
from whoelse.harness.synth.writer import FORMATS, manifest, write


def _codes(value: str) -> list[str]:
    if value.strip().lower() == "all":
        return list(all_councils())
    codes = [code.strip().upper() for code in value.split(",") if code.strip()]
    if not codes:
        raise InvalidInput("--councils: give comma-separated ONS council codes, or 'all'")
    return codes


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from None


def register(sub: Any) -> None:
    """Add the `synth` subcommand to the `whoelse` parser's subparsers."""
    parser = sub.add_parser(
        "synth",
        help="generate synthetic council records (import format) with ground truth",
        description="Generate seeded, reproducible synthetic child records for English councils, one import "
        "file per council, plus ground_truth.jsonl, practitioners.jsonl and manifest.json.",
    )
    parser.add_argument(
        "--councils",
        default=",".join(DEFAULT_COUNCILS),
        help="comma-separated ONS council codes, or 'all' (default: five West Yorkshire councils)",
    )
    parser.add_argument(
        "--scale", type=float, default=0.001, help="fraction of each council's children (default 0.001)"
    )
    parser.add_argument("--children", type=int, default=None, help="records per council (overrides --scale)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--noise",
        choices=NOISE_LEVELS,
        default="today",
        help="how second records of a child differ: 'today' (0-3 differences, as earlier benchmarks) or "
        "'realistic' (several at once, from documented rates: docs/synthetic-noise.md); default today",
    )
    parser.add_argument("--format", choices=FORMATS, default="jsonl", help="output format (default jsonl)")
    parser.add_argument("--today", type=_date, default=None, help="reference date YYYY-MM-DD (default today)")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument(
        "--json", action="store_true", help="print the manifest (what was written) as one JSON object"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    population = generate(
        _codes(args.councils),
        scale=args.scale,
        seed=args.seed,
        children_per_council=args.children,
        today=args.today,
        noise=args.noise,
    )
    try:
        files = write(population, args.out, args.format)
    except OSError as exc:
        raise InvalidInput(f"--out {args.out}: cannot write there ({exc.strerror or exc})") from exc
    if args.json:
        summary = manifest(population, args.format)
        summary["files"] = [str(path) for path in files]
        summary["seconds"] = round(time.perf_counter() - started, 2)
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    shared = sum(1 for p in population.people if len(p.copies) > 1)
    print(
        f"synth: {population.record_count} records of {len(population.people)} children "
        f"({shared} known to two councils) for {len(population.councils)} councils, seed {population.seed}, "
        f"noise {population.noise}, written to {args.out} as {args.format} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0
