"""Ed25519 signatures over canonical objects with a context string."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.signing import SigningKey, signed_message, verify

VECTOR: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "assets" / "signing_vectors.json").read_text()
)

QUERY: dict[str, Any] = {
    "query_id": "q-0001",
    "origin": "E09000033",
    "purpose": "safeguarding",
    "time_ms": 1_700_000_000_000,
    "nonce": bytes(range(16)),
    "tags": [b"\x01\x02", b"\xff"],
    "note": 'Zoë "x"\n',
    "shielded": False,
    "contact": None,
}
CONTEXT = "whoelse/v1/query"


def test_golden_vector_pins_the_signed_bytes_and_signature() -> None:
    key = SigningKey.from_bytes(bytes.fromhex(VECTOR["seed_hex"]))
    assert key.verify_key_bytes.hex() == VECTOR["verify_key_hex"]
    assert signed_message(QUERY, CONTEXT) == CONTEXT.encode() + b"\x00" + VECTOR["canonical_json"].encode(
        "utf-8"
    )
    assert key.sign(QUERY, CONTEXT).hex() == VECTOR["signature_hex"]
    verify(key.verify_key_bytes, QUERY, CONTEXT, bytes.fromhex(VECTOR["signature_hex"]))


def test_a_signature_survives_a_key_round_trip_and_reordered_fields() -> None:
    key = SigningKey.generate()
    signature = key.sign(QUERY, CONTEXT)
    reloaded = SigningKey.from_bytes(key.to_bytes())
    assert reloaded.verify_key_bytes == key.verify_key_bytes
    verify(reloaded.verify_key_bytes, dict(reversed(list(QUERY.items()))), CONTEXT, signature)


@pytest.mark.parametrize(
    "change",
    [
        {"purpose": "curiosity"},
        {"time_ms": 1_700_000_000_001},
        {"nonce": bytes(16)},
        {"tags": [b"\x01\x02"]},
        {"extra": "field"},
    ],
)
def test_any_change_to_the_object_is_a_bad_signature(change: dict[str, Any]) -> None:
    key = SigningKey.generate()
    signature = key.sign(QUERY, CONTEXT)
    with pytest.raises(Refused, match="bad signature"):
        verify(key.verify_key_bytes, {**QUERY, **change}, CONTEXT, signature)


def test_a_signature_for_one_context_does_not_verify_in_another() -> None:
    key = SigningKey.generate()
    signature = key.sign(QUERY, CONTEXT)
    with pytest.raises(Refused, match="bad signature on whoelse/v1/alert"):
        verify(key.verify_key_bytes, QUERY, "whoelse/v1/alert", signature)


def test_another_councils_key_or_a_damaged_signature_is_refused() -> None:
    key = SigningKey.generate()
    signature = key.sign(QUERY, CONTEXT)
    with pytest.raises(Refused, match="bad signature"):
        verify(SigningKey.generate().verify_key_bytes, QUERY, CONTEXT, signature)
    damaged = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(Refused, match="bad signature"):
        verify(key.verify_key_bytes, QUERY, CONTEXT, damaged)
    with pytest.raises(Refused, match="bad signature: 63 bytes"):
        verify(key.verify_key_bytes, QUERY, CONTEXT, signature[:63])
    with pytest.raises(Refused, match="bad signature: verify key"):
        verify(key.verify_key_bytes[:31], QUERY, CONTEXT, signature)


def test_a_small_order_verify_key_is_refused() -> None:
    # With the identity as public key, R = identity and S = 0 satisfy the verification equation for ANY
    # message; libsodium refuses small-order keys, so this universal forgery is a bad signature.
    identity = (1).to_bytes(32, "little")
    with pytest.raises(Refused, match="bad signature"):
        verify(identity, QUERY, CONTEXT, identity + bytes(32))


@pytest.mark.parametrize("context", ["", "Whoelse/v1/query", "whoelse/v1/query\x00", "whoelse v1"])
def test_malformed_contexts_are_rejected(context: str) -> None:
    with pytest.raises(InvalidInput, match="signing context"):
        SigningKey.generate().sign(QUERY, context)


def test_key_loading_checks_length_and_repr_hides_the_secret() -> None:
    with pytest.raises(InvalidInput, match="32 bytes, got 31"):
        SigningKey.from_bytes(bytes(31))
    key = SigningKey.from_bytes(bytes(range(32)))
    assert bytes(range(32)).hex()[:8] not in repr(key)
    assert key.verify_key_bytes.hex()[:16] in repr(key)
