"""Mutual TLS and council standing: who the directory refuses, and the reason each refusal gives."""

from __future__ import annotations

import grpc
import pytest

from tests.directory.conftest import (
    LEEDS,
    PENDING,
    REVOKED,
    SUSPENDED,
    Directory,
    DirectoryFactory,
    expired_credentials,
)
from whoelse.federation import ca
from whoelse.federation.errors import PermissionDenied
from whoelse.v1 import federation_pb2, federation_pb2_grpc

LIST = federation_pb2.CouncilListRequest()


@pytest.fixture()
def directory(shared_directory: Directory) -> Directory:
    """These tests change nothing, so they share one directory."""
    return shared_directory


def _code(call: object) -> grpc.StatusCode:
    assert isinstance(call, grpc.Call)
    return call.code()


def test_an_active_council_gets_the_council_list(directory: Directory) -> None:
    signed = directory.stub(LEEDS).GetCouncilList(LIST, timeout=5)
    assert signed.signature and signed.council_list


def test_a_certificate_from_another_ca_fails_the_handshake(directory: Directory) -> None:
    rogue_key, rogue_cert = ca.issue(*ca.init_ca("Rogue CA"), LEEDS)
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub_with(rogue_key, rogue_cert).GetCouncilList(LIST, timeout=5)
    assert _code(refused.value) == grpc.StatusCode.UNAVAILABLE


def test_an_expired_certificate_fails_the_handshake(directory: Directory) -> None:
    key, cert = expired_credentials(directory.pki, LEEDS)
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub_with(key, cert).GetCouncilList(LIST, timeout=5)
    assert _code(refused.value) == grpc.StatusCode.UNAVAILABLE


def test_a_caller_without_a_certificate_fails_the_handshake(directory: Directory) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub_with(None, None).GetCouncilList(LIST, timeout=5)
    assert _code(refused.value) == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (REVOKED, f"council {REVOKED} is revoked"),
        (SUSPENDED, f"council {SUSPENDED} is suspended"),
        ("E06000099", "council E06000099 is not registered with the directory"),
    ],
)
@pytest.mark.parametrize(
    "rpc", ["GetCouncilList", "EvaluateTokens", "PublishTreeHead", "GetTreeHeads", "CosignRoutingHead"]
)
def test_revoked_suspended_and_unknown_councils_are_refused_with_the_reason(
    directory: Directory, caller: str, reason: str, rpc: str
) -> None:
    requests = {
        "GetCouncilList": LIST,
        "EvaluateTokens": federation_pb2.TokenRequest(blinded=[bytes(32)]),
        "PublishTreeHead": federation_pb2.TreeHead(log_id=caller, root_hash=bytes(32), signature=bytes(64)),
        "GetTreeHeads": federation_pb2.TreeHeadsRequest(),
        "CosignRoutingHead": federation_pb2.Cosignature(
            tree_size=1, root_hash=bytes(32), signature=bytes(64)
        ),
    }
    with pytest.raises(grpc.RpcError) as refused:
        getattr(directory.stub(caller), rpc)(requests[rpc], timeout=5)
    assert _code(refused.value) == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.details() == reason


def test_a_pending_council_may_read_the_list_but_not_evaluate_tokens(directory: Directory) -> None:
    directory.stub(PENDING).GetCouncilList(LIST, timeout=5)
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub(PENDING).EvaluateTokens(federation_pb2.TokenRequest(blinded=[bytes(32)]), timeout=5)
    assert _code(refused.value) == grpc.StatusCode.PERMISSION_DENIED
    assert "pending approval" in refused.value.details()


def test_a_suspension_applies_to_the_very_next_call(make_directory: DirectoryFactory) -> None:
    directory = make_directory()
    stub = directory.stub(LEEDS)
    stub.GetCouncilList(LIST, timeout=5)
    directory.registry.suspend(LEEDS)
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetCouncilList(LIST, timeout=5)
    assert refused.value.details() == f"council {LEEDS} is suspended"


# ---- pinned certificates (issue #13)


def _refusal(stub: federation_pb2_grpc.DirectoryStub) -> str:
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetCouncilList(LIST, timeout=5)
    assert _code(refused.value) == grpc.StatusCode.PERMISSION_DENIED
    return str(refused.value.details())


def test_a_second_certificate_for_a_registered_council_is_refused_naming_the_reason(
    make_directory: DirectoryFactory,
) -> None:
    # The federation CA (or whoever holds its key) issues another certificate in Leeds's name.
    directory = make_directory()
    key, cert = ca.issue(directory.pki.ca_key, directory.pki.ca_cert, LEEDS)
    impostor = directory.stub_with(key, cert)
    reason = _refusal(impostor)
    assert reason.startswith(f"certificate {ca.fingerprint(cert)[:16]}… is not the one registered for")
    assert "a second certificate for a registered council is refused" in reason
    with pytest.raises(grpc.RpcError) as joined:  # nor can it re-join as Leeds to get itself pinned
        impostor.Join(federation_pb2.JoinRequest(council_code=LEEDS), timeout=5)
    assert "is not the one registered for council" in str(joined.value.details())
    directory.stub(LEEDS).GetCouncilList(LIST, timeout=5)  # Leeds's registered certificate still works


def test_a_revoked_certificate_is_refused_while_the_registered_one_works(
    make_directory: DirectoryFactory,
) -> None:
    directory = make_directory()
    old = directory.stub(LEEDS)
    old.GetCouncilList(LIST, timeout=5)
    key, cert = ca.issue(directory.pki.ca_key, directory.pki.ca_cert, LEEDS)
    directory.registry.rotate_certificate(LEEDS, ca.fingerprint(cert))  # Leeds renewed its certificate
    old_fingerprint = directory.pki.fingerprint(LEEDS)
    assert _refusal(old) == f"certificate {old_fingerprint[:16]}… for {LEEDS} has been revoked"
    directory.stub_with(key, cert).GetCouncilList(LIST, timeout=5)

    # One auditor's certificate is lost: revoked alone, another auditor's still reads the heads.
    lost_key, lost_cert = ca.issue(directory.pki.ca_key, directory.pki.ca_cert, "auditor")
    kept_key, kept_cert = ca.issue(directory.pki.ca_key, directory.pki.ca_cert, "auditor")
    assert directory.registry.revoke_certificate(ca.fingerprint(lost_cert), "auditor", "laptop stolen")
    heads = federation_pb2.TreeHeadsRequest()
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub_with(lost_key, lost_cert).GetTreeHeads(heads, timeout=5)
    assert "has been revoked" in str(refused.value.details())
    assert directory.stub_with(kept_key, kept_cert).GetTreeHeads(heads, timeout=5).heads
    with pytest.raises(PermissionDenied, match="has been revoked; it cannot be registered"):
        directory.registry.rotate_certificate(LEEDS, directory.pki.fingerprint(LEEDS))  # no going back
