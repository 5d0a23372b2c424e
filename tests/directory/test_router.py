"""Directory.Route: fan-out with a deadline to real FederationNode servers, every non-answer named with its
reason, envelope validation, and a routing log that holds metadata but never a sealed payload."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from tests.directory.conftest import (
    CORNWALL,
    LEEDS,
    REVOKED,
    SUSPENDED,
    WESTMINSTER,
    Directory,
    NodeFactory,
    answers,
    refuses,
    sleeps,
)
from whoelse.directory.routing_log import RoutingLog
from whoelse.federation import ca, closed_sets
from whoelse.v1 import federation_pb2

SECRET = b"SEALED-PAYLOAD-MARKER-7f3a"  # stands for ciphertext the directory must never store


def routed(
    recipients: list[str], deadline_ms: int = 800, sealed: bytes = SECRET
) -> federation_pb2.RoutedQuery:
    return federation_pb2.RoutedQuery(
        query_id="q-0001",
        origin=LEEDS,
        **closed_sets.PURPOSE.fields("safeguarding"),
        issued_at_ms=1_750_000_000_000,
        deadline_ms=deadline_ms,
        deliveries=[
            federation_pb2.Delivery(query_id="q-0001", origin=LEEDS, recipient=code, sealed=sealed)
            for code in recipients
        ],
    )


def _reasons(result: federation_pb2.RoutedAnswers) -> dict[str, tuple[str, str]]:
    return {u.council: (closed_sets.UNANSWERED_REASON.read(u), u.detail) for u in result.unanswered}


def test_route_returns_every_answer_and_names_every_silent_council_within_the_deadline(
    directory: Directory, start_node: NodeFactory
) -> None:
    leeds = start_node(LEEDS, answers(b"leeds-answer"))
    slow = start_node(WESTMINSTER, sleeps(3.0))
    stopped = start_node(CORNWALL, answers())
    stopped.server.stop(None).wait()
    directory.enrol(LEEDS, leeds.endpoint)
    directory.enrol(WESTMINSTER, slow.endpoint)
    directory.enrol(CORNWALL, stopped.endpoint)

    started = time.monotonic()
    result = directory.stub(LEEDS).Route(
        routed([LEEDS, WESTMINSTER, CORNWALL, SUSPENDED, REVOKED]), timeout=10
    )
    elapsed = time.monotonic() - started

    assert [(a.responder, a.sealed) for a in result.answers] == [(LEEDS, b"leeds-answer")]
    assert _reasons(result) == {
        WESTMINSTER: ("timeout", "no answer within the deadline"),
        CORNWALL: ("unavailable", "the council's node could not be reached"),
        SUSPENDED: ("refused", f"council {SUSPENDED} is suspended"),
        REVOKED: ("refused", f"council {REVOKED} is revoked"),
    }
    assert 0.75 < elapsed < 2.9  # cut at the 0.8 s deadline, not after the slow node's 3 s
    assert leeds.servicer.callers == [ca.DIRECTORY_CN]  # nodes see the directory's certificate
    assert slow.servicer.received[0].sealed == SECRET  # delivered untouched


def test_a_node_refusal_is_reported_with_the_nodes_message(
    directory: Directory, start_node: NodeFactory
) -> None:
    node = start_node(WESTMINSTER, refuses("sealed payload could not be opened: wrong recipient"))
    directory.enrol(WESTMINSTER, node.endpoint)
    result = directory.stub(LEEDS).Route(routed([WESTMINSTER]), timeout=10)
    assert _reasons(result) == {
        WESTMINSTER: ("refused", "PERMISSION_DENIED: sealed payload could not be opened: wrong recipient")
    }


def test_an_answer_claiming_another_responder_is_not_passed_on(
    directory: Directory, start_node: NodeFactory
) -> None:
    def impostor(
        delivery: federation_pb2.Delivery, context: grpc.ServicerContext
    ) -> federation_pb2.SealedAnswer:
        return federation_pb2.SealedAnswer(query_id=delivery.query_id, responder=CORNWALL, sealed=b"x")

    node = start_node(WESTMINSTER, impostor)
    directory.enrol(WESTMINSTER, node.endpoint)
    result = directory.stub(LEEDS).Route(routed([WESTMINSTER]), timeout=10)
    assert not result.answers
    assert _reasons(result)[WESTMINSTER][0] == "refused"


def test_fan_out_to_150_councils_is_concurrent(directory: Directory, start_node: NodeFactory) -> None:
    # 150 registered councils served by one node process: 150 concurrent calls, each answering after 200 ms.
    node = start_node(WESTMINSTER, sleeps(0.2), workers=160)
    codes = [f"E10{n:06d}" for n in range(150)]
    for code in codes:
        directory.registry.register_active(code, code, node.endpoint, bytes(32), bytes(32), "0" * 64)
    started = time.monotonic()
    result = directory.stub(LEEDS).Route(routed(codes, deadline_ms=5_000), timeout=10)
    elapsed = time.monotonic() - started
    assert sorted(a.responder for a in result.answers) == codes
    assert not result.unanswered
    assert elapsed < 10.0  # concurrent: serially this would take 30 s


def test_the_caller_must_be_the_origin(directory: Directory) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub(WESTMINSTER).Route(routed([LEEDS]), timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"council {WESTMINSTER} may route only its own queries" in refused.value.details()


def test_an_inactive_origin_is_refused(directory: Directory) -> None:
    query = routed([LEEDS])
    query.origin = SUSPENDED
    for delivery in query.deliveries:
        delivery.origin = SUSPENDED
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub(SUSPENDED).Route(query, timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.details() == f"council {SUSPENDED} is suspended"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (routed([f"E10{n:06d}" for n in range(201)]), "at most 200 deliveries"),
        (routed([WESTMINSTER], sealed=bytes(64 * 1024 + 1)), "at most 65536 allowed"),
        (routed([LEEDS, CORNWALL, SUSPENDED, REVOKED], sealed=bytes(2**20 + 1)), "at most 4194304 bytes"),
        (routed([WESTMINSTER, "E06000099"]), "council 'E06000099' is not registered with the directory"),
        (routed([WESTMINSTER, WESTMINSTER]), "appears twice"),
        (routed([]), "at least one delivery"),
    ],
)
def test_malformed_or_oversized_queries_are_invalid(
    directory: Directory, query: federation_pb2.RoutedQuery, message: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub(LEEDS).Route(query, timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in refused.value.details()


def test_a_15_mb_query_to_60_unknown_councils_is_refused_before_it_is_logged(directory: Directory) -> None:
    hostile = routed([f"E10{n:06d}" for n in range(60)], sealed=bytes(250 * 1024))
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub(LEEDS).Route(hostile, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert RoutingLog(directory.db, directory.keys.signing_key()).entries() == []


def test_an_unlawful_purpose_is_invalid(directory: Directory) -> None:
    query = routed([WESTMINSTER])
    query.ClearField("purpose")
    query.legacy_purpose = "curiosity"  # as a council still on 0.1 would write it
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub(LEEDS).Route(query, timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_routing_log_holds_metadata_and_never_a_sealed_payload(
    directory: Directory, start_node: NodeFactory, tmp_path: Path
) -> None:
    node = start_node(WESTMINSTER, answers(b"ANSWER-PAYLOAD-MARKER-91c2"))
    directory.enrol(WESTMINSTER, node.endpoint)
    directory.stub(LEEDS).Route(routed([WESTMINSTER, SUSPENDED]), timeout=10)

    [entry] = RoutingLog(directory.db, directory.keys.signing_key()).entries()
    logged = dict(entry.entry)
    routed_at = logged.pop("routed_at_ms")
    assert routed_at > 1_750_000_000_000
    assert logged == {
        "query_id": "q-0001",
        "origin": LEEDS,
        "purpose": "safeguarding",
        "issued_at_ms": 1_750_000_000_000,
        "recipients": 2,
        "answered": [WESTMINSTER],
        "unanswered": [{"council": SUSPENDED, "reason": "refused"}],
    }
    directory.stop()
    directory.db.dispose()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "directory-0").glob("directory.sqlite*"))
    assert b"q-0001" in stored  # the log really is in these files
    assert SECRET not in stored
    assert b"ANSWER-PAYLOAD-MARKER-91c2" not in stored
