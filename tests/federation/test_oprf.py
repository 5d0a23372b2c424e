"""The match-token OPRF: blinded tokens equal direct ones, the directory sees nothing, bad points refused."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
import pytest

from whoelse.federation import oprf
from whoelse.federation.errors import InvalidInput, Refused

VECTORS: dict[str, Any] = json.loads((Path(__file__).parents[1] / "assets" / "oprf_vectors.json").read_text())

L = oprf.GROUP_ORDER
P = 2**255 - 19
IDENTITY = (1).to_bytes(32, "little")
ORDER_2 = (P - 1).to_bytes(32, "little")  # (0, -1)
# The small-order points of edwards25519 that libsodium lists (identity, order 2, 4 and 8), canonical forms.
SMALL_ORDER = [
    IDENTITY,
    ORDER_2,
    bytes(32),
    bytes(31) + b"\x80",
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
]


def _run_protocol(key: oprf.OprfServerKey, match_key: bytes) -> bytes:
    blind, blinded = oprf.blind(match_key)
    return oprf.finalize(match_key, blind, key.evaluate(blinded))


def _in_prime_order_subgroup(point: bytes) -> bool:
    """(L + 1) * P == P exactly when L * P is the identity, i.e. P has order L (or 1)."""
    return bytes(sodium.crypto_scalarmult_ed25519_noclamp((L + 1).to_bytes(32, "little"), point)) == point


def _mixed_point() -> bytes:
    """A point on the curve but outside the prime-order subgroup: a valid point plus one of order 2."""
    return bytes(sodium.crypto_core_ed25519_add(oprf.hash_to_group(b"x"), ORDER_2))


def test_blinded_protocol_gives_the_same_token_as_direct_evaluation() -> None:
    key = oprf.OprfServerKey.generate()
    for match_key in (b"", b"nhs:9434765919", "dob-name:2015-03-07|ZOË".encode(), os.urandom(300)):
        token = _run_protocol(key, match_key)
        assert len(token) == oprf.TOKEN_BYTES
        assert token == oprf.evaluate_direct(key, match_key)


def test_golden_vectors_pin_hash_to_group_and_tokens() -> None:
    key = oprf.OprfServerKey.from_bytes(bytes.fromhex(VECTORS["key_hex"]))
    assert key.public_key.hex() == VECTORS["public_key_hex"]
    assert key.key_id == VECTORS["key_id"]
    for vector in VECTORS["vectors"]:
        match_key = bytes.fromhex(vector["input_hex"])
        assert oprf.hash_to_group(match_key).hex() == vector["hash_to_group_hex"]
        assert oprf.evaluate_direct(key, match_key).hex() == vector["token_hex"]
        assert _run_protocol(key, match_key).hex() == vector["token_hex"]


def test_batch_helpers_match_single_evaluations_in_order() -> None:
    key = oprf.OprfServerKey.generate()
    match_keys = [b"nhs:%d" % i for i in range(20)]
    blinds, blinded = oprf.blind_batch(match_keys)
    tokens = oprf.finalize_batch(match_keys, blinds, key.evaluate_batch(blinded))
    assert tokens == [oprf.evaluate_direct(key, m) for m in match_keys]
    assert len(set(tokens)) == 20


def test_the_directory_never_sees_the_same_element_twice_for_one_input() -> None:
    key = oprf.OprfServerKey.generate()
    seen = {oprf.blind(b"nhs:9434765919")[1] for _ in range(50)}
    assert len(seen) == 50
    assert oprf.hash_to_group(b"nhs:9434765919") not in seen
    assert oprf.evaluate_direct(key, b"nhs:9434765919") not in seen


def test_different_or_rotated_keys_give_unrelated_tokens() -> None:
    old, new = oprf.OprfServerKey.generate(), oprf.OprfServerKey.generate()
    assert old.key_id != new.key_id
    old_tokens = {oprf.evaluate_direct(old, b"key %d" % i) for i in range(30)}
    new_tokens = {oprf.evaluate_direct(new, b"key %d" % i) for i in range(30)}
    assert old_tokens.isdisjoint(new_tokens)
    # A token made with one key and finalized against another key's answer is not the other key's token.
    blind, blinded = oprf.blind(b"key 1")
    assert oprf.finalize(b"key 1", blind, new.evaluate(blinded)) != oprf.evaluate_direct(old, b"key 1")


def test_hash_to_group_and_from_uniform_land_in_the_prime_order_subgroup() -> None:
    # libsodium's from_uniform multiplies the Elligator 2 output by the cofactor 8; this checks it, so the
    # H1 outputs never carry a small-order component.
    for _ in range(32):
        assert _in_prime_order_subgroup(bytes(sodium.crypto_core_ed25519_from_uniform(os.urandom(32))))
        point = oprf.hash_to_group(os.urandom(16))
        assert _in_prime_order_subgroup(point)
        assert oprf.is_valid_element(point)


def test_is_valid_point_rejects_curve_points_outside_the_subgroup() -> None:
    mixed = _mixed_point()
    # It really is a curve point: subtracting the order-2 point gives back the subgroup point.
    assert bytes(sodium.crypto_core_ed25519_sub(mixed, ORDER_2)) == oprf.hash_to_group(b"x")
    assert not oprf.is_valid_element(mixed)


NON_CANONICAL = (P + 1).to_bytes(32, "little")  # y = p + 1, an alias of y = 1
BAD_ELEMENTS = [*SMALL_ORDER, NON_CANONICAL, b"\xff" * 32, b"\x01" * 31]


@pytest.mark.parametrize(
    "element", [*BAD_ELEMENTS, "mixed"], ids=lambda e: e if isinstance(e, str) else e.hex()
)
def test_the_server_refuses_invalid_blinded_elements(element: bytes | str) -> None:
    blinded = _mixed_point() if element == "mixed" else element
    assert isinstance(blinded, bytes)
    key = oprf.OprfServerKey.generate()
    with pytest.raises(InvalidInput, match="not a valid point"):
        key.evaluate(blinded)


def test_a_batch_with_one_invalid_element_is_refused_whole_naming_it() -> None:
    key = oprf.OprfServerKey.generate()
    _, blinded = oprf.blind_batch([b"a", b"b", b"c"])
    with pytest.raises(InvalidInput, match="blinded element 1 "):
        key.evaluate_batch([blinded[0], _mixed_point(), blinded[2]])


@pytest.mark.parametrize(
    "element", [*BAD_ELEMENTS, "mixed"], ids=lambda e: e if isinstance(e, str) else e.hex()
)
def test_the_client_refuses_invalid_evaluations(element: bytes | str) -> None:
    evaluated = _mixed_point() if element == "mixed" else element
    assert isinstance(evaluated, bytes)
    blind, _ = oprf.blind(b"nhs:9434765919")
    with pytest.raises(Refused, match="not a valid point"):
        oprf.finalize(b"nhs:9434765919", blind, evaluated)


def test_finalize_batch_refuses_mismatched_lengths() -> None:
    key = oprf.OprfServerKey.generate()
    blinds, blinded = oprf.blind_batch([b"a", b"b"])
    with pytest.raises(Refused, match="2 inputs, 2 blinds, 1 evaluations"):
        oprf.finalize_batch([b"a", b"b"], blinds, key.evaluate_batch(blinded[:1]))


def test_key_round_trip_and_malformed_keys() -> None:
    key = oprf.OprfServerKey.generate()
    again = oprf.OprfServerKey.from_bytes(key.to_bytes())
    assert again.key_id == key.key_id
    assert oprf.evaluate_direct(again, b"m") == oprf.evaluate_direct(key, b"m")
    for bad in (bytes(32), L.to_bytes(32, "little"), b"\x01" * 31, b"\xff" * 32):
        with pytest.raises(InvalidInput, match="canonical non-zero scalar"):
            oprf.OprfServerKey.from_bytes(bad)
    assert key.to_bytes().hex()[:8] not in repr(key)
    assert "secret" in repr(oprf.blind(b"m")[0])


def test_oversized_inputs_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="at most 65535"):
        oprf.blind(bytes(oprf.MAX_INPUT_BYTES + 1))


def test_a_proof_shows_the_directory_used_its_published_key() -> None:
    key = oprf.OprfServerKey.generate()
    match_keys = [b"nhs:%d" % i for i in range(10)]
    blinds, blinded = oprf.blind_batch(match_keys)
    evaluated, proof = key.evaluate_batch_with_proof(blinded)
    assert len(proof) == oprf.PROOF_BYTES
    oprf.verify_evaluations(key.public_key, blinded, evaluated, proof)
    assert oprf.finalize_batch(match_keys, blinds, evaluated) == [
        oprf.evaluate_direct(key, m) for m in match_keys
    ]


def test_a_proof_against_another_public_key_is_refused() -> None:
    key, rotated = oprf.OprfServerKey.generate(), oprf.OprfServerKey.generate()
    _, blinded = oprf.blind_batch([b"a", b"b"])
    evaluated, proof = key.evaluate_batch_with_proof(blinded)
    with pytest.raises(Refused, match="did not use its published key"):
        oprf.verify_evaluations(rotated.public_key, blinded, evaluated, proof)


def test_a_directory_that_uses_another_key_for_one_element_is_caught() -> None:
    key, tagging_key = oprf.OprfServerKey.generate(), oprf.OprfServerKey.generate()
    _, blinded = oprf.blind_batch([b"a", b"b", b"c"])
    evaluated, proof = key.evaluate_batch_with_proof(blinded)
    tampered = [evaluated[0], tagging_key.evaluate(blinded[1]), evaluated[2]]
    with pytest.raises(Refused, match="did not use its published key"):
        oprf.verify_evaluations(key.public_key, blinded, tampered, proof)
    with pytest.raises(Refused, match="did not use its published key"):
        oprf.verify_evaluations(key.public_key, blinded, [evaluated[1], evaluated[0], evaluated[2]], proof)


@pytest.mark.parametrize("byte", [0, 31, 32, 63])
def test_a_tampered_proof_is_refused(byte: int) -> None:
    key = oprf.OprfServerKey.generate()
    _, blinded = oprf.blind_batch([b"a"])
    evaluated, proof = key.evaluate_batch_with_proof(blinded)
    damaged = bytearray(proof)
    damaged[byte] ^= 0x04
    with pytest.raises(Refused, match="OPRF proof"):
        oprf.verify_evaluations(key.public_key, blinded, evaluated, bytes(damaged))


def test_malformed_proofs_and_elements_are_refused() -> None:
    key = oprf.OprfServerKey.generate()
    _, blinded = oprf.blind_batch([b"a", b"b"])
    evaluated, proof = key.evaluate_batch_with_proof(blinded)
    with pytest.raises(Refused, match="63 bytes"):
        oprf.verify_evaluations(key.public_key, blinded, evaluated, proof[:63])
    with pytest.raises(Refused, match="malformed scalar"):
        oprf.verify_evaluations(key.public_key, blinded, evaluated, proof[:32] + L.to_bytes(32, "little"))
    with pytest.raises(Refused, match="public key is not a valid point"):
        oprf.verify_evaluations(_mixed_point(), blinded, evaluated, proof)
    with pytest.raises(Refused, match=r"invalid group element \(3\)"):
        oprf.verify_evaluations(key.public_key, blinded, [evaluated[0], ORDER_2], proof)
    with pytest.raises(Refused, match="one per blinded element"):
        oprf.verify_evaluations(key.public_key, blinded, evaluated[:1], proof)


def test_verify_and_finalize_gives_the_direct_tokens_and_the_same_refusals() -> None:
    # The client's one pass over its own batch: every element the directory sent is still checked.
    key, other = oprf.OprfServerKey.generate(), oprf.OprfServerKey.generate()
    match_keys = [b"nhs:%d" % i for i in range(5)]
    blinds, blinded = oprf.blind_batch(match_keys)
    evaluated, proof = key.evaluate_batch_with_proof(blinded)
    tokens = oprf.verify_and_finalize(key.public_key, match_keys, blinds, blinded, evaluated, proof)
    assert tokens == [oprf.evaluate_direct(key, m) for m in match_keys]
    with pytest.raises(Refused, match="did not use its published key"):
        oprf.verify_and_finalize(other.public_key, match_keys, blinds, blinded, evaluated, proof)
    for bad in [*SMALL_ORDER, _mixed_point()]:
        forged = [*evaluated[:2], bad, *evaluated[3:]]
        with pytest.raises(Refused, match=r"invalid group element \(7\)"):
            oprf.verify_and_finalize(key.public_key, match_keys, blinds, blinded, forged, proof)
    with pytest.raises(Refused, match="5 blinded, 4 evaluations"):
        oprf.verify_and_finalize(key.public_key, match_keys, blinds, blinded, evaluated[:4], proof)
    with pytest.raises(Refused, match="5 inputs, 4 blinds, 5 evaluations"):
        oprf.verify_and_finalize(key.public_key, match_keys, blinds[:4], blinded, evaluated, proof)
    with pytest.raises(Refused, match="4 blinded, 5 evaluations"):
        oprf.verify_and_finalize(key.public_key, match_keys, blinds, blinded[:4], evaluated, proof)


def test_a_batch_padded_with_random_points_is_proved_whole_and_gives_the_inputs_tokens() -> None:
    key = oprf.OprfServerKey.generate()
    match_keys = [b"nhs:%d" % i for i in range(5)]
    blinds, blinded = oprf.blind_batch(match_keys)
    padding = oprf.padding_elements(27)
    assert all(oprf.is_valid_element(p) for p in padding) and len(set(padding)) == 27
    evaluated, proof = key.evaluate_batch_with_proof([*blinded, *padding])  # the directory accepts them
    tokens = oprf.verify_and_finalize(
        key.public_key, match_keys, blinds, [*blinded, *padding], evaluated, proof
    )
    assert tokens == [oprf.evaluate_direct(key, m) for m in match_keys]
    with pytest.raises(Refused, match="did not use its published key"):  # the padding is proved too
        forged = [*evaluated[:-1], oprf.padding_elements(1)[0]]
        oprf.verify_and_finalize(key.public_key, match_keys, blinds, [*blinded, *padding], forged, proof)
