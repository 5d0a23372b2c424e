"""Councils witness the directory's routing log: each checks that the routing log's newest head extends the
last one it saw and co-signs it, so the directory cannot rewrite or fork its routing log without the
councils that witnessed it noticing, and an auditor can ask for a head that councils vouched for.

SPEC — a cosignature:
- signed by the witnessing council's Ed25519 council key (federation/signing.py) under context
  "whoelse/v1/cosign", over canonical_json({"log_id", "tree_size", "root_hash"}) of the directory's signed
  routing-log head (the head's timestamp is not covered: a witness vouches for the tree, not the clock);
- a council co-signs a head only after it verified the directory's signature on it and, if it witnessed an
  earlier head, the RFC 9162 §2.1.4 consistency proof from that head (`check_extends`); a head smaller than
  the last one witnessed, or one that does not extend it, is refused and never co-signed.

What leaves the council: its cosignature, to the directory (which stores it beside the head and returns
it to auditors). It carries no child data and nothing about the council's own searches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from whoelse.federation import signing
from whoelse.federation.errors import Refused
from whoelse.federation.merkle import SignedTreeHead, verify_consistency

COSIGN_CONTEXT = "whoelse/v1/cosign"
ROUTING_LOG_ID = "directory"
"""The log id of the directory's routing log, the log councils witness."""


def _fields(head: SignedTreeHead) -> Mapping[str, Any]:
    return {"log_id": head.log_id, "tree_size": head.tree_size, "root_hash": head.root_hash}


def cosign(head: SignedTreeHead, key: signing.SigningKey) -> bytes:
    """This council's cosignature on a head it has checked (see check_extends)."""
    return key.sign(_fields(head), COSIGN_CONTEXT)


def verify_cosignature(head: SignedTreeHead, witness_key: bytes, signature: bytes) -> None:
    """Raises Refused unless the council holding witness_key co-signed this head's tree."""
    signing.verify(witness_key, _fields(head), COSIGN_CONTEXT, signature)


def check_extends(
    previous: SignedTreeHead | None,
    head: SignedTreeHead,
    proof: Sequence[bytes],
    directory_key: bytes,
) -> None:
    """Raises Refused, naming why, unless the directory signed `head` and it extends `previous` (the last
    head this council witnessed, if any) by `proof`."""
    try:
        head.verify(directory_key)
    except Refused as exc:
        raise Refused(f"routing-log head at size {head.tree_size}: not signed by the directory") from exc
    if previous is None:
        return
    if head.tree_size < previous.tree_size:
        raise Refused(
            f"routing-log head at size {head.tree_size} is smaller than the {previous.tree_size} witnessed"
        )
    try:
        verify_consistency(previous.tree_size, head.tree_size, previous.root_hash, head.root_hash, proof)
    except Refused as exc:
        raise Refused(
            f"routing-log head at size {head.tree_size} does not extend the one witnessed at size "
            f"{previous.tree_size}: {exc}"
        ) from None
