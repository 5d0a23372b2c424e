"""The central index's one gRPC server (ContactPoint mode): `Practitioner` over TLS, health, reflection.

The same servicer, accounts and audit log as a council node (node/runtime.py); the search is answered by
node/central.py instead of the federation. There is no federation port: nothing else is ever asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from whoelse.federation.errors import ConfigError
from whoelse.federation.malformed_requests import new_server
from whoelse.federation.serving import wait_for_stop, write_ports
from whoelse.federation.standard_services import add_health_and_reflection
from whoelse.federation.transport import SERVER_OPTIONS
from whoelse.node.accounts.credentials import Passwords
from whoelse.node.accounts.service import AccountService
from whoelse.node.audit import AuditLog
from whoelse.node.central import CentralSearch
from whoelse.node.practitioner_servicer import PractitionerServicer
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.v1 import practitioner_pb2, practitioner_pb2_grpc


@dataclass
class CentralServer:
    server: grpc.Server
    port: int
    db: Database
    audit: AuditLog

    def stop(self) -> None:
        self.server.stop(grace=1).wait()
        self.db.dispose()


def create_central_server(
    database: str,
    address: str,
    cert_pem: bytes,
    key_pem: bytes,
    *,
    password_cost: str = "standard",
    workers: int = 32,
) -> CentralServer:
    """Bind (port 0 picks any) and start the central index's practitioner server."""
    db = Database.open_initialised(database)
    with db.session() as session:
        settings = load(session)
    audit = AuditLog(db, settings.council.code, settings.signing_key)
    search = CentralSearch(db, settings, audit)
    server = new_server(workers, SERVER_OPTIONS)
    practitioner_pb2_grpc.add_PractitionerServicer_to_server(
        PractitionerServicer(
            AccountService(db, passwords=Passwords.named(password_cost)), search, search.council_name
        ),
        server,
    )
    add_health_and_reflection(
        server, [practitioner_pb2.DESCRIPTOR.services_by_name["Practitioner"].full_name]
    )
    try:
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(key_pem, cert_pem)]))
    except RuntimeError as exc:
        raise ConfigError(f"--listen: cannot bind {address}") from exc
    server.start()
    return CentralServer(server, port, db, audit)


def serve_central(
    database: str, address: str, cert: Path, key: Path, *, password_cost: str, port_file: Path | None
) -> None:
    """Run the central index until SIGINT or SIGTERM (`whoelse central serve`)."""
    try:
        cert_pem, key_pem = cert.read_bytes(), key.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--cert/--key: cannot read {exc.filename} ({exc.strerror})") from exc
    running = create_central_server(database, address, cert_pem, key_pem, password_cost=password_cost)
    if port_file is not None:
        write_ports(port_file, {"practitioner": running.port})
    print(f"central index: practitioner port {running.port}", flush=True)
    wait_for_stop()
    running.audit.checkpoint_if_grown()
    running.stop()
