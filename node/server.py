"""The node's gRPC server: CouncilNode plus standard health and reflection services.

`create_server` binds and returns (server, port) so tests can bind port 0; `serve` runs until stopped.
"""

from __future__ import annotations

import threading

import grpc

from whoelse.federation.errors import ConfigError
from whoelse.federation.malformed_requests import new_server
from whoelse.federation.serving import wait_for_stop
from whoelse.federation.standard_services import add_health_and_reflection
from whoelse.node.servicer import CouncilNodeServicer
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.v1 import node_pb2, node_pb2_grpc

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def create_server(address: str, db: Database, *, workers: int = 16) -> tuple[grpc.Server, int]:
    with db.session() as session:
        settings = load(session)
    server = new_server(
        workers,
        [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    node_pb2_grpc.add_CouncilNodeServicer_to_server(CouncilNodeServicer(db, settings), server)
    add_health_and_reflection(server, [node_pb2.DESCRIPTOR.services_by_name["CouncilNode"].full_name])
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise ConfigError(f"listen: cannot bind {address}") from exc
    return server, port


def serve(address: str, db: Database, ready: threading.Event | None = None) -> None:
    server, port = create_server(address, db)
    server.start()
    print(f"node listening on port {port}", flush=True)
    wait_for_stop(ready)
    server.stop(grace=2).wait()
