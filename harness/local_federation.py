"""Build and run a federation on this machine: the shared core of `whoelse demo` and `whoelse bench search`.

`build` prepares everything on disk — a federation CA and certificates, the directory's keys and database,
and for each council a migrated SQLite database with synthetic records, demo practitioner accounts and a
node config — doing the node side in-process (fast enough for 153 councils) and the directory side through
the `whoelse directory` command (node/ never imports directory/). `start` launches the directory and the
councils as processes (several councils per process when asked), each binding port 0 and reporting the
port it got (so no port is chosen early and taken by someone else meanwhile), and `wait_ready` returns once
every council has joined — telling the directory its real address — and tokenised its records.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from whoelse.federation import ca
from whoelse.federation.errors import InvalidInput, Unavailable
from whoelse.harness.demo_accounts import add_eligible
from whoelse.node.accounts.credentials import Passwords, generate_password
from whoelse.node.accounts.service import AccountService
from whoelse.node.importer import import_file
from whoelse.node.matching import record_tags
from whoelse.node.runtime import PORTS_FILE
from whoelse.node.settings import initialise
from whoelse.node.storage.database import Database
from whoelse.node.tags import LocalTagger

PRACTITIONER_SERVICE = "whoelse.v1.Practitioner"
UNSTARTED_DIRECTORY = UNSTARTED_NODE = "127.0.0.1:1"  # placeholders until the processes have their ports
PORT_TIMEOUT_S = 60.0
SYNTHETIC_TODAY = dt.date(2026, 12, 1)
"""The day the demo's synthetic records are made as of, fixed so that the same seed gives the same children
on every day (the README's sample child keeps her date of birth); the youngest are then under a year old."""


class Ports:
    """Hands out distinct free ports below Linux's ephemeral range (32768+), for the web portal only: it
    takes its port on the command line (`node serve --portal-port`) and does not report one it chose itself,
    so its port is still picked before its process binds it. Every gRPC server binds port 0 instead."""

    def __init__(self, low: int = 20000, high: int = 32000) -> None:
        self._next = random.randrange(low, high - 2000)
        self._high = high

    def take(self) -> int:
        while self._next < self._high:
            port, self._next = self._next, self._next + 1
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise Unavailable("no free port left between 20000 and 32000")


def whoelse(*args: str) -> str:
    """Run one `whoelse` command as a subprocess; a failure becomes a one-line error naming the step."""
    proc = subprocess.run(
        [sys.executable, "-m", "whoelse.federation.cli", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip().splitlines()
        raise Unavailable(f"step `whoelse {' '.join(args[:3])} …` failed: {detail[-1] if detail else '?'}")
    return proc.stdout


def choose_councils(count: int) -> list[tuple[str, str]]:
    """`count` neighbouring real councils, starting from Leeds (so moves between them are realistic)."""
    from whoelse.harness.synth.councils import council, neighbours

    if not 2 <= count <= 153:
        raise InvalidInput("--councils must be between 2 and 153")
    first = council("E08000035")  # Leeds
    chosen = [first, *neighbours(first.code, k=count - 1)]
    return [(c.code, c.name) for c in chosen[:count]]


@dataclass
class CouncilSetup:
    code: str
    name: str
    config: Path
    database: Path
    practitioners: list[dict[str, Any]] = field(default_factory=list)
    federation_port: int = 0  # known once `start` has it running
    practitioner_port: int = 0

    @property
    def ports_file(self) -> Path:
        return self.config.parent / self.code / PORTS_FILE

    portal_port: int = 0  # the web portal (node/portal), when the council has a process of its own

    @property
    def practitioner_endpoint(self) -> str:
        return f"localhost:{self.practitioner_port}"

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.portal_port}/" if self.portal_port else ""


@dataclass
class Layout:
    root: Path
    councils: list[CouncilSetup]
    passwords: Passwords  # the one argon2 cost of every account at every node
    directory_port: int = 0  # known once `start` has it running

    @property
    def ca_dir(self) -> Path:
        return self.root / "ca"

    @property
    def directory_db(self) -> Path:
        return self.root / "directory.sqlite"

    @property
    def directory_keys(self) -> Path:
        return self.root / "directory-keys"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


def _fresh(root: Path) -> None:
    for sub in ("ca", "data", "nodes", "logs", "directory-keys"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    stale = [*root.glob("directory.sqlite*"), *root.glob("directory-keys/*"), *root.glob("nodes/*.sqlite*")]
    stale += list(root.glob("nodes/*/council-list.bin"))
    for path in stale:
        path.unlink(missing_ok=True)


def _seed_practitioners(
    db: Database, staff: Sequence[Any], council: str, passwords: Passwords
) -> list[dict[str, Any]]:
    accounts = AccountService(db, passwords=passwords)
    out = []
    for n, p in enumerate(staff):
        password = generate_password()
        totp = add_eligible(
            accounts,
            username=p.username,
            name=p.name,
            role=p.role,
            organisation=p.organisation,
            contact=p.contact,
            password=password,
            records_team=n == 0,  # the demo's first practitioner also has the records team's pages
        )
        out.append(
            {
                "council": council,
                "username": p.username,
                "name": p.name,
                "role": p.role,
                "password": password,
                "totp_secret": totp.secret,
            }
        )
    return out


def build(
    root: Path,
    councils: Sequence[tuple[str, str]],
    *,
    children: int,
    seed: int,
    upkeep_interval_ms: int = 2000,
    alert_poll_ms: int = 250,
    progress: bool = False,
    records: dict[str, Path] | None = None,
    password_cost: str = "standard",
    portals: bool = False,
) -> Layout:
    """Everything on disk for a federation of `councils`. `records` names an import file to load instead of
    the synthetic records for some councils (by code): how a benchmark puts data from outside the project
    into a real federation. Accounts are hashed at the cost every node then uses for all log-ins
    (`password_cost`): "light" only for benchmarks, whose 153 councils' accounts would otherwise take
    minutes to make."""
    from whoelse.harness.synth.generate import generate
    from whoelse.harness.synth.writer import write

    root = root.resolve()
    _fresh(root)
    layout = Layout(root, [], Passwords.named(password_cost))
    portal_ports = Ports()
    ca_key, ca_cert = ca.init_ca("WhoElse demo federation CA")
    ca.write_ca(layout.ca_dir, ca_key, ca_cert)
    key_pem, cert_pem = ca.issue(ca_key, ca_cert, "directory", dns_names=("localhost",), ips=("127.0.0.1",))
    ca.write_credentials(layout.ca_dir, "directory", key_pem, cert_pem)
    whoelse("directory", "init", "--db", str(layout.directory_db), "--dir", str(layout.directory_keys))
    population = generate(
        [code for code, _ in councils], children_per_council=children, seed=seed, today=SYNTHETIC_TODAY
    )
    write(population, layout.data_dir)
    enrol = []
    for code, name in councils:
        setup = CouncilSetup(
            code,
            name,
            root / "nodes" / f"{code}.yaml",
            root / "nodes" / f"{code}.sqlite",
            portal_port=portal_ports.take() if portals else 0,
        )
        db = Database(str(setup.database))
        db.migrate()
        with db.session() as session:
            settings = initialise(
                session, code, name, f"{name} children's records team, records@{code.lower()}.whoelse.test"
            )
        source = (records or {}).get(code, layout.data_dir / f"{code}.jsonl")
        import_file(db, source, LocalTagger(settings.tag_key), record_tags)
        setup.practitioners = _seed_practitioners(
            db,
            population.practitioners[code],  # type: ignore[index]
            code,
            layout.passwords,
        )
        db.dispose()
        key_pem, cert_pem = ca.issue(ca_key, ca_cert, code, dns_names=("localhost",), ips=("127.0.0.1",))
        key_path, cert_path = ca.write_credentials(layout.ca_dir, code, key_pem, cert_pem)
        config = {
            "database": str(setup.database),
            "listen_federation": "127.0.0.1:0",
            "listen_practitioner": "127.0.0.1:0",
            "directory": UNSTARTED_DIRECTORY,  # set by `start` once the directory has its port
            "tls": {"ca": str(layout.ca_dir / "ca.crt"), "cert": str(cert_path), "key": str(key_path)},
            "directory_verify_key": str(layout.directory_keys / "directory.pub"),
            "state_dir": str(root / "nodes" / code),
            "upkeep_interval_ms": upkeep_interval_ms,
            "alert_poll_ms": alert_poll_ms,
            "password_cost": password_cost,
        }
        setup.config.write_text(json.dumps(config, indent=2), encoding="utf-8")
        # The council's public signing key, as a file `whoelse audit verify --key` reads (the README's tour).
        (root / "nodes" / f"{code}.pub").write_text(settings.signing_key.verify_key_bytes.hex() + "\n")
        enrol.append(
            {
                "code": code,
                "name": name,
                "endpoint": UNSTARTED_NODE,  # the node's Join replaces it with the port it bound
                "signing_key": settings.signing_key.verify_key_bytes.hex(),
                "sealing_key": settings.sealing_key.public_key_bytes.hex(),
                "cert": str(cert_path),
            }
        )
        layout.councils.append(setup)
        if progress:
            print(
                f"  {name} ({code}): {len(population.records[code])} records, "  # type: ignore[index]
                f"{len(setup.practitioners)} practitioners",
                flush=True,
            )
    (root / "enrol.json").write_text(json.dumps(enrol), encoding="utf-8")
    whoelse("directory", "add-many", "--db", str(layout.directory_db), "--from", str(root / "enrol.json"))
    return layout


def shared_children(data_dir: Path) -> list[list[tuple[str, dict[str, Any]]]]:
    """The children a synthetic population (`whoelse synth` output) places at two or more councils: each
    child's records as (council code, import row), in the ground truth's order."""
    truth = [
        json.loads(x) for x in (data_dir / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    shared = [t for t in truth if len({c["council"] for c in t["copies"]}) >= 2]
    wanted = {(c["council"], c["record_id"]) for t in shared for c in t["copies"]}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for council in sorted({code for code, _ in wanted}):
        for line in (data_dir / f"{council}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if (council, row["record_id"]) in wanted:
                rows[(council, row["record_id"])] = row
    return [[(c["council"], rows[(c["council"], c["record_id"])]) for c in t["copies"]] for t in shared]


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "whoelse.federation.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the shell that started it (demo --detach)
        )


def start(
    layout: Layout,
    *,
    councils_per_process: int = 1,
    rate_per_minute: int = 1_000_000,
    solo_first: bool = False,
    progress: bool = False,
) -> dict[str, int]:
    """Start the directory and the councils; returns process ids by name ("directory", a council code, or
    "nodes-<first code>-<count>" for a process hosting several). `solo_first` gives the first council a
    process of its own (the benchmark's searching council, so its CPU can be measured apart). Each process
    binds port 0; the ports it got are read back into `layout`."""
    logs = layout.root / "logs"
    directory_ports = layout.root / "directory-ports.json"
    for stale in [directory_ports, *(c.ports_file for c in layout.councils)]:
        stale.unlink(missing_ok=True)
    pids = {
        "directory": spawn(
            [
                "directory",
                "serve",
                "--db",
                str(layout.directory_db),
                "--dir",
                str(layout.directory_keys),
                "--listen",
                "127.0.0.1:0",
                "--port-file",
                str(directory_ports),
                "--ca",
                str(layout.ca_dir / "ca.crt"),
                "--cert",
                str(layout.ca_dir / "directory.crt"),
                "--key",
                str(layout.ca_dir / "directory.key"),
                "--rate-per-minute",
                str(rate_per_minute),
            ],
            logs / "directory.log",
        ).pid
    }
    layout.directory_port = _ports(directory_ports, "directory", pids, logs)["directory"]
    if progress:
        print(f"  directory listening on port {layout.directory_port}", flush=True)
    for setup in layout.councils:
        config = json.loads(setup.config.read_text(encoding="utf-8"))
        config["directory"] = f"localhost:{layout.directory_port}"
        setup.config.write_text(json.dumps(config, indent=2), encoding="utf-8")
    size = max(1, councils_per_process)
    rest = layout.councils[1:] if solo_first else layout.councils
    groups = [layout.councils[:1]] if solo_first else []
    groups += [rest[i : i + size] for i in range(0, len(rest), size)]
    names = {}
    for group in groups:
        name = group[0].code if len(group) == 1 else f"nodes-{group[0].code}-{len(group)}"
        args = ["node", "serve"]
        for setup in group:
            args += ["--config", str(setup.config)]
            names[setup.code] = name
        if len(group) == 1 and group[0].portal_port:
            args += ["--portal-port", str(group[0].portal_port), "--portal-plain-http"]  # this machine only
        pids[name] = spawn(args, logs / f"{name}.log").pid
    for setup in layout.councils:
        ports = _ports(setup.ports_file, names[setup.code], pids, logs)
        setup.federation_port, setup.practitioner_port = ports["federation"], ports["practitioner"]
        if progress:
            print(f"  {setup.name} listening (practitioner port {setup.practitioner_port})", flush=True)
    return pids


def _ports(path: Path, name: str, pids: dict[str, int], logs: Path) -> dict[str, int]:
    """The ports process `name` wrote to `path` once it was listening; stop everything if it never does."""
    deadline = time.monotonic() + PORT_TIMEOUT_S
    while not path.is_file():
        if not alive(pids[name]) or time.monotonic() > deadline:
            stop(pids)
            raise Unavailable(f"{name} did not start listening; see {logs / name}.log")
        time.sleep(0.05)
    ports: dict[str, int] = json.loads(path.read_text(encoding="utf-8"))
    return ports


def healthy(endpoint: str, ca_pem: bytes, service: str = PRACTITIONER_SERVICE) -> bool:
    channel = grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(root_certificates=ca_pem))
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=1
        )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False
    finally:
        channel.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap our own exited children
    except ChildProcessError:
        return True
    return done == 0


def wait_ready(layout: Layout, pids: dict[str, int], timeout: float, *, progress: bool = False) -> None:
    """Return once every council serves federated search; stop everything and raise if one cannot."""
    ca_pem = (layout.ca_dir / "ca.crt").read_bytes()
    waiting = {c.code: c.practitioner_endpoint for c in layout.councils}
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        dead = [name for name, pid in pids.items() if not alive(pid)]
        if dead:
            stop(pids)
            raise Unavailable(f"{dead[0]} exited during start-up; see {layout.root / 'logs'}")
        for code, endpoint in list(waiting.items()):
            if healthy(endpoint, ca_pem):
                del waiting[code]
                if progress:
                    ready = len(layout.councils) - len(waiting)
                    print(f"  {ready} of {len(layout.councils)} councils ready ({code})", flush=True)
        time.sleep(0.2)
    if waiting:
        stop(pids)
        raise Unavailable(
            f"councils not ready after {timeout:.0f} s: {', '.join(waiting)}; see {layout.root}/logs"
        )


def stop(pids: dict[str, int]) -> int:
    running = [pid for pid in pids.values() if alive(pid)]
    for pid in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in running):
        time.sleep(0.1)
    for pid in running:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    return len(running)
