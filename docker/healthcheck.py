"""Container health check: exit 0 if a WhoElse gRPC server reports a service as SERVING over TLS.

Used by docker-compose.yml for the directory (mutual TLS, so it presents the directory's own certificate)
and for each council node (whose Practitioner service turns SERVING once the node has joined the
directory and tokenised its records).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(address: str, service: str, ca: Path, cert: Path | None, key: Path | None) -> bool:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )
    with grpc.secure_channel(address, credentials) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=3
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="gRPC health check over TLS")
    parser.add_argument("address", help="HOST:PORT")
    parser.add_argument("service", help="e.g. whoelse.v1.Practitioner ('' for the whole server)")
    parser.add_argument("--ca", type=Path, required=True)
    parser.add_argument("--cert", type=Path, help="client certificate, for a mutual-TLS server")
    parser.add_argument("--key", type=Path)
    args = parser.parse_args(argv)
    return 0 if check(args.address, args.service, args.ca, args.cert, args.key) else 1


if __name__ == "__main__":
    sys.exit(main())
