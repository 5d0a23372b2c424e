"""Every port answers gRPC health and server reflection, v1 and v1alpha, as operators' tools expect."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from tests.integration.harness import Federation
from tests.integration.test_federation import LEEDS
from whoelse.federation.transport import MtlsIdentity, secure_channel
from whoelse.node.server import create_server


def listed_services(channel: grpc.Channel, version: str) -> set[str]:
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    [reply] = list(call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5))
    return {s.name for s in reply.list_services_response.service}


def check_port(channel: grpc.Channel, service: str) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", service):
        reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
    for version in ("v1", "v1alpha"):
        assert {service, "grpc.health.v1.Health"} <= listed_services(channel, version)


def test_every_port_serves_health_and_both_reflection_versions(leeds_alone: Federation) -> None:
    leeds = leeds_alone.councils[LEEDS]
    ca = leeds_alone.ca_dir
    as_directory = MtlsIdentity.from_files(ca / "ca.crt", ca / "directory.crt", ca / "directory.key")
    as_leeds = MtlsIdentity.from_files(ca / "ca.crt", ca / f"{LEEDS}.crt", ca / f"{LEEDS}.key")
    tls = grpc.ssl_channel_credentials(root_certificates=(ca / "ca.crt").read_bytes())

    with grpc.secure_channel(leeds.practitioner_endpoint, tls) as channel:
        check_port(channel, "whoelse.v1.Practitioner")
    with secure_channel(f"localhost:{leeds.servers.federation_port}", as_directory) as channel:
        check_port(channel, "whoelse.v1.FederationNode")
    with secure_channel(f"localhost:{leeds_alone.directory_port}", as_leeds) as channel:
        check_port(channel, "whoelse.v1.Directory")
    server, port = create_server("127.0.0.1:0", leeds.runtime.db, workers=2)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            check_port(channel, "whoelse.v1.CouncilNode")
    finally:
        server.stop(None).wait()
