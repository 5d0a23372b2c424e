"""The node's gRPC server on port 0, searched through the real stub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.node.records_factory import TODAY
from tests.wire import search_identity
from whoelse.federation import closed_sets
from whoelse.node.disclosure import SPECIALIST_SERVICES_NOTE
from whoelse.node.importer import import_file
from whoelse.node.matching import record_tags
from whoelse.node.server import create_server
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.node.tags import LocalTagger
from whoelse.v1 import node_pb2, node_pb2_grpc
from whoelse.v1 import records_pb2 as pb

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture()
def channel(db: Database) -> Iterator[grpc.Channel]:
    with db.session() as session:
        settings = load(session)
    for name in ("records.jsonl", "records.csv"):
        import_file(db, EXAMPLES / name, LocalTagger(settings.tag_key), record_tags, today=TODAY)
    server, port = create_server("127.0.0.1:0", db)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel
    finally:
        channel.close()
        server.stop(None)


@pytest.fixture()
def stub(channel: grpc.Channel) -> node_pb2_grpc.CouncilNodeStub:
    return node_pb2_grpc.CouncilNodeStub(channel)


def search(stub: node_pb2_grpc.CouncilNodeStub, **identity: str) -> list[pb.Candidate]:
    request = node_pb2.LocalSearchRequest(
        identity=search_identity(**identity), **closed_sets.PURPOSE.fields("safeguarding")
    )
    return list(stub.LocalSearch(request, timeout=10).candidates)


def test_finds_child_despite_typo_and_missing_accent(stub: node_pb2_grpc.CouncilNodeStub) -> None:
    [found] = search(stub, forename="Zoe", surname="ONeil", date_of_birth="2015-03-07", sex="F")
    assert closed_sets.BAND.read(found) == "match"
    d = found.disclosure
    assert (d.council_code, d.council_name, d.record_id) == ("E08000035", "Leeds", "EX-0001")
    assert d.address.postcode == "LS6 2AB"
    assert [i.practitioner for i in d.involvements] == ["Sam Patel"]


def test_shielded_address_does_not_leave_the_node(stub: node_pb2_grpc.CouncilNodeStub) -> None:
    [found] = search(stub, forename="Mateo", surname="de la Cruz", date_of_birth="2019-06-15", sex="M")
    d = found.disclosure
    assert d.shielded and d.records_team_contact.startswith("Leeds records team")
    assert not d.HasField("address") and not d.involvements
    assert b"Park Row" not in found.SerializeToString()


def test_sensitive_service_arrives_as_the_phrase_only(stub: node_pb2_grpc.CouncilNodeStub) -> None:
    [found] = search(stub, forename="Siobhan", surname="O'Brien", date_of_birth="2010-09-21", sex="F")
    assert found.disclosure.specialist_services_note == SPECIALIST_SERVICES_NOTE
    assert not found.disclosure.involvements
    assert b"Substance" not in found.SerializeToString()


def test_unknown_child_gets_no_candidates(stub: node_pb2_grpc.CouncilNodeStub) -> None:
    assert search(stub, forename="Bartholomew", surname="Quince", date_of_birth="2011-01-01", sex="M") == []


def test_bad_request_is_invalid_argument_with_message(stub: node_pb2_grpc.CouncilNodeStub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        search(stub, forename="Zoe", surname="ONeill", date_of_birth="2015-13-45")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "date_of_birth" in (info.value.details() or "")
    with pytest.raises(grpc.RpcError) as info:
        stub.LocalSearch(node_pb2.LocalSearchRequest(identity=pb.SearchIdentity(forename="A", surname="B",
                         date_of_birth="2015-01-01"), legacy_purpose="curiosity"), timeout=10)  # fmt: skip
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a lawful purpose" in (info.value.details() or "")


def test_health_and_describe(stub: node_pb2_grpc.CouncilNodeStub, channel: grpc.Channel) -> None:
    described = stub.Describe(node_pb2.DescribeRequest(), timeout=10)
    assert (described.council_code, described.records) == ("E08000035", 5)
    health = health_pb2_grpc.HealthStub(channel)
    status = health.Check(health_pb2.HealthCheckRequest(service="whoelse.v1.CouncilNode"), timeout=10).status
    assert status == health_pb2.HealthCheckResponse.SERVING
