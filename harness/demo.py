"""`whoelse demo`: a local federation on loopback — a directory and N real councils as separate processes.

Each council gets its own SQLite file, synthetic records (with children known to several councils),
a certificate from a fresh federation CA, keys, and demo practitioner accounts. Everything is driven
through the `whoelse` command itself, so the demo exercises exactly what an operator would run.
`--detach --dir DIR` returns once every node is healthy and has tokenised its records, leaving
DIR/federation.json (endpoints, pids, demo practitioners, sample searches); `whoelse demo stop --dir DIR`
stops it all.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from whoelse.federation.errors import InvalidInput, WhoElseError
from whoelse.harness.local_federation import (
    alive,
    build,
    choose_councils,
    healthy,
    shared_children,
    stop,
    wait_ready,
)
from whoelse.harness.local_federation import start as start_processes

DEFAULT_DIR = "whoelse-demo"
DEFAULT_COUNCILS = 5
READY_TIMEOUT_S = 300.0


def _samples(data: Path, practitioners: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A few searches that each find a child held by two or more councils, asked from elsewhere."""
    out = []
    for copies in shared_children(data):
        _, first = copies[0]
        if first.get("shielding"):
            continue
        holders = {council for council, _ in copies}
        asker = next((p for p in practitioners if p["council"] not in holders), practitioners[0])
        out.append(
            {
                "as": asker["username"],
                "forename": first["forename"],
                "surname": first["surname"],
                "dob": first["date_of_birth"],
                "sex": first["sex"],
                "postcode": first["address"]["postcode"],
                "held_by": sorted(holders),
            }
        )
        if len(out) == 5:
            break
    return out


def start(args: argparse.Namespace) -> int:
    root = Path(args.dir).resolve()
    state = root / "federation.json"
    if state.exists() and any(alive(pid) for pid in _pids(state).values()):
        raise InvalidInput(
            f"a demo is already running in {root}; stop it with `whoelse demo stop --dir {root}`"
        )
    councils = choose_councils(args.councils)
    print(f"WhoElse demo in {root}: a directory and {len(councils)} councils", flush=True)
    layout = build(root, councils, children=args.children, seed=args.seed, progress=True, portals=True)
    print("  starting the directory and the councils …", flush=True)
    pids = start_processes(layout, progress=True)
    practitioners = [p for c in layout.councils for p in c.practitioners]
    federation = {
        "ca_file": str(layout.ca_dir / "ca.crt"),
        "directory": {"endpoint": f"localhost:{layout.directory_port}", "pid": pids["directory"]},
        "councils": [
            {
                "code": c.code,
                "name": c.name,
                "federation_endpoint": f"127.0.0.1:{c.federation_port}",
                "practitioner_endpoint": c.practitioner_endpoint,
                "portal": c.portal_url,
                "pid": pids[c.code],
                "database": str(c.database),
                "log": str(root / "logs" / f"{c.code}.log"),
            }
            for c in layout.councils
        ],
        "practitioners": practitioners,
        "samples": _samples(layout.data_dir, practitioners),
    }
    state.touch(mode=0o600)  # it holds demo passwords and TOTP secrets
    state.write_text(json.dumps(federation, indent=2), encoding="utf-8")
    print("  waiting for every council to be healthy and to tokenise its records …", flush=True)
    wait_ready(layout, pids, READY_TIMEOUT_S, progress=True)
    _print_tour(root, federation)
    if args.detach:
        return 0
    print("Press Ctrl-C to stop the federation.", flush=True)
    try:
        while all(alive(pid) for pid in pids.values()):
            time.sleep(1)
        print("whoelse: a demo process exited; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    stop(pids)
    return 0


def _print_tour(root: Path, federation: dict[str, Any]) -> None:
    print(f"\nReady. Federation file: {root / 'federation.json'}\n")
    for c in federation["councils"]:
        print(f"  {c['name']:<28} {c['code']}  practitioner port {c['practitioner_endpoint']}")
    print("\nTry (each sample finds one child held by two or more councils):\n")
    for s in federation["samples"][:3]:
        print(
            f"  whoelse search --dir {root} --as {s['as']} --forename {s['forename']!r} "
            f"--surname {s['surname']!r} --dob {s['dob']} --sex {s['sex']} --purpose safeguarding"
        )
    print(f"\n  whoelse alerts --dir {root} --as {federation['practitioners'][0]['username']}")
    print_portals(root, federation)
    print(f"  whoelse demo stop --dir {root}\n")


def print_portals(root: Path, federation: dict[str, Any]) -> None:
    """Each council's web portal and a demo sign-in for it (docs/portal.md), with the current TOTP code."""
    import pyotp

    print("\nWeb portals (plain HTTP on this machine only; sign in with a username, password and code):\n")
    for c in federation["councils"]:
        who = next((p for p in federation["practitioners"] if p["council"] == c["code"]), None)
        if not c.get("portal") or who is None:
            continue
        code = pyotp.TOTP(who["totp_secret"]).now()
        print(f"  {c['name']:<28} {c['portal']}")
        print(f"    sign in as {who['username']}  password {who['password']}  code {code}")
    print("  (each of these also has the records team's page)")
    print(f"\n  A fresh code for anyone: whoelse demo totp USERNAME --dir {root}")


def cmd_totp(root: Path, username: str) -> int:
    """`whoelse demo totp USERNAME`: the demo practitioner's current TOTP code (each works once)."""
    import pyotp

    state = root / "federation.json"
    if not state.exists():
        raise InvalidInput(f"no demo in {root} (no federation.json)")
    for p in json.loads(state.read_text(encoding="utf-8"))["practitioners"]:
        if p["username"] == username:
            print(pyotp.TOTP(p["totp_secret"]).now())
            return 0
    raise InvalidInput(f"no demo practitioner {username!r} in {state}")


def _pids(state: Path) -> dict[str, int]:
    data = json.loads(state.read_text(encoding="utf-8"))
    return {"directory": data["directory"]["pid"], **{c["code"]: c["pid"] for c in data["councils"]}}


def stop_all(state: Path) -> int:
    return stop(_pids(state))


def status(root: Path) -> list[dict[str, Any]]:
    """Each demo process and port: running or not, and whether each council serves federated search."""
    state = root / "federation.json"
    if not state.exists():
        raise InvalidInput(f"no demo in {root} (no federation.json)")
    data = json.loads(state.read_text(encoding="utf-8"))
    ca_pem = Path(data["ca_file"]).read_bytes()
    rows = [
        {
            "name": "directory",
            "code": "",
            "pid": data["directory"]["pid"],
            "running": alive(data["directory"]["pid"]),
            "endpoint": data["directory"]["endpoint"],
            "serving": None,
        }
    ]
    for c in data["councils"]:
        running = alive(c["pid"])
        rows.append(
            {
                "name": c["name"],
                "code": c["code"],
                "pid": c["pid"],
                "running": running,
                "endpoint": c["practitioner_endpoint"],
                "serving": running and healthy(c["practitioner_endpoint"], ca_pem),
            }
        )
    return rows


def cmd_status(args: argparse.Namespace) -> int:
    rows = status(Path(args.dir).resolve())
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            state = "running" if row["running"] else "STOPPED"
            if row["serving"] is not None:
                state += ", serving searches" if row["serving"] else ", NOT serving searches"
            label = f"{row['name']} ({row['code']})" if row["code"] else row["name"]
            print(f"{label:<32} pid {row['pid']:<8} {row['endpoint']:<18} {state}")
    # Non-zero when any part is down, so scripts can wait on it.
    return 0 if all(r["running"] and r["serving"] is not False for r in rows) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    if args.action == "status":
        return cmd_status(args)
    if args.action == "totp":
        if not args.username:
            raise InvalidInput("whoelse demo totp USERNAME: give the practitioner's username")
        return cmd_totp(Path(args.dir).resolve(), args.username)
    if args.action == "stop":
        state = Path(args.dir).resolve() / "federation.json"
        if not state.exists():
            raise InvalidInput(f"no demo in {state.parent} (no federation.json)")
        stopped = stop_all(state)
        print(f"stopped {stopped} demo processes")
        return 0
    try:
        return start(args)
    except WhoElseError:
        raise
    except KeyboardInterrupt:
        state = Path(args.dir).resolve() / "federation.json"
        if state.exists():
            stop_all(state)
        raise


def register(commands: Any) -> None:
    p = commands.add_parser("demo", help="run a local federation (directory + councils) with sample data")
    p.add_argument("action", nargs="?", choices=["start", "stop", "status", "totp"], default="start")
    p.add_argument("username", nargs="?", help="totp: the demo practitioner whose current code to print")
    p.add_argument("--dir", default=DEFAULT_DIR, help="where the demo keeps its files (default %(default)s)")
    p.add_argument("--councils", type=int, default=DEFAULT_COUNCILS)
    p.add_argument("--children", type=int, default=600, help="children per council (default %(default)s)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--detach", action="store_true", help="return once healthy, leaving the federation running"
    )
    p.add_argument("--json", action="store_true", help="status: print JSON instead of a table")
    p.set_defaults(handler=cmd_demo)
