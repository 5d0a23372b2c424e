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
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.errors import InvalidInput, Unavailable, WhoElseError

DEFAULT_DIR = "whoelse-demo"
DEFAULT_COUNCILS = 5
READY_TIMEOUT_S = 300.0
PRACTITIONER_SERVICE = "whoelse.v1.Practitioner"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _whoelse(*args: str, capture: bool = True) -> str:
    """Run one `whoelse` command as a subprocess; a failure becomes a one-line error naming the step."""
    proc = subprocess.run(
        [sys.executable, "-m", "federation.cli", *args], capture_output=capture, text=True, check=False
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip().splitlines()
        raise Unavailable(
            f"demo step `whoelse {' '.join(args[:3])} …` failed: {detail[-1] if detail else '?'}"
        )
    return proc.stdout


@dataclass
class CouncilPlan:
    code: str
    name: str
    federation_port: int
    practitioner_port: int


def choose_councils(count: int) -> list[tuple[str, str]]:
    """`count` neighbouring real councils, starting from Leeds (so moves between them are realistic)."""
    from node.synth.councils import council, neighbours

    if not 2 <= count <= 153:
        raise InvalidInput("--councils must be between 2 and 153")
    first = council("E08000035")  # Leeds
    chosen = [first, *neighbours(first.code, k=count - 1)]
    return [(c.code, c.name) for c in chosen[:count]]


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "federation.cli", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # the demo survives the shell that started it (--detach)
    )


def _healthy(endpoint: str, ca: bytes, service: str) -> bool:
    channel = grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(root_certificates=ca))
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=1
        )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False
    finally:
        channel.close()


def _samples(
    data: Path, plans: list[CouncilPlan], practitioners: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A few searches that each find a child held by two or more councils, asked from elsewhere."""
    truth = [
        json.loads(line) for line in (data / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    shared = [t for t in truth if len({c["council"] for c in t["copies"]}) >= 2]
    records: dict[tuple[str, str], dict[str, Any]] = {}
    wanted = {(c["council"], c["record_id"]) for t in shared[:40] for c in t["copies"]}
    for plan in plans:
        for line in (data / f"{plan.code}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if (plan.code, row["record_id"]) in wanted:
                records[(plan.code, row["record_id"])] = row
    out = []
    for t in shared:
        copies = [records.get((c["council"], c["record_id"])) for c in t["copies"]]
        first = copies[0]
        if first is None or first.get("shielding"):
            continue
        holders = {c["council"] for c in t["copies"]}
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
    if state.exists() and any(_alive(pid) for pid in _pids(state)):
        raise InvalidInput(
            f"a demo is already running in {root}; stop it with `whoelse demo stop --dir {root}`"
        )
    for sub in ("ca", "data", "nodes", "logs", "directory-keys"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    councils = choose_councils(args.councils)
    print(f"WhoElse demo in {root}: a directory and {len(councils)} councils", flush=True)
    ca = root / "ca"
    if not (ca / "ca.crt").exists():
        _whoelse("ca", "init", "--dir", str(ca))
    _whoelse(
        "ca", "issue", "--dir", str(ca), "--name", "directory", "--dns", "localhost", "--ip", "127.0.0.1"
    )
    directory_db = root / "directory.sqlite"
    for leftover in (directory_db, *root.glob("directory.sqlite-*"), *root.glob("directory-keys/*")):
        leftover.unlink(missing_ok=True)
    for leftover in (*root.glob("nodes/*.sqlite*"), *root.glob("nodes/*/council-list.bin")):
        leftover.unlink(missing_ok=True)
    _whoelse("directory", "init", "--db", str(directory_db), "--dir", str(root / "directory-keys"))
    directory_port = _free_port()
    codes = ",".join(code for code, _ in councils)
    print("  generating synthetic records …", flush=True)
    _whoelse(
        "synth",
        "--councils",
        codes,
        "--children",
        str(args.children),
        "--seed",
        str(args.seed),
        "--out",
        str(root / "data"),
    )
    plans = [CouncilPlan(code, name, _free_port(), _free_port()) for code, name in councils]
    practitioners: list[dict[str, Any]] = []
    for plan in plans:
        db = str(root / "nodes" / f"{plan.code}.sqlite")
        contact = f"{plan.name} children's records team, records@{plan.code.lower()}.whoelse.test"
        _whoelse(
            "node",
            "init",
            "--db",
            db,
            "--council",
            plan.code,
            "--name",
            plan.name,
            "--records-contact",
            contact,
        )
        _whoelse("node", "import", str(root / "data" / f"{plan.code}.jsonl"), "--db", db, "--quiet")
        creds = root / "nodes" / f"{plan.code}-practitioners.json"
        _whoelse(
            "node",
            "seed-practitioners",
            "--db",
            db,
            "--from",
            str(root / "data" / "practitioners.jsonl"),
            "--out",
            str(creds),
        )
        practitioners += json.loads(creds.read_text(encoding="utf-8"))
        keys = json.loads(_whoelse("node", "keys", "--db", db))
        _whoelse(
            "ca", "issue", "--dir", str(ca), "--name", plan.code, "--dns", "localhost", "--ip", "127.0.0.1"
        )
        _whoelse(
            "directory",
            "add",
            plan.code,
            "--db",
            str(directory_db),
            "--name",
            plan.name,
            "--endpoint",
            f"127.0.0.1:{plan.federation_port}",
            "--signing-key",
            keys["signing_key"],
            "--sealing-key",
            keys["sealing_key"],
            "--cert",
            str(ca / f"{plan.code}.crt"),
        )
        config = {
            "database": db,
            "listen_federation": f"127.0.0.1:{plan.federation_port}",
            "listen_practitioner": f"127.0.0.1:{plan.practitioner_port}",
            "directory": f"localhost:{directory_port}",
            "tls": {
                "ca": str(ca / "ca.crt"),
                "cert": str(ca / f"{plan.code}.crt"),
                "key": str(ca / f"{plan.code}.key"),
            },
            "directory_verify_key": str(root / "directory-keys" / "directory.pub"),
            "state_dir": str(root / "nodes" / plan.code),
        }
        (root / "nodes" / f"{plan.code}.yaml").write_text(json.dumps(config, indent=2), encoding="utf-8")
        print(
            f"  {plan.name} ({plan.code}): records imported, "
            f"{len(json.loads(creds.read_text()))} practitioners"
        )

    procs: dict[str, subprocess.Popen[bytes]] = {}
    procs["directory"] = _spawn(
        [
            "directory",
            "serve",
            "--db",
            str(directory_db),
            "--dir",
            str(root / "directory-keys"),
            "--listen",
            f"127.0.0.1:{directory_port}",
            "--ca",
            str(ca / "ca.crt"),
            "--cert",
            str(ca / "directory.crt"),
            "--key",
            str(ca / "directory.key"),
            "--rate-per-minute",
            "1000000",
        ],
        root / "logs" / "directory.log",
    )
    for plan in plans:
        procs[plan.code] = _spawn(
            ["node", "serve", "--config", str(root / "nodes" / f"{plan.code}.yaml")],
            root / "logs" / f"{plan.code}.log",
        )
    federation = {
        "ca_file": str(ca / "ca.crt"),
        "directory": {"endpoint": f"localhost:{directory_port}", "pid": procs["directory"].pid},
        "councils": [
            {
                "code": p.code,
                "name": p.name,
                "federation_endpoint": f"127.0.0.1:{p.federation_port}",
                "practitioner_endpoint": f"localhost:{p.practitioner_port}",
                "pid": procs[p.code].pid,
                "database": str(root / "nodes" / f"{p.code}.sqlite"),
                "log": str(root / "logs" / f"{p.code}.log"),
            }
            for p in plans
        ],
        "practitioners": practitioners,
        "samples": _samples(root / "data", plans, practitioners),
    }
    state.write_text(json.dumps(federation, indent=2), encoding="utf-8")
    state.chmod(0o600)  # it holds demo passwords and TOTP secrets
    print("  waiting for every council to be healthy and to tokenise its records …", flush=True)
    ca_pem = (ca / "ca.crt").read_bytes()
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = {p.code: f"localhost:{p.practitioner_port}" for p in plans}
    while waiting and time.monotonic() < deadline:
        for code, endpoint in list(waiting.items()):
            if procs[code].poll() is not None:
                stop_all(state)
                raise Unavailable(
                    f"council {code} exited during start-up; see {root / 'logs' / f'{code}.log'}"
                )
            if _healthy(endpoint, ca_pem, PRACTITIONER_SERVICE):
                del waiting[code]
        time.sleep(0.2)
    if waiting:
        stop_all(state)
        raise Unavailable(
            f"councils not ready after {READY_TIMEOUT_S:.0f} s: {', '.join(waiting)}; see {root}/logs"
        )
    _print_tour(root, federation)
    if args.detach:
        return 0
    print("Press Ctrl-C to stop the federation.", flush=True)
    try:
        while all(p.poll() is None for p in procs.values()):
            time.sleep(1)
        print("whoelse: a demo process exited; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    stop_all(state)
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
    print(f"  whoelse demo stop --dir {root}\n")


def _pids(state: Path) -> list[int]:
    data = json.loads(state.read_text(encoding="utf-8"))
    return [data["directory"]["pid"], *(c["pid"] for c in data["councils"])]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_all(state: Path) -> int:
    pids = [p for p in _pids(state) if _alive(p)]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap our own children so they stop counting as alive
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def cmd_demo(args: argparse.Namespace) -> int:
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
    p.add_argument("action", nargs="?", choices=["start", "stop"], default="start")
    p.add_argument("--dir", default=DEFAULT_DIR, help="where the demo keeps its files (default %(default)s)")
    p.add_argument("--councils", type=int, default=DEFAULT_COUNCILS)
    p.add_argument("--children", type=int, default=600, help="children per council (default %(default)s)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--detach", action="store_true", help="return once healthy, leaving the federation running"
    )
    p.set_defaults(handler=cmd_demo)
