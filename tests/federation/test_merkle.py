"""RFC 9162 Merkle tree maths against the CT / Trillian reference vectors, plus exhaustive small trees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from whoelse.federation import merkle
from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.signing import SigningKey
from whoelse.federation.transparency_log import CompactRange

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "assets" / "merkle_rfc6962_vectors.json").read_text()
)
LEAF_HASHES = [merkle.leaf_hash(bytes.fromhex(leaf)) for leaf in VECTORS["leaves_hex"]]
ROOTS = {int(size): bytes.fromhex(root) for size, root in VECTORS["roots"].items()}


def _hashes(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8 % len(flipped)] ^= 1 << (bit % 8)
    return bytes(flipped)


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert merkle.root([]) == merkle.EMPTY_ROOT == bytes.fromhex(VECTORS["empty_root"])


@pytest.mark.parametrize("size", sorted(ROOTS))
def test_roots_match_reference_vectors(size: int) -> None:
    assert merkle.root(LEAF_HASHES[:size]) == ROOTS[size]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-of-{c['tree_size']}")
def test_inclusion_proofs_match_reference_and_verify(case: dict[str, Any]) -> None:
    index, size, proof = case["index"], case["tree_size"], _hashes(case["proof"])
    assert merkle.inclusion_proof(LEAF_HASHES, index, size) == proof
    merkle.verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize("case", VECTORS["inclusion"][:4], ids=lambda c: f"{c['index']}-of-{c['tree_size']}")
def test_inclusion_verification_rejects_every_kind_of_tampering(case: dict[str, Any]) -> None:
    index, size, proof = case["index"], case["tree_size"], _hashes(case["proof"])
    leaf, root = LEAF_HASHES[index], ROOTS[size]
    wrong: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (merkle.leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (leaf, index, size, proof, merkle.EMPTY_ROOT),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, proof[:-1], root),
        (leaf, index, size, [root, *proof], root),
    ]
    wrong += [
        (leaf, index, size, [*proof[:i], merkle.EMPTY_ROOT, *proof[i + 1 :]], root) for i in range(len(proof))
    ]
    for args in wrong:
        with pytest.raises(Refused):
            merkle.verify_inclusion(*args)


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['old_size']}-to-{c['new_size']}")
def test_consistency_proofs_match_reference_and_verify(case: dict[str, Any]) -> None:
    old, new, proof = case["old_size"], case["new_size"], _hashes(case["proof"])
    assert merkle.consistency_proof(LEAF_HASHES, old, new) == proof
    merkle.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


@pytest.mark.parametrize(
    "case", VECTORS["consistency"][1:], ids=lambda c: f"{c['old_size']}-to-{c['new_size']}"
)
def test_consistency_verification_rejects_every_kind_of_tampering(case: dict[str, Any]) -> None:
    old, new, proof = case["old_size"], case["new_size"], _hashes(case["proof"])
    r1, r2 = ROOTS[old], ROOTS[new]
    wrong: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, merkle.EMPTY_ROOT, r2, proof),
        (old, new, r1, merkle.EMPTY_ROOT, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, proof[:-1]),
        (old, new, r1, r2, [proof[0], *proof]),
    ]
    wrong += [(old, new, r1, r2, [*proof[:i], merkle.EMPTY_ROOT, *proof[i + 1 :]]) for i in range(len(proof))]
    for args in wrong:
        with pytest.raises(Refused):
            merkle.verify_consistency(*args)


def test_trivial_consistency_cases() -> None:
    merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, ROOTS[5], [])
    with pytest.raises(Refused, match="same tree size"):
        merkle.verify_consistency(3, 3, ROOTS[3], ROOTS[4], [])
    with pytest.raises(Refused, match="not between"):
        merkle.verify_consistency(4, 3, ROOTS[4], ROOTS[3], [])
    with pytest.raises(Refused, match="must be empty"):
        merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, ROOTS[5], [merkle.EMPTY_ROOT])
    with pytest.raises(Refused, match="empty proof"):
        merkle.verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])


def test_every_proof_in_trees_up_to_64_leaves_verifies_and_a_flipped_bit_fails() -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(64)]
    roots = [merkle.root(leaves[:n]) for n in range(65)]
    for size in range(1, 65):
        for index in range(size):
            proof = merkle.inclusion_proof(leaves, index, size)
            assert len(proof) <= (size - 1).bit_length()
            merkle.verify_inclusion(leaves[index], index, size, proof, roots[size])
            with pytest.raises(Refused):
                merkle.verify_inclusion(_flip(leaves[index], size), index, size, proof, roots[size])
            for i in range(len(proof)):
                bad = [*proof[:i], _flip(proof[i], index * 7 + i), *proof[i + 1 :]]
                with pytest.raises(Refused):
                    merkle.verify_inclusion(leaves[index], index, size, bad, roots[size])
        for old in range(1, size + 1):
            proof = merkle.consistency_proof(leaves, old, size)
            merkle.verify_consistency(old, size, roots[old], roots[size], proof)
            if old == size:
                continue
            with pytest.raises(Refused):
                merkle.verify_consistency(old, size, _flip(roots[old], size), roots[size], proof)
            with pytest.raises(Refused):
                merkle.verify_consistency(old, size, roots[old], _flip(roots[size], old), proof)
            for i in range(len(proof)):
                bad = [*proof[:i], _flip(proof[i], old * 5 + i), *proof[i + 1 :]]
                with pytest.raises(Refused):
                    merkle.verify_consistency(old, size, roots[old], roots[size], bad)


def test_a_rewritten_entry_breaks_consistency_with_the_old_head() -> None:
    leaves = [merkle.leaf_hash(b"entry %d" % i) for i in range(20)]
    old_root = merkle.root(leaves[:13])
    rewritten = [*leaves[:5], merkle.leaf_hash(b"forged"), *leaves[6:]]
    proof = merkle.consistency_proof(rewritten, 13)
    with pytest.raises(Refused, match="does not match"):
        merkle.verify_consistency(13, 20, old_root, merkle.root(rewritten), proof)


def test_a_log_of_100k_entries_is_handled_quickly() -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(100_000)]
    root = merkle.root(leaves)
    proof = merkle.inclusion_proof(leaves, 77_777)
    assert len(proof) == 17
    merkle.verify_inclusion(leaves[77_777], 77_777, 100_000, proof, root)
    consistency = merkle.consistency_proof(leaves, 65_537)
    merkle.verify_consistency(65_537, 100_000, merkle.root(leaves[:65_537]), root, consistency)


def test_proof_generation_rejects_impossible_arguments() -> None:
    with pytest.raises(InvalidInput, match="leaf index 8"):
        merkle.inclusion_proof(LEAF_HASHES, 8)
    with pytest.raises(InvalidInput, match="tree size 9"):
        merkle.inclusion_proof(LEAF_HASHES, 0, 9)
    with pytest.raises(InvalidInput, match="old tree size 6"):
        merkle.consistency_proof(LEAF_HASHES, 6, 5)


def test_proof_nodes_of_the_wrong_length_are_refused() -> None:
    proof = merkle.inclusion_proof(LEAF_HASHES, 0)
    with pytest.raises(Refused, match="node 1 is 31 bytes"):
        merkle.verify_inclusion(LEAF_HASHES[0], 0, 8, [proof[0], proof[1][:31], proof[2]], ROOTS[8])


def test_signed_tree_head_verifies_and_detects_any_change() -> None:
    key = SigningKey.generate()
    head = merkle.SignedTreeHead.sign(key, "E09000033", 8, ROOTS[8], 1_700_000_000_000)
    head.verify(key.verify_key_bytes)
    for changed in (
        merkle.SignedTreeHead("E09000034", 8, ROOTS[8], 1_700_000_000_000, head.signature),
        merkle.SignedTreeHead("E09000033", 7, ROOTS[8], 1_700_000_000_000, head.signature),
        merkle.SignedTreeHead("E09000033", 8, ROOTS[7], 1_700_000_000_000, head.signature),
        merkle.SignedTreeHead("E09000033", 8, ROOTS[8], 1_700_000_000_001, head.signature),
    ):
        with pytest.raises(Refused, match="bad signature"):
            changed.verify(key.verify_key_bytes)
    with pytest.raises(Refused, match="bad signature"):
        head.verify(SigningKey.generate().verify_key_bytes)


def test_signed_tree_head_rejects_a_malformed_root() -> None:
    with pytest.raises(InvalidInput, match="32 bytes"):
        merkle.SignedTreeHead.sign(SigningKey.generate(), "directory", 1, b"short", 0)


def test_a_proof_from_the_old_trees_compact_range_and_the_new_leaves_is_the_same_proof() -> None:
    # How a node proves its next head without reading its whole log (federation/transparency_log.py).
    leaves = [merkle.leaf_hash(b"%d" % n) for n in range(70)]
    for new in range(1, len(leaves) + 1):
        compact = CompactRange()
        for old in range(new + 1):
            expected = merkle.consistency_proof(leaves, old, new)
            assert merkle.consistency_proof_extending(compact.roots, old, leaves[old:new]) == expected
            if old < new:
                compact.append(leaves[old])
    with pytest.raises(InvalidInput, match="a tree of size 3 has 2 perfect subtrees"):
        merkle.consistency_proof_extending([leaves[0]], 3, leaves[3:5])
