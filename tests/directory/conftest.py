"""Directory test fixtures: a temporary federation CA, councils with keys and certificates, a real directory
server on 127.0.0.1:0 with mutual TLS, and simple FederationNode servers the router fans out to."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from whoelse.directory.keys import KeyDirectory
from whoelse.directory.registry import Registry
from whoelse.directory.router import NodeChannels
from whoelse.directory.server import create_server
from whoelse.directory.setup import initialise
from whoelse.directory.storage import DirectoryDatabase
from whoelse.directory.token_service import TokenLimits
from whoelse.federation import ca
from whoelse.federation.sealing import SealingKey
from whoelse.federation.signing import SigningKey
from whoelse.federation.transport import MtlsIdentity, add_secure_port, peer_council, secure_channel
from whoelse.v1 import federation_pb2, federation_pb2_grpc

LEEDS, WESTMINSTER, CORNWALL = "E08000035", "E09000033", "E06000052"
SUSPENDED, REVOKED, PENDING = "E06000001", "E06000002", "E06000003"
NAMES = {
    LEEDS: "Leeds",
    WESTMINSTER: "Westminster",
    CORNWALL: "Cornwall",
    SUSPENDED: "Hartlepool",
    REVOKED: "Middlesbrough",
    PENDING: "Redcar and Cleveland",
}


@dataclass
class Pki:
    """A federation CA and certificates issued from it, kept in memory and written to folder."""

    folder: Path
    ca_key: bytes
    ca_cert: bytes
    issued: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)

    def credentials(self, name: str) -> tuple[bytes, bytes]:
        if name not in self.issued:
            self.issued[name] = ca.issue(self.ca_key, self.ca_cert, name)
            ca.write_credentials(self.folder, name, *self.issued[name])
        return self.issued[name]

    def identity(self, name: str) -> MtlsIdentity:
        key, cert = self.credentials(name)
        return MtlsIdentity(self.ca_cert, cert, key)

    def fingerprint(self, name: str) -> str:
        return ca.fingerprint(self.credentials(name)[1])


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = ca.init_ca("WhoElse test federation CA", days=30)
    ca.write_ca(folder, ca_key, ca_cert)
    return Pki(folder, ca_key, ca_cert)


@dataclass(frozen=True)
class Council:
    code: str
    signing: SigningKey
    sealing: SealingKey


@pytest.fixture(scope="session")
def councils() -> dict[str, Council]:
    return {code: Council(code, SigningKey.generate(), SealingKey.generate()) for code in NAMES}


@dataclass
class Directory:
    """A running directory and what tests need to reach into it."""

    db: DirectoryDatabase
    registry: Registry
    keys: KeyDirectory
    port: int
    pki: Pki
    councils: dict[str, Council]
    server: grpc.Server
    channels: list[grpc.Channel] = field(default_factory=list)

    def stub(self, as_council: str) -> federation_pb2_grpc.DirectoryStub:
        """A Directory stub presenting as_council's certificate."""
        channel = secure_channel(f"127.0.0.1:{self.port}", self.pki.identity(as_council))
        self.channels.append(channel)
        return federation_pb2_grpc.DirectoryStub(channel)

    def stub_with(self, key_pem: bytes | None, cert_pem: bytes | None) -> federation_pb2_grpc.DirectoryStub:
        """A stub presenting arbitrary client credentials (or none), trusting the federation CA."""
        credentials = grpc.ssl_channel_credentials(self.pki.ca_cert, key_pem, cert_pem)
        channel = grpc.secure_channel(f"127.0.0.1:{self.port}", credentials)
        self.channels.append(channel)
        return federation_pb2_grpc.DirectoryStub(channel)

    def enrol(self, code: str, endpoint: str = "127.0.0.1:1") -> None:
        council = self.councils[code]
        self.registry.register_active(
            code,
            NAMES.get(code, code),
            endpoint,
            council.signing.verify_key_bytes,
            council.sealing.public_key_bytes,
            self.pki.fingerprint(code),
        )

    def stop(self) -> None:
        for channel in self.channels:
            channel.close()
        self.server.stop(None)


DirectoryFactory = Callable[..., Directory]


def start_directory(
    folder: Path, pki: Pki, councils: dict[str, Council], limits: TokenLimits | None = None
) -> tuple[Directory, NodeChannels]:
    """Start a directory with Leeds, Westminster and Cornwall active, Hartlepool suspended, Middlesbrough
    revoked and Redcar pending."""
    folder.mkdir(parents=True, exist_ok=True)
    db = DirectoryDatabase.open(str(folder / "directory.sqlite"))
    initialise(db, folder / "keys")
    keys = KeyDirectory(folder / "keys")
    channels = NodeChannels(pki.identity(ca.DIRECTORY_CN))
    server, port = create_server(
        "127.0.0.1:0", db, pki.identity(ca.DIRECTORY_CN), keys, channels, limits=limits
    )
    server.start()
    directory = Directory(db, Registry(db), keys, port, pki, councils, server)
    for code in (LEEDS, WESTMINSTER, CORNWALL, SUSPENDED, REVOKED):
        directory.enrol(code)
    directory.registry.suspend(SUSPENDED)
    directory.registry.revoke(REVOKED)
    council = councils[PENDING]
    directory.registry.join(
        PENDING,
        PENDING,
        NAMES[PENDING],
        "127.0.0.1:2",
        council.signing.verify_key_bytes,
        council.sealing.public_key_bytes,
        pki.fingerprint(PENDING),
    )
    return directory, channels


def _stop(directory: Directory, channels: NodeChannels) -> None:
    directory.stop()
    channels.close()
    directory.db.dispose()


@pytest.fixture()
def make_directory(tmp_path: Path, pki: Pki, councils: dict[str, Council]) -> Iterator[DirectoryFactory]:
    """Start directories (optionally with token limits) private to one test."""
    started: list[tuple[Directory, NodeChannels]] = []

    def start(limits: TokenLimits | None = None) -> Directory:
        started.append(start_directory(tmp_path / f"directory-{len(started)}", pki, councils, limits))
        return started[-1][0]

    yield start
    for directory, channels in started:
        _stop(directory, channels)


@pytest.fixture()
def directory(make_directory: DirectoryFactory) -> Directory:
    return make_directory()


@pytest.fixture(scope="module")
def shared_directory(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, councils: dict[str, Council]
) -> Iterator[Directory]:
    """One directory for a module's tests that do not change it."""
    directory, channels = start_directory(tmp_path_factory.mktemp("directory"), pki, councils)
    yield directory
    _stop(directory, channels)


# ---- simple FederationNode servers for the router to call ----

Behaviour = Callable[[federation_pb2.Delivery, grpc.ServicerContext], federation_pb2.SealedAnswer]


def answers(payload: bytes = b"sealed-answer") -> Behaviour:
    def behave(
        delivery: federation_pb2.Delivery, context: grpc.ServicerContext
    ) -> federation_pb2.SealedAnswer:
        return federation_pb2.SealedAnswer(
            query_id=delivery.query_id, responder=delivery.recipient, sealed=payload
        )

    return behave


def sleeps(seconds: float) -> Behaviour:
    def behave(
        delivery: federation_pb2.Delivery, context: grpc.ServicerContext
    ) -> federation_pb2.SealedAnswer:
        time.sleep(seconds)
        return answers()(delivery, context)

    return behave


def refuses(message: str) -> Behaviour:
    def behave(
        delivery: federation_pb2.Delivery, context: grpc.ServicerContext
    ) -> federation_pb2.SealedAnswer:
        context.abort(grpc.StatusCode.PERMISSION_DENIED, message)
        raise AssertionError("abort returned")

    return behave


class FakeNode(federation_pb2_grpc.FederationNodeServicer):
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.callers: list[str] = []
        self.received: list[federation_pb2.Delivery] = []
        self._lock = threading.Lock()

    def Deliver(
        self, request: federation_pb2.Delivery, context: grpc.ServicerContext
    ) -> federation_pb2.SealedAnswer:
        with self._lock:
            self.callers.append(peer_council(context))
            self.received.append(request)
        return self.behaviour(request, context)

    def Ping(
        self, request: federation_pb2.PingRequest, context: grpc.ServicerContext
    ) -> federation_pb2.PingResponse:
        return federation_pb2.PingResponse(payload=request.payload)


@dataclass
class RunningNode:
    servicer: FakeNode
    server: grpc.Server
    endpoint: str


NodeFactory = Callable[..., RunningNode]


@pytest.fixture()
def start_node(pki: Pki) -> Iterator[NodeFactory]:
    """Start a FederationNode server as council `code` (mutual TLS), with the given behaviour."""
    servers: list[grpc.Server] = []

    def start(code: str, behaviour: Behaviour, workers: int = 8) -> RunningNode:
        servicer = FakeNode(behaviour)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        federation_pb2_grpc.add_FederationNodeServicer_to_server(servicer, server)
        port = add_secure_port(server, "127.0.0.1:0", pki.identity(code))
        server.start()
        servers.append(server)
        return RunningNode(servicer, server, f"127.0.0.1:{port}")

    yield start
    for server in servers:
        server.stop(None)


def expired_credentials(pki: Pki, name: str) -> tuple[bytes, bytes]:
    """A certificate from the federation CA that expired nine days ago."""
    return ca.issue(
        pki.ca_key, pki.ca_cert, name, days=1, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    )
