"""Token keys: a token gives a stable tag and key; only that token opens what was sealed beside its tag."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.sealing import pad
from whoelse.federation.token_keys import (
    MAX_PADDED_BYTES,
    MIN_PADDED_BYTES,
    SEAL_OVERHEAD,
    demographics_key,
    lookup_tag,
    open_event,
    open_for_token_holder,
    open_identity,
    padded_size,
    seal_event,
    seal_for_token_holder,
    seal_identity,
)
from whoelse.v1 import federation_pb2, records_pb2

# Named vector: token = bytes 0..31. Pinned so a change to the labels or lengths (which would silently stop
# every stored tag from matching) fails here; cross-checked below against a from-scratch RFC 5869 HKDF.
VECTOR_TOKEN = bytes(range(32))
VECTOR_TAG = "0cebbb5686abeaeb42a0d2bdf705a10f"
VECTOR_DK = "e3cb6b82345c73075082934e6a136e1cd226bf2936e37e964cf15b1f95dc5b47"

QUERY_ID = "0123456789abcdef0123456789abcdef"
IDENTITY = records_pb2.SearchIdentity(
    forename="Zoë",
    surname="O'Neill",
    date_of_birth="2015-03-07",
    **closed_sets.SEX.fields("F"),
    postcode="LS6 2AB",
)


def _rfc5869(ikm: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()  # salt absent = HashLen zero bytes
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def test_tag_and_key_match_the_pinned_vector_and_rfc5869() -> None:
    assert lookup_tag(VECTOR_TOKEN).hex() == VECTOR_TAG
    assert demographics_key(VECTOR_TOKEN).hex() == VECTOR_DK
    assert lookup_tag(VECTOR_TOKEN) == _rfc5869(VECTOR_TOKEN, b"whoelse/v1/lookup-tag", 16)
    assert demographics_key(VECTOR_TOKEN) == _rfc5869(VECTOR_TOKEN, b"whoelse/v1/demographics-key", 32)


def test_the_tag_is_not_a_prefix_of_the_key() -> None:
    assert not demographics_key(VECTOR_TOKEN).startswith(lookup_tag(VECTOR_TOKEN))


def test_a_token_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidInput, match="32 bytes"):
        lookup_tag(bytes(31))


def test_the_token_holder_opens_what_was_sealed_for_it() -> None:
    dk = demographics_key(VECTOR_TOKEN)
    sealed = seal_identity(dk, IDENTITY, QUERY_ID, 3)
    assert b"Neill" not in sealed
    assert open_identity(dk, sealed, QUERY_ID, 3) == IDENTITY


def test_another_token_cannot_open_it() -> None:
    sealed = seal_identity(demographics_key(VECTOR_TOKEN), IDENTITY, QUERY_ID, 0)
    with pytest.raises(Refused, match="cannot be opened with this token's key"):
        open_identity(demographics_key(bytes(32)), sealed, QUERY_ID, 0)


@pytest.mark.parametrize(
    ("query_id", "index"), [("f" * 32, 0), (QUERY_ID, 1)], ids=["other-query", "other-index"]
)
def test_a_blob_moved_to_another_query_or_position_is_refused(query_id: str, index: int) -> None:
    dk = demographics_key(VECTOR_TOKEN)
    sealed = seal_identity(dk, IDENTITY, QUERY_ID, 0)
    with pytest.raises(Refused):
        open_identity(dk, sealed, query_id, index)


def test_an_event_cannot_be_read_as_demographics_or_the_reverse() -> None:
    dk = demographics_key(VECTOR_TOKEN)
    event = federation_pb2.AlertEvent(event_type="change_of_address", occurred_on="2025-01-02")
    sealed_event = seal_event(dk, event, QUERY_ID, 0)
    assert open_event(dk, sealed_event, QUERY_ID, 0) == event
    with pytest.raises(Refused):
        open_identity(dk, sealed_event, QUERY_ID, 0)
    with pytest.raises(Refused):
        open_event(dk, seal_identity(dk, IDENTITY, QUERY_ID, 0), QUERY_ID, 0)


def test_a_tampered_or_truncated_blob_is_refused() -> None:
    dk = demographics_key(VECTOR_TOKEN)
    sealed = bytearray(seal_for_token_holder(dk, b"payload", QUERY_ID, 0))
    sealed[-1] ^= 1
    with pytest.raises(Refused):
        open_for_token_holder(dk, bytes(sealed), QUERY_ID, 0)
    with pytest.raises(Refused, match="shorter than"):
        open_for_token_holder(dk, bytes(SEAL_OVERHEAD - 1), QUERY_ID, 0)


def test_sealed_identities_of_different_name_lengths_look_the_same_size() -> None:
    dk = demographics_key(VECTOR_TOKEN)
    short = records_pb2.SearchIdentity(
        forename="Al", surname="Wu", date_of_birth="2015-03-07", **closed_sets.SEX.fields("M")
    )
    long = records_pb2.SearchIdentity(
        forename="Maximilian-Alexander", surname="Featherstonehaugh-Cholmondeley", date_of_birth="2015-03-07"
    )
    sizes = {len(seal_identity(dk, identity, QUERY_ID, 0)) for identity in (short, long, IDENTITY)}
    assert sizes == {MIN_PADDED_BYTES + SEAL_OVERHEAD}


def test_padding_buckets_grow_in_powers_of_two_and_refuse_beyond_the_largest() -> None:
    assert padded_size(0) == MIN_PADDED_BYTES
    assert padded_size(MIN_PADDED_BYTES - 4) == MIN_PADDED_BYTES
    assert padded_size(MIN_PADDED_BYTES - 3) == 2 * MIN_PADDED_BYTES
    assert padded_size(MAX_PADDED_BYTES - 4) == MAX_PADDED_BYTES
    with pytest.raises(InvalidInput, match="too large"):
        padded_size(MAX_PADDED_BYTES)


def test_garbage_inside_a_valid_seal_is_invalid_input() -> None:
    dk = demographics_key(VECTOR_TOKEN)
    sealed = seal_for_token_holder(dk, pad(b"\xff\xff\xff", 256), QUERY_ID, 0)
    with pytest.raises(InvalidInput, match="not a SearchIdentity"):
        open_identity(dk, sealed, QUERY_ID, 0)
