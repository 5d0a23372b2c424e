"""A real federation in one test process: a directory and council nodes on 127.0.0.1:0 over mutual TLS.

Every part is the production code (NodeRuntime, the directory server, the practitioner client); only the
upkeep loop is driven by the test (`run_upkeep`) so that tokenising and alert sending happen when asserted.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pyotp

from whoelse.directory.metrics import DirectoryMetrics
from whoelse.directory.registry import Registry
from whoelse.directory.router import NodeChannels
from whoelse.directory.server import create_server
from whoelse.directory.setup import initialise as initialise_directory
from whoelse.directory.setup import key_directory
from whoelse.directory.storage import DirectoryDatabase
from whoelse.directory.token_service import TokenLimits
from whoelse.federation import ca
from whoelse.federation.practitioner_client import Account, PractitionerClient
from whoelse.federation.transport import MtlsIdentity, secure_channel
from whoelse.harness.demo_accounts import add_eligible
from whoelse.node.accounts.credentials import Passwords
from whoelse.node.accounts.lockout import LockoutPolicy
from whoelse.node.accounts.service import AccountService
from whoelse.node.changes import import_with_changes
from whoelse.node.config import NodeConfig, TlsFiles
from whoelse.node.importer import import_file
from whoelse.node.matching import record_tags
from whoelse.node.runtime import NodeRuntime, Servers
from whoelse.node.settings import initialise as initialise_node
from whoelse.node.storage.database import Database
from whoelse.node.tags import LocalTagger
from whoelse.v1 import federation_pb2_grpc

PASSWORD = "correct horse battery staple"


@dataclass
class Council:
    code: str
    name: str
    runtime: NodeRuntime
    servers: Servers
    practitioners: dict[str, str] = field(default_factory=dict)  # username → TOTP secret
    running: bool = True

    @property
    def practitioner_endpoint(self) -> str:
        return f"localhost:{self.servers.practitioner_port}"


class Federation:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca_dir = root / "ca"
        key_pem, cert_pem = ca.init_ca("test federation CA")
        ca.write_ca(self.ca_dir, key_pem, cert_pem)
        self._ca = (key_pem, cert_pem)
        self._issue("directory")
        self.directory_db = DirectoryDatabase.open(str(root / "directory.sqlite"))
        initialise_directory(self.directory_db, root / "directory-keys")
        self.directory_port = 0
        self.directory_server: grpc.Server | None = None
        self.start_directory()
        self.councils: dict[str, Council] = {}
        self._clients: dict[tuple[str, str], PractitionerClient] = {}
        self._channels_opened: list[grpc.Channel] = []

    # ---- directory ---------------------------------------------------------------------------------------

    def _issue(self, name: str) -> tuple[Path, Path]:
        key_pem, cert_pem = ca.issue(*self._ca, name, dns_names=("localhost",), ips=("127.0.0.1",))
        return ca.write_credentials(self.ca_dir, name, key_pem, cert_pem)

    def start_directory(self, per_minute: int = 1_000_000) -> None:
        identity = MtlsIdentity.from_files(
            self.ca_dir / "ca.crt", self.ca_dir / "directory.crt", self.ca_dir / "directory.key"
        )
        self._channels = NodeChannels(identity)
        self.directory_metrics = DirectoryMetrics()
        server, port = create_server(
            f"127.0.0.1:{self.directory_port}",
            self.directory_db,
            identity,
            key_directory(self.directory_db),
            self._channels,
            limits=TokenLimits(max_batch=min(1000, per_minute), per_minute=per_minute),
            metrics=self.directory_metrics,
        )
        server.start()
        self.directory_server, self.directory_port = server, port

    def stop_directory(self) -> None:
        assert self.directory_server is not None
        self.directory_server.stop(None).wait()
        self._channels.close()
        self.directory_server = None

    def directory_as(self, name: str) -> federation_pb2_grpc.DirectoryStub:
        """A Directory stub presenting name's certificate (a council's own, or one the federation CA issues
        now, e.g. for "auditor")."""
        key_path, cert_path = self.ca_dir / f"{name}.key", self.ca_dir / f"{name}.crt"
        if not cert_path.exists():
            key_path, cert_path = self._issue(name)
        identity = MtlsIdentity.from_files(self.ca_dir / "ca.crt", cert_path, key_path)
        channel = secure_channel(f"localhost:{self.directory_port}", identity)
        self._channels_opened.append(channel)
        return federation_pb2_grpc.DirectoryStub(channel)

    @property
    def registry(self) -> Registry:
        return Registry(self.directory_db)

    # ---- councils ----------------------------------------------------------------------------------------

    def add_council(
        self,
        code: str,
        name: str,
        records: list[dict[str, Any]],
        lockout: LockoutPolicy | None = None,
        **config: Any,
    ) -> Council:
        folder = self.root / code
        folder.mkdir()
        db_path = folder / "node.sqlite"
        db = Database(str(db_path))
        db.migrate()
        with db.session() as session:
            settings = initialise_node(session, code, name, f"{name} records team, 0300 000 0000")
        data = folder / "records.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        import_file(db, data, LocalTagger(settings.tag_key), record_tags)
        db.dispose()
        key_path, cert_path = self._issue(code)
        node_config = NodeConfig(
            database=str(db_path),
            listen_federation="127.0.0.1:0",
            listen_practitioner="127.0.0.1:0",
            directory=f"localhost:{self.directory_port}",
            tls=TlsFiles(self.ca_dir / "ca.crt", cert_path, key_path),
            directory_verify_key=self.root / "directory-keys" / "directory.pub",
            state_dir=folder / "state",
            search_deadline_ms=3000,
            password_cost="light",  # every account and unknown-username check alike, and fast
            **config,
        )
        runtime, servers = self._start_node(node_config, lockout)
        self.registry.register_active(
            code,
            name,
            runtime.advertise,
            runtime.settings.signing_key.verify_key_bytes,
            runtime.settings.sealing_key.public_key_bytes,
            runtime.identity.fingerprint,
        )
        council = Council(code, name, runtime, servers)
        self.councils[code] = council
        return council

    @staticmethod
    def _start_node(config: NodeConfig, lockout: LockoutPolicy | None = None) -> tuple[NodeRuntime, Servers]:
        runtime = NodeRuntime(config)
        if lockout is not None:  # a faster lock-out for tests that lock an account
            runtime.accounts = AccountService(
                runtime.db, passwords=Passwords.named(config.password_cost), lockout=lockout
            )
        return runtime, runtime.start(background=False)

    def stop_council(self, council: Council) -> None:
        """Stop a council's node, as a crash or a maintenance window would (its database stays)."""
        council.runtime.stop(council.servers)
        council.running = False

    def restart_council(self, council: Council) -> None:
        """Start a stopped council's node again on the same ports, so the directory dials it as before."""
        config = dataclasses.replace(
            council.runtime.config,
            listen_federation=f"127.0.0.1:{council.servers.federation_port}",
            listen_practitioner=f"127.0.0.1:{council.servers.practitioner_port}",
        )
        council.runtime, council.servers = self._start_node(config)
        council.running = True
        council.runtime.upkeep()
        council.runtime.keep_held_filter()

    def add_practitioner(
        self,
        council: Council,
        username: str,
        name: str,
        role: str = "Social worker",
        *,
        records_team: bool = False,
    ) -> None:
        totp = add_eligible(
            council.runtime.accounts,
            username=username,
            name=name,
            role=role,
            organisation=f"{council.name} Children's Services",
            contact="0300 000 0001",
            password=PASSWORD,
            manager="A Manager",
            records_team=records_team,
        )
        council.practitioners[username] = totp.secret

    def record_change(self, council: Council, records: list[dict[str, Any]]) -> None:
        """Import new versions of records at a running council, as `whoelse node import` does."""
        runtime = council.runtime
        data = self.root / council.code / "changes.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

        import_with_changes(runtime.db, data, runtime.settings, alerts=True, by="test import")

    def run_upkeep(self) -> None:
        """One round of each node's background work, as its upkeep thread runs it: upkeep, then the
        in-memory filter of held tags (so every search here also checks the filter never hides a child)."""
        for council in self.councils.values():
            council.runtime.upkeep()
            council.runtime.keep_held_filter()

    def client(self, council: Council, username: str) -> PractitionerClient:
        """One client (one session) per practitioner: a second log-in would reuse the TOTP code, refused."""
        key = (council.code, username)
        if key not in self._clients:
            self._clients[key] = self._new_client(council, username)
        return self._clients[key]

    def _new_client(self, council: Council, username: str) -> PractitionerClient:
        account = Account(
            council=council.code,
            username=username,
            password=PASSWORD,
            totp_secret=council.practitioners[username],
            endpoint=council.practitioner_endpoint,
            ca_file=self.ca_dir / "ca.crt",
        )
        return PractitionerClient(account)

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        for channel in self._channels_opened:
            channel.close()
        for council in self.councils.values():
            if council.running:
                council.runtime.stop(council.servers)
        if self.directory_server is not None:
            self.stop_directory()
        self.directory_db.dispose()


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()
