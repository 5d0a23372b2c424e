"""Merkle tree maths for the append-only audit logs, and the signed tree head that commits to a log's state.

SPEC: RFC 9162 (Certificate Transparency Version 2.0) §2.1, https://www.rfc-editor.org/rfc/rfc9162#section-2.1
with SHA-256; identical to RFC 6962 §2.1 trees, so CT / Trillian test vectors apply.
Pure functions over leaf hashes: storing entries and their hashes is the log's job (append, integrate,
sign a tree head: three steps kept apart). Proof generation takes the list of leaf hashes and costs O(n)
hashes; verification costs O(log n) and needs only the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.signing import SigningKey, verify

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""SPEC: RFC 9162 §2.1.1 — the hash of an empty tree is HASH() of the empty string."""

TREE_HEAD_CONTEXT = "whoelse/v1/tree-head"


def leaf_hash(entry: bytes) -> bytes:
    """SPEC: RFC 9162 §2.1.1 — MTH({d(0)}) = HASH(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SPEC: RFC 9162 §2.1.1 — interior node HASH(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1). SPEC: RFC 9162 §2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a non-empty range, without copying the list."""
    if end - start == 1:
        return leaf_hashes[start]
    k = _split(end - start)
    return node_hash(_subtree_root(leaf_hashes, start, start + k), _subtree_root(leaf_hashes, start + k, end))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) for any n, given the leaf hashes. SPEC: RFC 9162 §2.1.1."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _subtree_root(leaf_hashes, 0, len(leaf_hashes))


def _check_size(tree_size: int | None, available: int) -> int:
    size = available if tree_size is None else tree_size
    if not 0 <= size <= available:
        raise InvalidInput(f"tree size {size} is outside the {available} leaves available")
    return size


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int | None = None) -> list[bytes]:
    """PATH(index, D[tree_size]): the audit path proving leaf `index` is in the first tree_size leaves
    (default: all of them). SPEC: RFC 9162 §2.1.3.1."""
    size = _check_size(tree_size, len(leaf_hashes))
    if not 0 <= index < size:
        raise InvalidInput(f"leaf index {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(_subtree_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            path.append(_subtree_root(leaf_hashes, start, start + k))
            start += k
    path.reverse()  # RFC order: from the leaf's sibling up to the root's child
    return path


def root_from_inclusion_proof(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies; raises Refused if the proof cannot fit.
    SPEC: RFC 9162 §2.1.3.2 steps 1-5."""
    if not 0 <= index < tree_size:
        raise Refused(f"inclusion proof: leaf index {index} is not in a tree of {tree_size} leaves")
    _check_hashes(proof, "inclusion")
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise Refused("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Refused("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Check that leaf (a leaf hash) is at index in the tree with root_hash; raises Refused if not.
    SPEC: RFC 9162 §2.1.3.2."""
    if root_from_inclusion_proof(leaf, index, tree_size, proof) != root_hash:
        raise Refused(f"inclusion proof for leaf {index} does not match the root of tree size {tree_size}")


def consistency_proof(
    leaf_hashes: Sequence[bytes], old_size: int, new_size: int | None = None
) -> list[bytes]:
    """PROOF(old_size, D[new_size]): proves the first old_size leaves are a prefix of the first new_size
    (default: all). Empty when old_size is 0 or equals new_size. SPEC: RFC 9162 §2.1.4.1."""
    size = _check_size(new_size, len(leaf_hashes))
    if not 0 <= old_size <= size:
        raise InvalidInput(f"old tree size {old_size} is not between 0 and the new size {size}")
    return _consistency_path(old_size, size, lambda start, end: _subtree_root(leaf_hashes, start, end))


def consistency_proof_extending(
    old_roots: Sequence[bytes], old_size: int, new_leaves: Sequence[bytes]
) -> list[bytes]:
    """PROOF(old_size, D[old_size + len(new_leaves)]) from the old tree's compact range (the roots of its
    perfect subtrees, largest first) and only the leaves added since: O(new leaves + log n) rather than a pass
    over the whole log. Every node of the proof is either one of those old roots or a subtree of new leaves
    (the recursion of RFC 9162 §2.1.4.1 never splits an old perfect subtree nor straddles old_size)."""
    if len(old_roots) != old_size.bit_count():
        raise InvalidInput(f"a tree of size {old_size} has {old_size.bit_count()} perfect subtrees")
    known: dict[tuple[int, int], bytes] = {}
    start = 0
    for bit in reversed(range(old_size.bit_length())):
        if old_size >> bit & 1:
            known[(start, start + (1 << bit))] = old_roots[len(known)]
            start += 1 << bit

    def subtree(begin: int, end: int) -> bytes:
        if (begin, end) in known:
            return known[(begin, end)]
        if begin < old_size:
            raise InvalidInput(f"subtree [{begin}, {end}) is neither old nor new")  # unreachable by RFC 9162
        return _subtree_root(new_leaves, begin - old_size, end - old_size)

    return _consistency_path(old_size, old_size + len(new_leaves), subtree)


def _consistency_path(old_size: int, size: int, subtree: Callable[[int, int], bytes]) -> list[bytes]:
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    m, start, end, complete = old_size, 0, size, True
    # SUBPROOF(m, D[start:end], complete), unrolled; proof nodes collected leaf-side last, then reversed.
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(subtree(start, end))
    proof.reverse()
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (new_size, new_root) extends the tree (old_size, old_root); raises Refused if not.
    SPEC: RFC 9162 §2.1.4.2."""
    if not 0 <= old_size <= new_size:
        raise Refused(f"consistency: old size {old_size} is not between 0 and new size {new_size}")
    _check_hashes(proof, "consistency")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise Refused(f"consistency: two different heads for the same tree size {new_size}")
        return
    if old_size == 0:  # every tree extends the empty tree
        if proof:
            raise Refused("consistency: a proof from the empty tree must be empty")
        return
    if not proof:
        raise Refused("consistency: empty proof between different tree sizes")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: old tree is a complete subtree; its root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Refused("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise Refused(f"consistency proof from size {old_size} to {new_size} does not match the tree heads")


def _check_hashes(proof: Sequence[bytes], kind: str) -> None:
    for index, node in enumerate(proof):
        if len(node) != HASH_BYTES:
            raise Refused(f"{kind} proof node {index} is {len(node)} bytes, not {HASH_BYTES}")


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A log's signed commitment to its first tree_size entries (RFC 9162 §4.10 in spirit, Ed25519-signed
    canonical JSON instead of TLS encoding)."""

    log_id: str
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    signature: bytes

    @classmethod
    def sign(
        cls, key: SigningKey, log_id: str, tree_size: int, root_hash: bytes, timestamp_ms: int
    ) -> SignedTreeHead:
        if len(root_hash) != HASH_BYTES:
            raise InvalidInput(f"a root hash is {HASH_BYTES} bytes, got {len(root_hash)}")
        if tree_size < 0 or timestamp_ms < 0:
            raise InvalidInput("tree size and timestamp must not be negative")
        unsigned = cls(log_id, tree_size, root_hash, timestamp_ms, b"")
        return cls(
            log_id, tree_size, root_hash, timestamp_ms, key.sign(unsigned.signed_fields(), TREE_HEAD_CONTEXT)
        )

    def signed_fields(self) -> Mapping[str, Any]:
        """Everything the signature covers (all fields but the signature)."""
        return {
            "log_id": self.log_id,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp_ms": self.timestamp_ms,
        }

    def verify(self, verify_key: bytes) -> None:
        """Raises Refused("bad signature ...") unless the log holding verify_key signed this head."""
        verify(verify_key, self.signed_fields(), TREE_HEAD_CONTEXT, self.signature)
