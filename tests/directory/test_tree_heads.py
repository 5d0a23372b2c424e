"""PublishTreeHead / GetTreeHeads: a council's head is kept only if it is signed by the council and proves it
extends what it published before; every head accepted is kept; the directory's own routing-log head comes
back beside them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import grpc
import pytest

from tests.directory.conftest import LEEDS, WESTMINSTER, Directory
from whoelse.federation import merkle
from whoelse.federation.council_list import load_verify_key
from whoelse.federation.merkle import SignedTreeHead
from whoelse.federation.signing import SigningKey
from whoelse.v1 import federation_pb2

ROOT_A, ROOT_B = bytes([1]) * 32, bytes([2]) * 32
LEAVES = [merkle.leaf_hash(b"entry %d" % n) for n in range(12)]
FORKED = [*LEAVES[:3], *(merkle.leaf_hash(b"rewritten %d" % n) for n in range(3, 12))]


def head(
    directory: Directory,
    size: int,
    root: bytes,
    key: SigningKey | None = None,
    proof: Sequence[bytes] = (),
) -> federation_pb2.TreeHead:
    signed = SignedTreeHead.sign(
        key or directory.councils[LEEDS].signing, LEEDS, size, root, 1_750_000_000_000 + size
    )
    return federation_pb2.TreeHead(
        log_id=signed.log_id,
        tree_size=signed.tree_size,
        root_hash=signed.root_hash,
        timestamp_ms=signed.timestamp_ms,
        signature=signed.signature,
        consistency_proof=proof,
    )


def log_head(
    directory: Directory, size: int, leaves: Sequence[bytes] = LEAVES, since: int = 0
) -> federation_pb2.TreeHead:
    """Leeds's head over the first `size` leaves, with the proof that it extends the tree of `since`."""
    proof = merkle.consistency_proof(leaves, since, size)
    return head(directory, size, merkle.root(leaves[:size]), proof=proof)


def publish(directory: Directory, message: federation_pb2.TreeHead, as_council: str = LEEDS) -> None:
    assert directory.stub(as_council).PublishTreeHead(message, timeout=5).accepted


def refusal(directory: Directory, message: federation_pb2.TreeHead, as_council: str = LEEDS) -> str:
    with pytest.raises(grpc.RpcError) as refused:
        publish(directory, message, as_council)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    return str(refused.value.details())


def test_heads_are_stored_and_returned_with_the_directorys_own(directory: Directory) -> None:
    publish(directory, log_head(directory, 5))
    publish(directory, log_head(directory, 5))  # the same head again is fine
    publish(directory, log_head(directory, 9, since=5))
    heads = directory.stub("auditor").GetTreeHeads(federation_pb2.TreeHeadsRequest(), timeout=5).heads
    by_log = {h.log_id: h for h in heads}
    assert (by_log[LEEDS].tree_size, by_log[LEEDS].root_hash) == (9, merkle.root(LEAVES[:9]))
    own = by_log["directory"]
    SignedTreeHead(own.log_id, own.tree_size, own.root_hash, own.timestamp_ms, own.signature).verify(
        load_verify_key(directory.keys.verify_key_path)
    )


def test_a_shrunken_or_forked_or_forged_head_is_refused(directory: Directory) -> None:
    publish(directory, head(directory, 9, ROOT_A))  # the first head needs no proof
    assert "the log was truncated or rewritten" in refusal(directory, head(directory, 8, ROOT_A))
    assert "two histories of one log" in refusal(directory, head(directory, 9, ROOT_B))
    forged = head(directory, 12, ROOT_B, key=SigningKey.generate())
    assert (
        refusal(directory, forged) == f"tree head for {LEEDS} is not signed by the council's registered key"
    )
    assert "may publish only its own log's head" in refusal(
        directory, head(directory, 12, ROOT_B), WESTMINSTER
    )


def test_a_council_reads_only_its_own_head_and_the_routing_logs(directory: Directory) -> None:
    # Another council's head would show how its log grows with each query (docs/threat-model.md, "Heads").
    publish(directory, head(directory, 5, ROOT_A))
    request = federation_pb2.TreeHeadsRequest()
    others = directory.stub(WESTMINSTER).GetTreeHeads(request, timeout=5).heads
    assert [h.log_id for h in others] == ["directory"]
    own = directory.stub(LEEDS).GetTreeHeads(request, timeout=5).heads
    assert [(h.log_id, h.tree_size) for h in own] == [(LEEDS, 5), ("directory", own[1].tree_size)]
    every = directory.stub("auditor").GetTreeHeads(request, timeout=5).heads
    assert [h.log_id for h in every] == [LEEDS, "directory"]


def test_a_head_without_a_valid_consistency_proof_is_refused_and_every_accepted_head_is_kept(
    directory: Directory,
) -> None:
    publish(directory, log_head(directory, 3))
    publish(directory, log_head(directory, 7, since=3))
    # Rewritten after entry 3, re-signed with the council's own key, and larger: no proof can link it.
    forked = log_head(directory, 12, FORKED, since=7)
    reason = refusal(directory, forked)
    assert reason.startswith(f"tree head for {LEEDS} of size 12 does not prove it extends the head of size 7")
    no_proof = log_head(directory, 12, since=7)
    del no_proof.consistency_proof[:]
    assert "the log was rewritten, or the proof is missing" in refusal(directory, no_proof)
    publish(directory, log_head(directory, 12, since=7))  # the genuine log extends
    request = federation_pb2.TreeHeadsRequest(history=True)
    kept = [h for h in directory.stub("auditor").GetTreeHeads(request, timeout=5).heads if h.log_id == LEEDS]
    assert [h.tree_size for h in kept] == [3, 7, 12]
    for old, new in itertools.pairwise(kept):  # each links to the one before
        proof = list(new.consistency_proof)
        merkle.verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof)
