"""A change a case-management system makes through Leeds's records API reaches the practitioner working
with the same child at Bradford, exactly as an imported change does (issue #11)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from tests.integration.harness import Federation
from tests.integration.test_federation import BRADFORD, LEEDS, ZOE_BRADFORD, ZOE_LEEDS, involvement
from whoelse.federation.cli import main
from whoelse.v1 import records_api_pb2 as ra
from whoelse.v1 import records_api_pb2_grpc


def test_a_records_api_change_at_leeds_alerts_the_school_nurse_at_bradford(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    try:
        leeds = fed.add_council(LEEDS, "Leeds", [ZOE_LEEDS], listen_records="127.0.0.1:0")
        fed.add_council(BRADFORD, "Bradford", [ZOE_BRADFORD])
        fed.run_upkeep()
        fed.add_practitioner(fed.councils[BRADFORD], "jo@bradford", "Jo Khan", role="School nurse")
        certs = tmp_path / "systems"
        ca_files = ["--ca-cert", str(fed.ca_dir / "ca.crt"), "--ca-key", str(fed.ca_dir / "ca.key")]
        db = str(tmp_path / LEEDS / "node.sqlite")
        add = ["node", "system", "add", "mosaic", "--scope", "involvements", "--db", db, "--out", str(certs)]
        assert main([*add, *ca_files]) == 0
        credentials = grpc.ssl_channel_credentials(
            (fed.ca_dir / "ca.crt").read_bytes(),
            (certs / "mosaic.key").read_bytes(),
            (certs / "mosaic.crt").read_bytes(),
        )
        with grpc.secure_channel(f"localhost:{leeds.servers.records_port}", credentials) as channel:
            records = records_api_pb2_grpc.RecordsStub(channel)
            version = records.GetVersion(ra.GetVersionRequest(record_id="L-1")).version
            nurse = fed.client(fed.councils[BRADFORD], "jo@bradford")
            received: list[Any] = []

            def watch() -> None:
                for alert in nurse.watch(timeout=15):
                    received.append(alert)
                    return

            watcher = threading.Thread(target=watch)
            watcher.start()
            threading.Event().wait(0.5)  # let the stream open before the change is sent
            health_visitor = json_format.ParseDict(
                involvement("Kim Ray", "Health visitor", "health_visiting"), ra.InvolvementInput()
            )
            reply = records.AddInvolvement(
                ra.AddInvolvementRequest(
                    change=ra.Change(change_id="mosaic-1", expected_version=version),
                    record_id="L-1",
                    involvement=health_visitor,
                )
            )
            assert reply.version == version + 1
            assert leeds.runtime.send_alerts() == 1
            watcher.join(20)
        assert [a.summary for a in received] == ["A health visitor at Children's Services became involved"]
    finally:
        fed.stop()
