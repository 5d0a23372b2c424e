"""The `whoelse` command: one entry point whose subcommands are provided by each part.

Each provider module exposes ``register(commands, benchmarks)`` (two argparse subparser groups);
it is imported by name so that `federation`
does not import `node` or `directory` at module load (they import `federation`, not the other way round).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

# gRPC's C core logs each failed TLS handshake (a client that gave up, a scanner, a server still starting) as
# an informational line on stderr; a whoelse process shows only its errors unless the operator asks for
# more. It is read once, when grpc is first imported, so it is set before any part is loaded.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from whoelse.federation.errors import WhoElseError

PROVIDERS = (
    "whoelse.node.cli",
    "whoelse.directory.cli",
    "whoelse.federation.cli_federation",
    "whoelse.federation.client_cli",
    "whoelse.federation.audit_cli",
    "whoelse.harness.cli",  # after whoelse.node.cli: it adds the demo-only `node seed-practitioners`
)

Handler = Callable[[argparse.Namespace], int]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("whoelse")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whoelse", description="Who else is working with this child?")
    parser.add_argument("--version", action="version", version=f"whoelse {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench_parser = sub.add_parser("bench", help="measure and print JSON figures")
    bench = bench_parser.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    for name in PROVIDERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a part not built yet
            raise
        module.register(sub, bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except WhoElseError as exc:
        print(f"whoelse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("whoelse: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`whoelse … --json | head`): stop quietly, as other commands do, and keep
        # Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command cut short this way


if __name__ == "__main__":
    sys.exit(main())
