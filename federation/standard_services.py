"""The standard gRPC services every WhoElse port offers beside its own: health and server reflection.

Health (grpc.health.v1) lets load balancers, Compose and `whoelse demo` ask whether a port is serving.
Reflection is offered as v1 and as v1alpha, so current tools (grpcurl, grpcui, Postman) and older ones
can list and describe the services. grpcio-reflection implements only v1alpha; v1's messages are the same
on the wire (same fields, same numbers, only the proto package differs), so the one servicer answers both.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def add_health_and_reflection(
    server: grpc.Server, services: Sequence[str], *, serving: bool = True
) -> health.HealthServicer:
    """Add health and reflection (v1 and v1alpha) for `services` (full names) to `server`. Health says
    SERVING for the server as a whole ("") at once, and for each of `services` when `serving`."""
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (*services, health.SERVICE_NAME, reflection.SERVICE_NAME, REFLECTION_V1)
    servicer = reflection.ReflectionServicer(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                REFLECTION_V1,
                {
                    "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                        servicer.ServerReflectionInfo,
                        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
                    )
                },
            ),
        )
    )
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in services:
        health_servicer.set(name, status)
    return health_servicer
