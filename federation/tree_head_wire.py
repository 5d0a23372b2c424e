"""A signed tree head to and from its wire form (`whoelse.v1.TreeHead`), in one place for the node, the
directory and the auditor's tools."""

from __future__ import annotations

from collections.abc import Sequence

from whoelse.federation.merkle import SignedTreeHead
from whoelse.v1 import federation_pb2


def head_from_wire(message: federation_pb2.TreeHead) -> SignedTreeHead:
    return SignedTreeHead(
        message.log_id,
        message.tree_size,
        bytes(message.root_hash),
        message.timestamp_ms,
        bytes(message.signature),
    )


def head_to_wire(head: SignedTreeHead, proof: Sequence[bytes] = ()) -> federation_pb2.TreeHead:
    return federation_pb2.TreeHead(
        log_id=head.log_id,
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        timestamp_ms=head.timestamp_ms,
        signature=head.signature,
        consistency_proof=list(proof),
    )
