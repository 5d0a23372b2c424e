"""`whoelse demo`, `whoelse synth`, `whoelse review`, `whoelse bench …` and the demo-only
`whoelse node seed-practitioners`: the commands that drive the product from outside."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from whoelse.federation.errors import WhoElseError


def register(commands: Any, benchmarks: Any) -> None:
    """Add the harness's commands beside the product's (a provider of `whoelse`, see federation/cli.py)."""
    from whoelse.harness.bench import register as register_bench
    from whoelse.harness.bench_alerts import register as register_bench_alerts
    from whoelse.harness.bench_portal import register as register_bench_portal
    from whoelse.harness.bench_records import register as register_bench_records
    from whoelse.harness.bench_search import register as register_bench_search
    from whoelse.harness.bench_timing import register as register_bench_timing
    from whoelse.harness.demo import register as register_demo
    from whoelse.harness.review.cli import register as register_review
    from whoelse.harness.synth.cli import register as register_synth

    register_bench(benchmarks)
    register_bench_search(benchmarks)
    register_bench_alerts(benchmarks)
    register_bench_portal(benchmarks)
    register_bench_records(benchmarks)
    register_bench_timing(benchmarks)
    register_demo(commands)
    register_review(commands, benchmarks)
    register_synth(commands)
    _register_seed_practitioners(_subcommands(commands.choices["node"]))


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    """The group of subcommands a provider already gave `parser` (`whoelse node …`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError(f"{parser.prog} has no subcommands")


def _register_seed_practitioners(node_sub: Any) -> None:
    from whoelse.node.cli import with_db

    p = with_db(
        node_sub.add_parser("seed-practitioners", help="demo only: eligible accounts from synth output")
    )
    p.add_argument(
        "--from", dest="source", required=True, help="practitioners.jsonl written by whoelse synth"
    )
    p.add_argument("--out", required=True, help="where to write the credentials (JSON, mode 0600)")
    p.set_defaults(handler=cmd_seed_practitioners)


def cmd_seed_practitioners(args: argparse.Namespace) -> int:
    """Demo only: create eligible accounts for synthetic practitioners and write their credentials."""
    from whoelse.harness.demo_accounts import add_eligible
    from whoelse.node.accounts.credentials import generate_password
    from whoelse.node.accounts.service import AccountService
    from whoelse.node.cli import open_db
    from whoelse.node.settings import load

    db = open_db(args)
    with db.session() as session:
        council = load(session).council.code
    accounts = AccountService(db)  # the node's own password cost: demo accounts are no easier to spot
    out: list[dict[str, str]] = []
    for line in Path(args.source).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry.get("council") not in (None, council):
            continue
        password = generate_password()
        try:
            existing = accounts.get(entry["username"])
        except WhoElseError:
            existing = None
        if existing is None:
            totp = add_eligible(
                accounts,
                username=entry["username"],
                name=entry["name"],
                role=entry["role"],
                organisation=entry["organisation"],
                contact=entry["contact"],
                password=password,
                records_team=not out,  # the first also has the records team's pages
            )
        else:
            totp = accounts.reset_credentials(entry["username"], password)
        out.append(
            {
                "council": council,
                "username": entry["username"],
                "name": entry["name"],
                "role": entry["role"],
                "password": password,
                "totp_secret": totp.secret,
            }
        )
    Path(args.out).write_text(json.dumps(out, indent=2), encoding="utf-8")
    Path(args.out).chmod(0o600)
    print(f"{len(out)} demo practitioners for {council}; credentials in {args.out}")
    return 0
