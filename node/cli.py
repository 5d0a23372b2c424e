"""`whoelse node …`: one council's commands (the demo, synthetic data and benchmarks are in harness/)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from whoelse.federation import closed_sets
from whoelse.federation.client_cli import add_identity_args
from whoelse.federation.errors import InvalidInput
from whoelse.federation.identity import Identity
from whoelse.node.keystore import KEY_FOLDER_SUFFIX, KEYS_ENV
from whoelse.node.storage.database import Database
from whoelse.node.wire import identity_from_pb
from whoelse.v1 import records_pb2 as pb

DEFAULT_DB = "whoelse-node.sqlite"


def open_db(args: argparse.Namespace) -> Database:
    """The council's existing, initialised database (only `init` creates one)."""
    return Database.open_initialised(args.db)


def _settings(db: Database) -> Any:
    from whoelse.node.settings import load

    with db.session() as session:
        return load(session)


def cmd_init(args: argparse.Namespace) -> int:
    from whoelse.node.settings import initialise

    db = Database(args.db)
    db.migrate()
    with db.session() as session:
        settings = initialise(session, args.council, args.name, args.records_contact)
    print(f"node initialised for {settings.council.name} ({settings.council.code})")
    print(f"keys kept in {db.key_store.where} (back it up apart from the database: docs/operations.md)")
    return 0


EXIT_REFUSED = 2
EXIT_PARTIAL = 3  # `import --on-error quarantine`: the valid rows were imported, some rows were not


def cmd_import(args: argparse.Namespace) -> int:
    """Import (or with --check only validate) a file.

    Exit 0, 2 (nothing was written) or 3 (the valid rows were written, the rest quarantined)."""
    try:
        return _import(args)
    except InvalidInput as exc:
        if not args.json:
            raise
        print(json.dumps({"file": Path(args.file).name, "error": str(exc)}))
        print(f"whoelse: error: {exc}", file=sys.stderr)
        return EXIT_REFUSED


def _import(args: argparse.Namespace) -> int:
    import getpass

    from whoelse.node.changes import import_with_changes
    from whoelse.node.import_files import file_kind, printable
    from whoelse.node.importer import (
        MAX_ERRORS_SHOWN,
        ImportRejected,
        ImportReport,
        Mode,
        OnError,
        check_file,
        describe,
    )

    # The database first: a mistyped --db is named before anything about the file (only init creates one).
    db = None if args.check else open_db(args)
    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"{printable(args.file, 200)}: no such file")
    file_kind(path)
    mode, on_error = Mode(args.mode), OnError(args.on_error)
    problems_path = Path(args.problems) if args.problems else None
    if problems_path is None and on_error is OnError.QUARANTINE:
        problems_path = path.with_name(
            f"{path.stem}.problems{path.suffix.lower().replace('.ndjson', '.jsonl')}"
        )

    def finish(report: ImportReport, status: int) -> int:
        if db is not None and status != EXIT_REFUSED:  # the records team's import page; a refused import
            # (or a --check) writes nothing at all, as the importer's contract says
            from whoelse.node.import_history import record_import

            record_import(db, report, by=printable(getpass.getuser(), 40))
        if args.json:
            print(json.dumps({**report.to_json(), "exit_status": status}, ensure_ascii=False))
        for problem in report.problems[:MAX_ERRORS_SHOWN]:
            print(f"whoelse: error: {problem}", file=sys.stderr)
        if report.problem_count > MAX_ERRORS_SHOWN:
            print(f"whoelse: error: … and {report.problem_count - MAX_ERRORS_SHOWN} more", file=sys.stderr)
        return status

    if args.check:
        report = check_file(path, problems_path=problems_path, mode=mode)
        if not args.json:
            print(describe(report) + ("" if report.problem_count else "; the file is valid"))
        return finish(report, EXIT_REFUSED if report.problem_count else 0)

    assert db is not None
    settings = _settings(db)
    by = f"import of {printable(path.name, 100)} by {printable(getpass.getuser(), 40)}"
    show_progress = args.progress or (sys.stderr.isatty() and not args.quiet and not args.json)
    options: dict[str, Any] = {
        "alerts": not args.no_alerts,
        "by": by,
        "mode": mode,
        "on_error": on_error,
        "problems_path": problems_path,
    }
    try:
        if show_progress:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(f"importing {path.name}", total=None)
                report = import_with_changes(
                    db,
                    path,
                    settings,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                    **options,
                )
        else:
            report = import_with_changes(db, path, settings, **options)
    except ImportRejected as exc:
        rejected = ImportReport(
            path.name,
            0,
            rejected_rows=len({p.line for p in exc.problems}),
            problem_count=exc.total,
            problems=exc.problems,
            mode=mode,
        )
        finish(rejected, EXIT_REFUSED)
        print(f"whoelse: error: {path.name}: {exc.total} problems; nothing was imported", file=sys.stderr)
        return EXIT_REFUSED
    if not args.json:
        print(describe(report, settings.council.name))
    return finish(report, EXIT_PARTIAL if report.rejected_rows else 0)


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from whoelse.federation.serving import keep_large_buffers
    from whoelse.node.config import ENV_PREFIX

    keep_large_buffers()
    if not args.config and any(k.startswith(ENV_PREFIX) for k in os.environ):
        args.config = [None]  # configured entirely by WHOELSE_NODE_* variables (containers)
    if args.config:
        from whoelse.federation import logs
        from whoelse.node.config import load_config
        from whoelse.node.runtime import NodeRuntime, serve_forever

        logs.configure()
        configs = [load_config(Path(c) if c else None) for c in args.config]
        # Several councils in one process (benchmarks) share its CPU, so each gets a smaller thread pool.
        workers = 32 if len(configs) == 1 else 4
        portal = None
        if args.portal_port is not None:  # the web portal (node/portal): council i on --portal-port + i
            from whoelse.node.portal.server import portal_starter

            portal = portal_starter(
                args.portal_host,
                args.portal_port,
                args.portal_allow_remote,
                plain_http=args.portal_plain_http,
            )
        serve_forever([NodeRuntime(c, workers=workers) for c in configs], portal)
        return 0
    from whoelse.node.server import serve

    serve(args.listen, open_db(args))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from whoelse.node.backup import backup

    contents = backup(open_db(args), Path(args.to))
    print(
        f"backed up {contents.council}: {contents.records} records, {contents.audit_entries} audit entries "
        f"to {args.to}"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from whoelse.node.backup import restore

    restored = restore(Path(args.source), args.db)
    c = restored.contents
    print(
        f"restored {c.council} into {args.db}: {c.records} records and {c.audit_entries} audit entries, as "
        f"backed up at {c.taken_at}; audit log and {restored.verified_heads} signed heads verify"
    )
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    """The node's public keys, for enrolment at the directory (never the private halves)."""
    settings = _settings(open_db(args))
    print(
        json.dumps(
            {
                "council": settings.council.code,
                "signing_key": settings.signing_key.verify_key_bytes.hex(),
                "sealing_key": settings.sealing_key.public_key_bytes.hex(),
            }
        )
    )
    return 0


def _search_identity(args: argparse.Namespace) -> Identity:
    """The searched identity, through the same checks as a practitioner's search (node/wire.py)."""
    return identity_from_pb(
        pb.SearchIdentity(
            forename=args.forename or "",
            surname=args.surname or "",
            date_of_birth=args.dob or "",
            **closed_sets.SEX.fields(args.sex.upper()),
            postcode=args.postcode or "",
            nhs_number=args.nhs_number or "",
        )
    )


def cmd_local_search(args: argparse.Namespace) -> int:
    from whoelse.node.local_search import local_search

    db = open_db(args)
    found = local_search(db, _settings(db), _search_identity(args), limit=args.limit)
    out = [
        {
            "score": round(c.score, 2),
            "band": c.band,
            "record_id": c.disclosure.record_id,
            "name": " ".join(n for n in (c.disclosure.forename, c.disclosure.surname) if n),
            "date_of_birth": c.disclosure.date_of_birth.isoformat() if c.disclosure.date_of_birth else "",
            "shielded": c.disclosure.shielded,
        }
        for c in found
    ]
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    if not out:
        print("No record here matches.")
    for row in out:
        shielded = ", shielded" if row["shielded"] else ""
        print(
            f"{row['record_id']}: {row['name']}, born {row['date_of_birth']} — {row['band']} "
            f"(score {row['score']}){shielded}"
        )
    return 0


def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give a node command the council database option."""
    p.add_argument(
        "--db",
        default=DEFAULT_DB,
        help=f"SQLite file path or database URL (default %(default)s); the keys are in the folder beside "
        f"a SQLite file (PATH{KEY_FOLDER_SUFFIX}/), or where {KEYS_ENV} says",
    )
    return p


def register(commands: Any, benchmarks: Any) -> None:
    node = commands.add_parser("node", help="run and operate a council's node")
    node_sub = node.add_subparsers(dest="node_command", required=True, metavar="ACTION")

    p = with_db(node_sub.add_parser("init", help="set which council this node is"))
    p.add_argument("--council", required=True, help="ONS code, e.g. E08000035")
    p.add_argument("--name", required=True)
    p.add_argument("--records-contact", default="", help="how to contact the council's records team")
    p.set_defaults(handler=cmd_init)

    p = with_db(node_sub.add_parser("import", help="import records from CSV or JSON Lines"))
    p.add_argument("file")
    p.add_argument("--progress", action="store_true", help="always show a progress bar")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--no-alerts", action="store_true", help="do not alert other councils about these changes")
    p.add_argument("--check", action="store_true", help="validate only: report every problem, write nothing")
    p.add_argument(
        "--on-error",
        choices=["reject", "quarantine"],
        default="reject",
        help="reject: any bad row and nothing is imported (default); quarantine: import the valid rows, "
        "list the rest in the problems file and exit 3",
    )
    p.add_argument(
        "--problems",
        metavar="FILE",
        help="write every problem to FILE (.jsonl or .csv; default with "
        "quarantine: NAME.problems.jsonl or .csv beside the file)",
    )
    p.add_argument(
        "--mode",
        choices=["upsert", "full"],
        default="upsert",
        help="upsert: add or replace these records (default); full: the file lists every child, so end "
        "(never delete) the records it does not list",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on standard output")
    p.set_defaults(handler=cmd_import)

    p = with_db(node_sub.add_parser("serve", help="run the node's gRPC servers"))
    p.add_argument(
        "--config",
        action="append",
        help="federated node: YAML config (node/config.py); repeat to host several councils in one process",
    )
    p.add_argument("--listen", default="127.0.0.1:50051", help="local-only node: CouncilNode address")
    portal = p.add_argument_group("web portal (docs/portal.md)")
    portal.add_argument(
        "--portal-port", type=int, help="serve the practitioners' web portal on this port (0: any free port)"
    )
    portal.add_argument("--portal-host", default="127.0.0.1", help="portal address (default 127.0.0.1)")
    portal.add_argument(
        "--portal-plain-http",
        action="store_true",
        help="serve plain HTTP instead of HTTPS with the node's certificate (the demo, on loopback only)",
    )
    portal.add_argument(
        "--portal-allow-remote",
        action="store_true",
        help="with --portal-plain-http, allow a non-loopback --portal-host (only behind a TLS proxy)",
    )
    p.set_defaults(handler=cmd_serve)

    p = with_db(node_sub.add_parser("search", help="search this council's own records"))
    add_identity_args(p)
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print JSON instead of one line a record")
    p.set_defaults(handler=cmd_local_search)

    p = with_db(node_sub.add_parser("keys", help="print this node's public keys (JSON) for enrolment"))
    p.set_defaults(handler=cmd_keys)

    p = with_db(node_sub.add_parser("backup", help="copy the council's database to a file, consistently"))
    p.add_argument("--to", required=True, help="the backup file to write (and FILE.json beside it)")
    p.set_defaults(handler=cmd_backup)

    p = with_db(node_sub.add_parser("restore", help="restore a backup into a new database, and check it"))
    p.add_argument("--from", dest="source", required=True, help="a file written by `whoelse node backup`")
    p.set_defaults(handler=cmd_restore)

    p = with_db(node_sub.add_parser("migrate", help="bring the database schema up to date"))
    p.set_defaults(handler=lambda a: (open_db(a), 0)[1])

    from whoelse.node.alerts.cli import add_alert_commands

    add_alert_commands(node_sub, open_db, with_db)
    from whoelse.node.retention_cli import add_retention_commands

    add_retention_commands(node_sub, open_db, with_db)
    from whoelse.node.records_api.cli import add_system_commands

    add_system_commands(node_sub, open_db, with_db)
    _register_optional(node_sub, commands)


AUDITED_ACCOUNT_ACTIONS = ("add", "update", "reset", "suspend", "reinstate", "end", "unlock")


def _audit_account_changes(practitioner: argparse.ArgumentParser) -> None:
    """Every change to a practitioner account is written to the council's audit log (P5), by whom."""
    actions = next(a for a in practitioner._actions if isinstance(a, argparse._SubParsersAction))
    for name in AUDITED_ACCOUNT_ACTIONS:
        parser = actions.choices[name]
        inner = parser.get_default("handler")

        def audited(args: argparse.Namespace, inner: Any = inner, action: str = name) -> int:
            import getpass

            from whoelse.node.accounts.service import audit_action
            from whoelse.node.audit import AuditLog

            # Opened first: a database that cannot take the audit entry must not get the account change
            # (nor a new account's password and TOTP secret printed for handing over).
            audit = AuditLog.of(open_db(args))
            result = int(inner(args))
            if result == 0:
                done = audit_action(action, getattr(args, "records_team", None))
                audit.account_event(args.username, done, getpass.getuser())
            return result

        parser.set_defaults(handler=audited)


def _register_optional(node_sub: Any, commands: Any) -> None:
    """Parts built separately plug in here."""
    from whoelse.node.accounts.cli import add_practitioner_commands
    from whoelse.node.audit_cli import add_audit_commands
    from whoelse.node.central_cli import register as register_central

    practitioner = add_practitioner_commands(node_sub, open_db)
    _audit_account_changes(practitioner)
    add_audit_commands(node_sub, open_db)
    register_central(commands)
