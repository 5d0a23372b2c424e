"""`whoelse node practitioner add|update|reset|suspend|reinstate|end|unlock|list`: account controls.

The `whoelse node` parser calls `add_practitioner_commands(node_subparsers, open_db)`; each handler opens the
council's database through `open_db(args)` and returns an exit status.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from whoelse.federation.errors import InvalidInput
from whoelse.node.accounts.credentials import generate_password
from whoelse.node.accounts.eligibility import check_eligibility
from whoelse.node.accounts.service import AccountService, Practitioner, TotpEnrolment
from whoelse.node.storage.database import Database

OpenDb = Callable[[argparse.Namespace], Database]
ServiceFactory = Callable[[Database], AccountService]
DEFAULT_DB = "whoelse-node.sqlite"  # the same default as the other `whoelse node` commands


def add_practitioner_commands(
    node_subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    open_db: OpenDb,
    service_factory: ServiceFactory = AccountService,
) -> argparse.ArgumentParser:
    """Add `practitioner ...` under `whoelse node`; returns the `practitioner` parser."""

    def service(args: argparse.Namespace) -> AccountService:
        if getattr(args, "db", None) is None:
            args.db = DEFAULT_DB
        return service_factory(open_db(args))

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        # SUPPRESS: when not given here, a --db given earlier on the command line is kept, not overwritten.
        p.add_argument("--db", default=argparse.SUPPRESS, help="SQLite file path or database URL")
        return p

    parser = with_db(
        node_subparsers.add_parser(
            "practitioner", help="grant, suspend, reinstate, end, unlock and list practitioner accounts"
        )
    )
    sub = parser.add_subparsers(dest="practitioner_command", required=True, metavar="ACTION")

    add = with_db(
        sub.add_parser(
            "add", help="grant an account; prints the password (if generated) and TOTP secret once"
        )
    )
    add.add_argument("--username", required=True, help="log-in name, unique in this council")
    add.add_argument("--name", required=True, help="the practitioner's full name as colleagues will see it")
    add.add_argument("--role", required=True, help="e.g. 'Social worker', 'Health visitor'")
    add.add_argument("--organisation", required=True)
    add.add_argument("--contact", required=True, help="work telephone or e-mail other practitioners may use")
    add.add_argument("--manager", default="", help="the manager who authorised this account")
    _add_date_flags(add)
    accredited = add.add_mutually_exclusive_group()
    accredited.add_argument("--accredited", dest="accredited", action="store_true", default=False)
    accredited.add_argument("--not-accredited", dest="accredited", action="store_false")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the initial password from standard input"
    )
    add.add_argument(
        "--records-team",
        action="store_true",
        help="may also use the portal's records team pages (accounts, shielding, subject access, audit)",
    )
    add.add_argument("--json", action="store_true", help="print the account and its secrets as JSON")
    add.set_defaults(handler=lambda args: _add(service(args), args))

    update = with_db(
        sub.add_parser("update", help="record new facts: a renewed check, training, agreement, accreditation")
    )
    update.add_argument("username")
    update.add_argument("--name")
    update.add_argument("--role")
    update.add_argument("--organisation")
    update.add_argument("--contact")
    update.add_argument("--manager", help="the manager who authorised this account ('' withdraws it)")
    _add_date_flags(update)
    update_accredited = update.add_mutually_exclusive_group()
    update_accredited.add_argument("--accredited", dest="accredited", action="store_true", default=None)
    update_accredited.add_argument("--not-accredited", dest="accredited", action="store_false")
    role = update.add_mutually_exclusive_group()
    role.add_argument(
        "--records-team",
        dest="records_team",
        action="store_true",
        default=None,
        help="grant the portal's records team pages",
    )
    role.add_argument("--not-records-team", dest="records_team", action="store_false", help="withdraw them")
    update.add_argument("--json", action="store_true", help="print the account as JSON")
    update.set_defaults(handler=lambda args: _update(service(args), args))

    reset = with_db(
        sub.add_parser(
            "reset", help="issue a new password and TOTP secret (e.g. a lost phone); lifts any lock"
        )
    )
    reset.add_argument("username")
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the new password from standard input"
    )
    reset.add_argument("--json", action="store_true", help="print the new secrets as JSON")
    reset.set_defaults(handler=lambda args: _reset(service(args), args))

    suspend = with_db(
        sub.add_parser("suspend", help="stop an account logging in or searching until reinstated")
    )
    suspend.add_argument("username")
    suspend.add_argument("--reason", required=True)
    suspend.set_defaults(handler=lambda args: _status(service(args).suspend(args.username, args.reason)))

    reinstate = with_db(sub.add_parser("reinstate", help="make a suspended account active again"))
    reinstate.add_argument("username")
    reinstate.add_argument("--reason", default="")
    reinstate.set_defaults(handler=lambda args: _status(service(args).reinstate(args.username, args.reason)))

    end = with_db(sub.add_parser("end", help="end an account for good"))
    end.add_argument("username")
    end.add_argument("--reason", default="")
    end.set_defaults(handler=lambda args: _status(service(args).end(args.username, args.reason)))

    unlock = with_db(sub.add_parser("unlock", help="lift a log-in lock or slow-down at once"))
    unlock.add_argument("username")
    unlock.set_defaults(handler=lambda args: _unlock(service(args), args.username))

    listing = with_db(
        sub.add_parser("list", help="list accounts, whether each may search, and any log-in lock")
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=lambda args: _list(service(args), as_json=args.json))
    return parser


def _add_date_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--authorised-on", metavar="YYYY-MM-DD", help="date of the manager's authorisation (today)"
    )
    parser.add_argument(
        "--dbs-checked", metavar="YYYY-MM-DD", help="date of the enhanced criminal-records check"
    )
    parser.add_argument("--trained", metavar="YYYY-MM-DD", help="date WhoElse training was completed")
    parser.add_argument(
        "--agreement-signed", metavar="YYYY-MM-DD", help="date the end-user agreement was signed"
    )


def _dates(args: argparse.Namespace) -> dict[str, dt.date | None]:
    return {
        "manager_authorised_on": _date("--authorised-on", args.authorised_on),
        "dbs_checked_on": _date("--dbs-checked", args.dbs_checked),
        "training_completed_on": _date("--trained", args.trained),
        "agreement_signed_on": _date("--agreement-signed", args.agreement_signed),
    }


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from standard input, or a generated one; and whether it was generated."""
    if not args.password_stdin:
        return generate_password(), True
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidInput("--password-stdin: no password on standard input")
    return password, False


def _secrets(password: str, generated: bool, totp: TotpEnrolment) -> dict[str, str]:
    """The secrets to hand over once, for --json (the password only when it was generated here)."""
    return {**({"password": password} if generated else {}), "totp_secret": totp.secret, "totp_uri": totp.uri}


def _account(accounts: AccountService, p: Practitioner) -> dict[str, Any]:
    """One account as `practitioner list --json` and the other commands' --json show it (no secrets)."""
    ineligible = check_eligibility(p, accounts.today())
    return {
        "username": p.username,
        "display_name": p.display_name,
        "role": p.role,
        "organisation": p.organisation,
        "contact": p.contact,
        "status": p.status.value,
        "status_reason": p.status_reason,
        "manager_authorised_by": p.manager_authorised_by,
        "manager_authorised_on": _iso(p.manager_authorised_on),
        "dbs_checked_on": _iso(p.dbs_checked_on),
        "training_completed_on": _iso(p.training_completed_on),
        "agreement_signed_on": _iso(p.agreement_signed_on),
        "organisation_accredited": p.organisation_accredited,
        "records_team": p.records_team,
        "created_at": _iso(p.created_at),
        "ended_at": _iso(p.ended_at),
        "may_search": not ineligible,
        "ineligible": [r.reason.value for r in ineligible],
        "locked_until": _iso(accounts.locked_until(p.username)),
    }


def _print_secrets(password: str, generated: bool, totp: TotpEnrolment) -> None:
    print("Give these to the practitioner securely; they are not shown again:")
    if generated:
        print(f"  password:    {password}")
    print(f"  TOTP secret: {totp.secret}")
    print(f"  TOTP URI:    {totp.uri}")


def _print_eligibility(accounts: AccountService, practitioner: Practitioner) -> None:
    reasons = check_eligibility(practitioner, accounts.today())
    if reasons:
        print("May not search yet:")
        for reason in reasons:
            print(f"  - {reason.message}")
    else:
        print("May search.")


def _date(flag: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{flag}: expected a date as YYYY-MM-DD, got {value!r}") from None


def _add(accounts: AccountService, args: argparse.Namespace) -> int:
    password, generated = _password(args)
    practitioner, totp = accounts.add(
        username=args.username,
        display_name=args.name,
        role=args.role,
        organisation=args.organisation,
        contact=args.contact,
        password=password,
        manager_authorised_by=args.manager,
        organisation_accredited=args.accredited,
        records_team=args.records_team,
        **_dates(args),
    )
    if args.json:
        print(
            json.dumps({**_account(accounts, practitioner), **_secrets(password, generated, totp)}, indent=2)
        )
        return 0
    print(
        f"Added {practitioner.username} ({practitioner.display_name}, {practitioner.role}, "
        f"{practitioner.organisation})"
        + (", with the records team's pages." if practitioner.records_team else ".")
    )
    _print_secrets(password, generated, totp)
    _print_eligibility(accounts, practitioner)
    return 0


def _update(accounts: AccountService, args: argparse.Namespace) -> int:
    practitioner = accounts.update(
        args.username,
        display_name=args.name,
        role=args.role,
        organisation=args.organisation,
        contact=args.contact,
        manager_authorised_by=args.manager,
        organisation_accredited=args.accredited,
        records_team=args.records_team,
        **_dates(args),
    )
    if args.json:
        print(json.dumps(_account(accounts, practitioner), indent=2))
        return 0
    print(f"Updated {practitioner.username}.")
    _print_eligibility(accounts, practitioner)
    return 0


def _reset(accounts: AccountService, args: argparse.Namespace) -> int:
    password, generated = _password(args)
    totp = accounts.reset_credentials(args.username, password)
    if args.json:
        print(json.dumps({"username": args.username, **_secrets(password, generated, totp)}, indent=2))
        return 0
    print(f"New credentials for {args.username}; the old password, code and sessions no longer work.")
    _print_secrets(password, generated, totp)
    return 0


def _status(practitioner: Practitioner) -> int:
    print(f"{practitioner.username} is now {practitioner.status.value}.")
    return 0


def _unlock(accounts: AccountService, username: str) -> int:
    if accounts.unlock(username):
        print(f"{username} may log in again now.")
    else:
        print(f"{username} was not locked or slowed down.")
    return 0


def _list(accounts: AccountService, *, as_json: bool) -> int:
    rows = [_account(accounts, p) for p in accounts.list()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"Practitioner accounts ({len(rows)})")
    for heading in (
        "username",
        "name",
        "role",
        "organisation",
        "status",
        "may search",
        "locked until",
        "records team",
    ):
        table.add_column(heading)
    for row in rows:
        table.add_row(
            row["username"],
            row["display_name"],
            row["role"],
            row["organisation"],
            row["status"],
            "yes" if row["may_search"] else "no: " + ", ".join(row["ineligible"]),
            row["locked_until"] or "",
            "yes" if row["records_team"] else "",
        )
    console = Console()
    if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
        console = Console(width=200)
    console.print(table)
    return 0


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()
