"""`whoelse search` and `whoelse alerts`: a practitioner at their home node, until the web portal exists."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput
from whoelse.federation.practitioner_client import PractitionerClient, load_account, search_to_json
from whoelse.federation.purposes import PRACTITIONER_PURPOSES, parse_purpose
from whoelse.v1 import records_pb2 as pb


def _client(args: argparse.Namespace) -> PractitionerClient:
    root = Path(args.dir).resolve()
    account = load_account(root / "federation.json", args.as_user)
    return PractitionerClient(account, session_file=root / "sessions" / f"{args.as_user}.json")


def cmd_search(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        identity = pb.SearchIdentity(
            forename=args.forename or "",
            surname=args.surname or "",
            date_of_birth=args.dob or "",
            **closed_sets.SEX.fields(args.sex.upper()),
            postcode=args.postcode,
            nhs_number=args.nhs_number,
        )
        response = client.search(identity, args.purpose)
    finally:
        client.close()
    result = search_to_json(response)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    _print_search(result)
    return 0


def _print_search(result: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"Query {result['query_id']}: "
        f"{result['councils_answered']} of {result['councils_asked']} councils answered"
    )
    for note in result.get("notes", []):
        console.print(f"Note: {note}")
    if not result["results"]:
        console.print("No council holds a record matching this child.")
    for r in result["results"]:
        if r["band"] == "referral":
            console.print(
                f"{r['council_name']} ({r['council']}) may hold a record sharing details with this child; "
                f"ask their records team: {r['records_team_contact']}"
            )
            continue
        child = r["child"]
        name = " ".join(n for n in (child["forename"], child["surname"]) if n)
        born = f"born {child['date_of_birth']}" if "date_of_birth" in child else "date of birth not recorded"
        title = f"{r['council_name']} ({r['council']}) — {name}, {born} — {r['band']} (score {r['score']})"
        table = Table(title=title, title_justify="left", show_lines=False)
        for column in ("practitioner", "role", "organisation", "contact", "service"):
            table.add_column(column)
        for i in r["involvements"]:
            table.add_row(i["practitioner"], i["role"], i["organisation"], i["contact"], i["service_type"])
        console.print(table)
        if r["shielded"]:
            console.print(f"  [bold]Shielded record.[/bold] Contact: {r['records_team_contact']}")
        if "address" in r:
            console.print(f"  Address: {', '.join(r['address'].values())}")
        for label, key in (("School", "school_contact"), ("GP", "gp_contact")):
            if key in r:
                console.print(f"  {label}: {', '.join(r[key].values())}")
        for carer in r["carers"]:
            console.print(f"  Parent or carer: {', '.join(carer.values())}")
        if r["specialist_services_note"]:
            console.print(f"  {r['specialist_services_note']}")
        for k in r["causes_for_concern"]:
            console.print(f"  A cause for concern has been raised: contact {k['raised_by']}, {k['contact']}")
    for u in result["unanswered"]:
        console.print(
            f"[bold red]Did not answer:[/bold red] {u['council_name']} ({u['council']}): {u['reason']}"
        )


def cmd_alerts(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        if args.watch:
            for alert in client.watch(timeout=args.watch_seconds or None):
                print(
                    json.dumps(_alert(alert)) if args.json else f"{alert.occurred_on} {alert.summary}",
                    flush=True,
                )
            return 0
        alerts = client.alerts(unread_only=args.unread)
    finally:
        client.close()
    if args.json:
        print(json.dumps([_alert(a) for a in alerts], indent=2))
    elif not alerts:
        print("No alerts.")
    else:
        for a in alerts:
            print(f"{a.occurred_on}  {a.child_name} ({a.record_id}): {a.summary} — contact {a.contact}")
    return 0


def _alert(a: Any) -> dict[str, Any]:
    return {
        "alert_id": a.alert_id,
        "record_id": a.record_id,
        "child_name": a.child_name,
        "event_type": a.event_type,
        "occurred_on": a.occurred_on,
        "from_council": a.from_council_code,
        "summary": a.summary,
        "contact": a.contact,
    }


def add_identity_args(p: argparse.ArgumentParser) -> None:
    """The searched identity as options: a federated search here, a local one at a node (`node/cli.py`)."""
    p.add_argument("--forename", default="", help="leave out if not known (a newborn not yet named)")
    p.add_argument("--surname", default="")
    p.add_argument("--dob", default="", help="date of birth YYYY-MM-DD, or YYYY-MM or YYYY if that is all")
    p.add_argument("--sex", default="U", choices=["F", "M", "U", "f", "m", "u"])
    p.add_argument("--postcode", default="")
    p.add_argument("--nhs-number", default="")


def _purpose(value: str) -> str:
    try:
        return parse_purpose(value).value
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(commands: Any, benchmarks: Any) -> None:
    p = commands.add_parser("search", help="search every council for a child (as a demo practitioner)")
    p.add_argument("--dir", default="whoelse-demo", help="the demo's folder (holds federation.json)")
    p.add_argument("--as", dest="as_user", required=True, help="the practitioner's username")
    add_identity_args(p)
    p.add_argument(
        "--purpose",
        required=True,  # recorded in every council's log and told to the family: never assumed
        type=_purpose,
        help=f"why you are searching, one of: {', '.join(x.value for x in PRACTITIONER_PURPOSES)}",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_search)

    p = commands.add_parser("alerts", help="a practitioner's alerts")
    p.add_argument("--dir", default="whoelse-demo")
    p.add_argument("--as", dest="as_user", required=True)
    p.add_argument("--unread", action="store_true")
    p.add_argument("--watch", action="store_true", help="stream alerts as they arrive")
    p.add_argument("--watch-seconds", type=float, default=0, help="stop watching after this long")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_alerts)
