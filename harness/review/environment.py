"""Both architectures on one seeded synthetic England, running on this machine, for `whoelse review`.

- the federation: the directory and one process per council (harness/local_federation.py), as `whoelse demo`;
- ContactPoint mode: `whoelse central serve` on one database into which every council's same import file
  was copied (node/central.py), with an account for every practitioner of every council.

Both are reached the way a practitioner reaches them, through `Practitioner.Search` over TLS.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoelse.federation import ca
from whoelse.federation.errors import InvalidInput, Unavailable
from whoelse.federation.practitioner_client import Account, PractitionerClient
from whoelse.harness.demo_accounts import add_eligible
from whoelse.harness.local_federation import (
    SYNTHETIC_TODAY,
    Layout,
    alive,
    build,
    choose_councils,
    spawn,
    start,
    stop,
    wait_ready,
)
from whoelse.node.accounts.credentials import Passwords, generate_password
from whoelse.node.accounts.service import AccountService
from whoelse.node.central import CENTRAL_CODE, import_council, init_central
from whoelse.node.storage.database import Database

NATIONAL_CHILDREN = 12_000_000
NATIONAL_COUNCILS = 153
AVERAGE_COUNCIL = NATIONAL_CHILDREN / NATIONAL_COUNCILS
"""Children in an average English council: `--scale 1` gives every synthetic council this many."""
DEFAULT_SCALE = 0.003  # 235 children a council
DEFAULT_COUNCILS = 5
DEFAULT_SEED = 11


def children_per_council(scale: float) -> int:
    if not 0 < scale <= 1:
        raise InvalidInput("--scale must be above 0 and at most 1 (a share of an average council's children)")
    return max(20, round(AVERAGE_COUNCIL * scale))


@dataclass
class Environment:
    root: Path
    layout: Layout
    seed: int
    scale: float
    central_db: Path
    central_practitioners: list[dict[str, Any]]
    pids: dict[str, int] = field(default_factory=dict)  # the federation's processes, by name
    central_pid: int = 0
    central_port: int = 0
    _used: dict[str, int] = field(default_factory=dict)  # accounts handed out so far, per council/central

    def _next(self, key: str) -> int:
        # A TOTP code is good once per account per step: every client gets an account of its own.
        self._used[key] = self._used.get(key, -1) + 1
        return self._used[key]

    @property
    def children(self) -> int:
        return children_per_council(self.scale)

    @property
    def ca_file(self) -> Path:
        return self.layout.ca_dir / "ca.crt"

    def federation_client(self, council: int = 0) -> PractitionerClient:
        setup = self.layout.councils[council]
        reviewers = [
            p for p in setup.practitioners if p["username"].startswith("reviewer")
        ] or setup.practitioners
        p = reviewers[self._next(setup.code) % len(reviewers)]
        return PractitionerClient(
            Account(
                setup.code,
                p["username"],
                p["password"],
                p["totp_secret"],
                setup.practitioner_endpoint,
                self.ca_file,
            )
        )

    def central_client(self) -> PractitionerClient:
        reviewers = [p for p in self.central_practitioners if p["username"].startswith("reviewer")]
        p = reviewers[self._next(CENTRAL_CODE) % len(reviewers)]
        return PractitionerClient(
            Account(
                CENTRAL_CODE,
                p["username"],
                p["password"],
                p["totp_secret"],
                f"localhost:{self.central_port}",
                self.ca_file,
            )
        )

    def all_pids(self) -> dict[str, int]:
        return {**self.pids, "central": self.central_pid}

    def stop(self) -> None:
        stop({k: v for k, v in self.all_pids().items() if v})


REVIEWERS = 16  # accounts at the searching council, one per client the review opens


def _add_reviewers(layout: Layout) -> None:
    """Accounts at the first (searching) council for the review's clients: a TOTP code is good once per
    account and step, so every client the review opens logs in with an account of its own."""
    setup = layout.councils[0]
    db = Database(str(setup.database))
    accounts = AccountService(db, passwords=layout.passwords)
    for i in range(REVIEWERS):
        username = f"reviewer{i}@{setup.code.lower()}.whoelse.test"
        password = generate_password()
        totp = add_eligible(
            accounts,
            username=username,
            name=f"Reviewer {i}",
            role="Social worker",
            organisation=setup.name,
            contact=username,
            password=password,
        )
        setup.practitioners.append(
            {
                "council": setup.code,
                "username": username,
                "name": f"Reviewer {i}",
                "role": "Social worker",
                "password": password,
                "totp_secret": totp.secret,
            }
        )
    db.dispose()


def _build_central(layout: Layout, root: Path, passwords: Passwords) -> tuple[Path, list[dict[str, Any]]]:
    """The central index: every council's own import file, and every council's practitioners."""
    path = root / "central.sqlite"
    for stale in root.glob("central.sqlite*"):
        stale.unlink()
    db = Database(str(path))
    init_central(db)
    for setup in layout.councils:
        import_council(
            db,
            setup.code,
            setup.name,
            f"{setup.name} children's records team",
            layout.data_dir / f"{setup.code}.jsonl",
            today=SYNTHETIC_TODAY,
        )
    accounts = AccountService(db, passwords=passwords)
    out = []
    for setup in layout.councils:
        for p in setup.practitioners:
            password = generate_password()
            totp = add_eligible(
                accounts,
                username=p["username"],
                name=p["name"],
                role=p["role"],
                organisation=setup.name,
                contact=p["username"],
                password=password,
            )
            out.append({**p, "password": password, "totp_secret": totp.secret})
    db.dispose()
    return path, out


def _start_central(env: Environment) -> None:
    ca_dir = env.layout.ca_dir
    ca_key, ca_cert = (ca_dir / "ca.key").read_bytes(), (ca_dir / "ca.crt").read_bytes()
    key_pem, cert_pem = ca.issue(ca_key, ca_cert, CENTRAL_CODE, dns_names=("localhost",), ips=("127.0.0.1",))
    key_path, cert_path = ca.write_credentials(ca_dir, CENTRAL_CODE, key_pem, cert_pem)
    port_file = env.root / "central-ports.json"
    port_file.unlink(missing_ok=True)
    log = env.root / "federation" / "logs" / "central.log"
    env.central_pid = spawn(
        [
            "central",
            "serve",
            "--db",
            str(env.central_db),
            "--listen",
            "127.0.0.1:0",
            "--cert",
            str(cert_path),
            "--key",
            str(key_path),
            "--port-file",
            str(port_file),
            "--password-cost",
            "light",
        ],
        log,
    ).pid
    deadline = time.monotonic() + 60
    while not port_file.is_file():
        if not alive(env.central_pid) or time.monotonic() > deadline:
            raise Unavailable(f"the central index did not start; see {log}")
        time.sleep(0.05)
    env.central_port = json.loads(port_file.read_text(encoding="utf-8"))["practitioner"]


def build_environment(
    root: Path, councils: int, scale: float, seed: int, *, progress: bool = False
) -> Environment:
    """Build both architectures on disk from the same seeded population, and start them."""
    chosen = choose_councils(councils)
    children = children_per_council(scale)
    root.mkdir(parents=True, exist_ok=True)
    if progress:
        print(f"building {councils} councils x {children} children (seed {seed})", flush=True)
    layout = build(
        root / "federation",
        chosen,
        children=children,
        seed=seed,
        # Background upkeep runs once at start (join, tokenise, publish heads) and then stays out of the way.
        upkeep_interval_ms=600_000,
        alert_poll_ms=5_000,
        password_cost="light",
    )
    _add_reviewers(layout)
    central_db, practitioners = _build_central(layout, root, layout.passwords)
    env = Environment(root, layout, seed, scale, central_db, practitioners)
    try:
        # One process a council when few (so availability can stop them one by one), else six processes.
        per_process = 1 if councils <= 8 else -(-councils // 6)
        env.pids = start(layout, councils_per_process=per_process, solo_first=True)
        _start_central(env)
        wait_ready(layout, env.pids, timeout=600)
    except BaseException:
        env.stop()
        raise
    if progress:
        print(f"both architectures running ({len(env.pids)} federation processes, 1 central)", flush=True)
    return env
