"""Sealed payloads: only the recipient opens them, bound to their context, padded so sizes say nothing."""

from __future__ import annotations

import pytest

from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.sealing import (
    FORWARD_OVERHEAD,
    OVERHEAD,
    RESPONDER_KEY_LIFETIME_S,
    SealingKey,
    open_forward,
    pad,
    seal,
    seal_forward,
    unpad,
)

ANSWER = b'{"council":"E09000033","matches":[{"name":"Zo\xc3\xab O\'Neill"}]}'
AD = b"query:q-0001|to:E08000035"


def test_the_recipient_opens_what_was_sealed_to_it() -> None:
    recipient = SealingKey.generate()
    sealed = seal(recipient.public_key_bytes, ANSWER, AD)
    assert len(sealed) == len(ANSWER) + OVERHEAD
    assert ANSWER not in sealed and b"E09000033" not in sealed  # the directory sees only ciphertext
    assert recipient.open(sealed, AD) == ANSWER
    assert SealingKey.generate().public_key_bytes != recipient.public_key_bytes


def test_sealing_twice_gives_different_blobs() -> None:
    recipient = SealingKey.generate()
    assert seal(recipient.public_key_bytes, ANSWER) != seal(recipient.public_key_bytes, ANSWER)


def test_empty_associated_data_and_empty_payload_work() -> None:
    recipient = SealingKey.generate()
    assert recipient.open(seal(recipient.public_key_bytes, b"")) == b""


def test_another_council_cannot_open_it() -> None:
    sealed = seal(SealingKey.generate().public_key_bytes, ANSWER, AD)
    with pytest.raises(Refused, match="could not be opened"):
        SealingKey.generate().open(sealed, AD)


@pytest.mark.parametrize("position", [0, 31, 32, 40, -17, -1], ids=lambda p: f"byte{p}")
def test_a_tampered_blob_is_refused(position: int) -> None:
    recipient = SealingKey.generate()
    sealed = bytearray(seal(recipient.public_key_bytes, ANSWER, AD))
    sealed[position] ^= 0x01
    with pytest.raises(Refused, match="could not be opened"):
        recipient.open(bytes(sealed), AD)


def test_a_blob_sealed_for_one_query_or_recipient_cannot_be_used_for_another() -> None:
    recipient = SealingKey.generate()
    sealed = seal(recipient.public_key_bytes, ANSWER, AD)
    for other in (b"query:q-0002|to:E08000035", b"query:q-0001|to:E08000036", b""):
        with pytest.raises(Refused, match="wrong context"):
            recipient.open(sealed, other)


def test_a_truncated_blob_is_refused() -> None:
    recipient = SealingKey.generate()
    sealed = seal(recipient.public_key_bytes, ANSWER, AD)
    with pytest.raises(Refused, match="shorter than"):
        recipient.open(sealed[: OVERHEAD - 1], AD)
    with pytest.raises(Refused, match="could not be opened"):
        recipient.open(sealed[:-1], AD)


@pytest.mark.parametrize("public_key", [bytes(32), (1).to_bytes(32, "little")], ids=["zero", "order-1"])
def test_sealing_to_a_small_order_key_is_refused(public_key: bytes) -> None:
    with pytest.raises(InvalidInput, match="small order"):
        seal(public_key, ANSWER)


def test_sealing_to_a_malformed_key_is_refused() -> None:
    with pytest.raises(InvalidInput, match="32 bytes, got 31"):
        seal(bytes(31), ANSWER)


def test_key_round_trip_and_repr_hides_the_secret() -> None:
    key = SealingKey.generate()
    again = SealingKey.from_bytes(key.to_bytes())
    assert again.public_key_bytes == key.public_key_bytes
    assert again.open(seal(key.public_key_bytes, ANSWER)) == ANSWER
    assert key.to_bytes().hex()[:8] not in repr(key)
    with pytest.raises(InvalidInput, match="32 bytes"):
        SealingKey.from_bytes(b"short")


def test_padded_answers_all_have_the_same_sealed_size() -> None:
    recipient = SealingKey.generate()
    no_match, one_match, many = b'{"matches":[]}', ANSWER, ANSWER * 20
    sealed = [
        seal(recipient.public_key_bytes, pad(answer, 4096), AD) for answer in (no_match, one_match, many)
    ]
    assert {len(blob) for blob in sealed} == {4096 + OVERHEAD}
    assert [unpad(recipient.open(blob, AD)) for blob in sealed] == [no_match, one_match, many]


def test_pad_fills_exactly_and_refuses_oversize() -> None:
    assert pad(b"abc", 8) == b"\x00\x00\x00\x03abc\x00"
    assert pad(b"abcd", 8) == b"\x00\x00\x00\x04abcd"
    with pytest.raises(InvalidInput, match="5 bytes does not fit a padded size of 8"):
        pad(b"abcde", 8)


@pytest.mark.parametrize(
    ("padded", "message"),
    [
        (b"\x00\x00", "shorter than its length prefix"),
        (b"\x00\x00\x00\x09abcd", "claims 9 bytes but holds 4"),
        (b"\x00\x00\x00\x02abcd", "non-zero bytes after"),
    ],
)
def test_unpad_refuses_malformed_padding(padded: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        unpad(padded)


# ---- forward sealing: an answer to the origin's key for one query ---------------------------------------


def _pair() -> tuple[SealingKey, SealingKey, SealingKey]:
    """Leeds (origin), Westminster (responder) and Leeds's answer key for one query."""
    return SealingKey.generate(), SealingKey.generate(), SealingKey.generate()


def test_the_origin_opens_with_the_querys_answer_key_what_the_responder_sealed() -> None:
    leeds, westminster, answer_key = _pair()
    sealed = seal_forward(westminster, leeds.public_key_bytes, answer_key.public_key_bytes, ANSWER, AD)
    assert len(sealed) == len(ANSWER) + FORWARD_OVERHEAD
    assert ANSWER not in sealed and b"E09000033" not in sealed
    assert open_forward(leeds, answer_key, westminster.public_key_bytes, sealed, AD) == ANSWER
    again = seal_forward(westminster, leeds.public_key_bytes, answer_key.public_key_bytes, ANSWER, AD)
    assert again != sealed  # the same answer sealed twice within the minute: a fresh nonce, a new blob
    assert open_forward(leeds, answer_key, westminster.public_key_bytes, again, AD) == ANSWER


def test_the_responders_key_lives_a_minute_in_memory_then_is_replaced() -> None:
    westminster = SealingKey.generate()
    first, first_public = westminster.responder_key(now=1_000.0)
    assert westminster.responder_key(now=1_000.0 + RESPONDER_KEY_LIFETIME_S - 1)[1] == first_public
    later, later_public = westminster.responder_key(now=1_000.0 + RESPONDER_KEY_LIFETIME_S)
    assert later_public != first_public and later is not first
    assert first_public != westminster.public_key_bytes  # never the static key


def test_neither_councils_static_key_opens_a_forward_sealed_blob() -> None:
    leeds, westminster, answer_key = _pair()
    sealed = seal_forward(westminster, leeds.public_key_bytes, answer_key.public_key_bytes, ANSWER, AD)
    for stolen in (leeds, westminster):
        with pytest.raises(Refused, match="could not be opened"):
            open_forward(leeds, stolen, westminster.public_key_bytes, sealed, AD)
        with pytest.raises(Refused, match="could not be opened"):
            open_forward(westminster, stolen, leeds.public_key_bytes, sealed, AD)


def test_a_third_council_or_the_directory_can_neither_open_nor_forge_a_forward_sealed_blob() -> None:
    leeds, westminster, answer_key = _pair()
    directory = SealingKey.generate()
    sealed = seal_forward(westminster, leeds.public_key_bytes, answer_key.public_key_bytes, ANSWER, AD)
    with pytest.raises(Refused, match="could not be opened"):
        open_forward(directory, answer_key, westminster.public_key_bytes, sealed, AD)
    # The directory knows the answer key's public half only if it could open the query; even so, without
    # Westminster's static key it cannot pass its blob off as Westminster's.
    forged = seal_forward(directory, leeds.public_key_bytes, answer_key.public_key_bytes, ANSWER, AD)
    with pytest.raises(Refused, match="could not be opened"):
        open_forward(leeds, answer_key, westminster.public_key_bytes, forged, AD)


def test_a_forward_sealed_blob_is_bound_to_its_context_and_refuses_tampering() -> None:
    leeds, westminster, answer_key = _pair()
    sealed = seal_forward(westminster, leeds.public_key_bytes, answer_key.public_key_bytes, ANSWER, AD)
    with pytest.raises(Refused, match="wrong context"):
        open_forward(leeds, answer_key, westminster.public_key_bytes, sealed, AD + b"x")
    for position in (0, 31, 32, 43, 44, -1):  # the responder key, the nonce, the ciphertext
        tampered = bytearray(sealed)
        tampered[position] ^= 1
        with pytest.raises(Refused):
            open_forward(leeds, answer_key, westminster.public_key_bytes, bytes(tampered), AD)
    with pytest.raises(Refused, match="shorter than"):
        open_forward(leeds, answer_key, westminster.public_key_bytes, sealed[: FORWARD_OVERHEAD - 1], AD)


def test_a_small_order_or_malformed_key_is_refused_for_forward_sealing() -> None:
    me, peer, answer_key = _pair()
    with pytest.raises(InvalidInput, match="small order"):
        seal_forward(me, bytes(32), answer_key.public_key_bytes, ANSWER)
    with pytest.raises(InvalidInput, match="small order"):
        seal_forward(me, peer.public_key_bytes, bytes(32), ANSWER)
    with pytest.raises(InvalidInput, match="32 bytes, got 31"):
        seal_forward(me, peer.public_key_bytes, bytes(31), ANSWER)
    small = bytes(32) + bytes(12 + len(ANSWER) + 16)  # a blob whose responder key is of small order
    with pytest.raises(Refused, match="its key is invalid"):
        open_forward(me, answer_key, peer.public_key_bytes, small)
