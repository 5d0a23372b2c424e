"""The records API's gRPC server: mutual TLS under the federation CA, so only a certificate the CA issued
can connect, and only one registered as a records system at this council can write (servicer.py)."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from whoelse.federation.malformed_requests import new_server
from whoelse.federation.transport import MtlsIdentity, add_secure_port
from whoelse.node.records_api.service import RecordsService
from whoelse.node.records_api.servicer import RecordsServicer
from whoelse.v1 import records_api_pb2, records_api_pb2_grpc

MAX_MESSAGE_BYTES = 1024 * 1024  # one child's record; an import file is the way to send many
SERVICE_NAME = records_api_pb2.DESCRIPTOR.services_by_name["Records"].full_name


def create_records_server(
    address: str, service: RecordsService, identity: MtlsIdentity, *, workers: int = 8
) -> tuple[grpc.Server, int]:
    """Bind (port 0 picks one) and return the server, not yet started, and its port."""
    server = new_server(
        workers,
        [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    records_api_pb2_grpc.add_RecordsServicer_to_server(RecordsServicer(service), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = add_secure_port(server, address, identity)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port
