"""`whoelse central init | import | serve`: run the node software as ContactPoint's one central index.

Accounts are managed with the node's own commands on the same database (`whoelse node accounts … --db`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from whoelse.federation.errors import InvalidInput
from whoelse.node.storage.database import Database

DEFAULT_DB = "whoelse-central.sqlite"


def cmd_init(args: argparse.Namespace) -> int:
    from whoelse.node.central import init_central

    settings = init_central(Database(args.db), args.contact)
    print(f"central index {settings.council.name} ({settings.council.code}) ready in {args.db}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from whoelse.node.central import import_council

    source = Path(args.file)
    if not source.is_file():
        raise InvalidInput(f"{args.file}: no such file")
    written = import_council(
        Database.open_initialised(args.db), args.council, args.name, args.contact, source
    )
    print(f"imported {written} records of {args.name} ({args.council.upper()}) into the central index")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from whoelse.federation import logs
    from whoelse.federation.serving import keep_large_buffers
    from whoelse.node.central_server import serve_central

    if args.password_cost not in ("standard", "light"):
        raise InvalidInput("--password-cost must be standard or light")
    logs.configure()
    keep_large_buffers()
    serve_central(
        args.db,
        args.listen,
        Path(args.cert),
        Path(args.key),
        password_cost=args.password_cost,
        port_file=Path(args.port_file) if args.port_file else None,
    )
    return 0


def register(commands: Any) -> None:
    central = commands.add_parser("central", help="ContactPoint mode: one central index of every council")
    sub = central.add_subparsers(dest="central_command", required=True, metavar="ACTION")

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--db", default=DEFAULT_DB, help="SQLite file path or database URL (default %(default)s)"
        )
        return p

    p = with_db(sub.add_parser("init", help="create the central index's database"))
    p.add_argument("--contact", default="central index service desk", help="the central operator's contact")
    p.set_defaults(handler=cmd_init)

    p = with_db(
        sub.add_parser("import", help="copy one council's records (CSV or JSON Lines) into the index")
    )
    p.add_argument("file")
    p.add_argument("--council", required=True, help="the source council's ONS code (the holder label)")
    p.add_argument("--name", required=True, help="the source council's name")
    p.add_argument("--contact", default="", help="the source council's records team contact")
    p.set_defaults(handler=cmd_import)

    p = with_db(sub.add_parser("serve", help="answer Practitioner.Search from the central index"))
    p.add_argument("--listen", default="127.0.0.1:50061", help="address (port 0: any free port)")
    p.add_argument("--cert", required=True, help="TLS certificate (PEM)")
    p.add_argument("--key", required=True, help="TLS private key (PEM)")
    p.add_argument("--port-file", help="write the bound port here as JSON once listening")
    p.add_argument("--password-cost", default="standard", help="standard, or light (benchmarks only)")
    p.set_defaults(handler=cmd_serve)
