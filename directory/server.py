"""The directory's gRPC server: the Directory service over mutual TLS, plus the standard health service.

`create_server` binds and returns (server, port) so tests can bind port 0; `serve` runs until stopped.
"""

from __future__ import annotations

import threading
from pathlib import Path

import grpc

from whoelse.directory.keys import KeyDirectory
from whoelse.directory.metrics import DirectoryMetrics
from whoelse.directory.registry import Registry
from whoelse.directory.router import NodeChannels, Router
from whoelse.directory.routing_log import RoutingLog
from whoelse.directory.servicer import DirectoryServicer
from whoelse.directory.storage import DirectoryDatabase
from whoelse.directory.token_service import TokenLimits, TokenService
from whoelse.directory.tree_heads import TreeHeadStore
from whoelse.federation.malformed_requests import new_server
from whoelse.federation.metrics_endpoint import serve_metrics
from whoelse.federation.serving import wait_for_stop, write_ports
from whoelse.federation.standard_services import add_health_and_reflection
from whoelse.federation.transport import SERVER_OPTIONS, MtlsIdentity, add_secure_port
from whoelse.v1 import federation_pb2, federation_pb2_grpc

SERVICE_NAME = federation_pb2.DESCRIPTOR.services_by_name["Directory"].full_name


def create_server(
    address: str,
    db: DirectoryDatabase,
    identity: MtlsIdentity,
    keys: KeyDirectory,
    channels: NodeChannels,
    *,
    limits: TokenLimits | None = None,
    workers: int = 32,
    metrics: DirectoryMetrics | None = None,
) -> tuple[grpc.Server, int]:
    """Build the directory server on address (HOST:PORT, port 0 for any) with mutual TLS. channels is the
    router's pool of node connections; the caller closes it after stopping the server."""
    signing_key = keys.signing_key()
    registry = Registry(db)
    registry.use_directory_certificate(identity.fingerprint)
    routing_log = RoutingLog(db, signing_key)
    servicer = DirectoryServicer(
        registry=registry,
        tokens=TokenService(db, keys, limits or TokenLimits()),
        router=Router(registry, channels, routing_log),
        heads=TreeHeadStore(db, registry),
        routing_log=routing_log,
        signing_key=signing_key,
        metrics=metrics,
    )
    # Route holds a worker while its fan-out runs (up to the deadline), so workers bound concurrent searches.
    server = new_server(workers, SERVER_OPTIONS)
    federation_pb2_grpc.add_DirectoryServicer_to_server(servicer, server)
    add_health_and_reflection(server, [SERVICE_NAME])
    port = add_secure_port(server, address, identity)
    return server, port


def serve(
    address: str,
    db: DirectoryDatabase,
    identity: MtlsIdentity,
    keys: KeyDirectory,
    *,
    limits: TokenLimits | None = None,
    ready: threading.Event | None = None,
    port_file: Path | None = None,
    metrics_listen: str = "",
) -> None:
    """Run the directory until SIGINT or SIGTERM; `port_file` gets the bound port once it listens, and
    `metrics_listen` (an internal HOST:PORT) serves Prometheus /metrics."""
    channels = NodeChannels(identity)
    metrics = DirectoryMetrics()
    if metrics_listen:
        serve_metrics(metrics_listen, metrics.registry, "--metrics-listen")
    server, port = create_server(address, db, identity, keys, channels, limits=limits, metrics=metrics)
    server.start()
    if port_file is not None:
        write_ports(port_file, {"directory": port})
    print(f"directory listening on port {port}", flush=True)
    wait_for_stop(ready)
    server.stop(grace=2).wait()
    channels.close()
