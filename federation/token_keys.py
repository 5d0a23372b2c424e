"""What a match token unlocks: its lookup tag, and a key that only the holder of the same token can use to
read the searched demographics (or an alert's event) travelling beside that tag (P3 quiet non-holders).

SPEC (docs/architecture.md, "Match tokens"): from a 32-byte OPRF token (federation/oprf.py)
    tag = HKDF-SHA256(ikm=token, salt=none, info="whoelse/v1/lookup-tag",        L=16)
    dk  = HKDF-SHA256(ikm=token, salt=none, info="whoelse/v1/demographics-key",  L=32)
HKDF is RFC 5869 through PyCA `cryptography`. Distinct info labels make the tag and the key independent: a
council that sees a tag on the wire learns nothing about the key behind it.

Sealing for a token holder is ChaCha20-Poly1305 (RFC 8439) under dk:
    sealed = nonce (12 random bytes) || ciphertext || 16-byte tag
with associated data canonical_json({"context", "query_id", "index"}), so a blob cut from one query, one
position or one kind (demographics vs event) cannot be replayed as another. A random nonce is safe here: each
dk seals a handful of messages at most (one per query that carries its tag), far below the 2^32 birthday
bound for 96-bit random nonces.

The plaintext is padded (federation/sealing.py pad) to a size bucket (256, 512, 1024, ... bytes) so that the
councils that cannot open a blob do not learn the length of the child's name from it.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError

from whoelse.federation.canonical import canonical_json
from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.oprf import TOKEN_BYTES
from whoelse.federation.sealing import pad, unpad
from whoelse.v1 import federation_pb2, records_pb2

TAG_BYTES = 16
DEMOGRAPHICS_KEY_BYTES = 32
NONCE_BYTES = 12
AEAD_TAG_BYTES = 16
SEAL_OVERHEAD = NONCE_BYTES + AEAD_TAG_BYTES
"""A sealed blob is exactly this many bytes longer than its padded plaintext."""

LOOKUP_TAG_INFO = b"whoelse/v1/lookup-tag"
DEMOGRAPHICS_KEY_INFO = b"whoelse/v1/demographics-key"

DEMOGRAPHICS_CONTEXT = "whoelse/v1/demographics"
EVENT_CONTEXT = "whoelse/v1/event"

MIN_PADDED_BYTES = 256
"""Smallest padding bucket: a SearchIdentity with ordinary names serialises to well under 200 bytes."""
MAX_PADDED_BYTES = 4096
"""Largest padding bucket: six fields at the import limits (names of 100 characters) fit with room."""
MAX_SEALED_BYTES = MAX_PADDED_BYTES + SEAL_OVERHEAD
"""The longest sealed_demographics or sealed_event entry a recipient accepts."""


def _hkdf(token: bytes, info: bytes, length: int) -> bytes:
    if len(token) != TOKEN_BYTES:
        raise InvalidInput(f"a match token is {TOKEN_BYTES} bytes, got {len(token)}")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(bytes(token))


def lookup_tag(token: bytes) -> bytes:
    """The 16-byte lookup tag a node stores and indexes for a token (and a query carries)."""
    return _hkdf(token, LOOKUP_TAG_INFO, TAG_BYTES)


def demographics_key(token: bytes) -> bytes:
    """The 32-byte key that seals and opens what travels beside the token's tag in a query."""
    return _hkdf(token, DEMOGRAPHICS_KEY_INFO, DEMOGRAPHICS_KEY_BYTES)


def _associated_data(context: str, query_id: str, index: int) -> bytes:
    if index < 0:
        raise InvalidInput(f"index must not be negative, got {index}")
    return canonical_json({"context": context, "query_id": query_id, "index": index})


def _aead(dk: bytes) -> ChaCha20Poly1305:
    if len(dk) != DEMOGRAPHICS_KEY_BYTES:
        raise InvalidInput(f"a demographics key is {DEMOGRAPHICS_KEY_BYTES} bytes, got {len(dk)}")
    return ChaCha20Poly1305(bytes(dk))


def seal_for_token_holder(
    dk: bytes, plaintext: bytes, query_id: str, index: int, *, context: str = DEMOGRAPHICS_CONTEXT
) -> bytes:
    """Encrypt plaintext under dk, bound to (context, query_id, index): nonce || ciphertext || tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _aead(dk).encrypt(nonce, bytes(plaintext), _associated_data(context, query_id, index))


def open_for_token_holder(
    dk: bytes, sealed: bytes, query_id: str, index: int, *, context: str = DEMOGRAPHICS_CONTEXT
) -> bytes:
    """Decrypt a blob from seal_for_token_holder; raises Refused if dk is not the sealing key, the blob was
    altered, or it was sealed for another query, index or context."""
    if len(sealed) < SEAL_OVERHEAD:
        raise Refused(f"sealed entry is {len(sealed)} bytes, shorter than the {SEAL_OVERHEAD}-byte overhead")
    aead = _aead(dk)
    try:
        return aead.decrypt(
            bytes(sealed[:NONCE_BYTES]),
            bytes(sealed[NONCE_BYTES:]),
            _associated_data(context, query_id, index),
        )
    except InvalidTag as exc:
        raise Refused(f"sealed entry {index} cannot be opened with this token's key") from exc


def padded_size(length: int) -> int:
    """The padding bucket for a serialised message of `length` bytes (a power of two from 256 to 4096)."""
    size = MIN_PADDED_BYTES
    while size - 4 < length:  # 4 bytes: pad()'s length prefix
        size *= 2
        if size > MAX_PADDED_BYTES:
            raise InvalidInput(
                f"message of {length} bytes is too large to seal; at most {MAX_PADDED_BYTES - 4}"
            )
    return size


def _seal_message(dk: bytes, payload: bytes, query_id: str, index: int, context: str) -> bytes:
    return seal_for_token_holder(
        dk, pad(payload, padded_size(len(payload))), query_id, index, context=context
    )


def _open_payload(dk: bytes, sealed: bytes, query_id: str, index: int, context: str) -> bytes:
    return unpad(open_for_token_holder(dk, sealed, query_id, index, context=context))


def seal_identity(dk: bytes, identity: records_pb2.SearchIdentity, query_id: str, index: int) -> bytes:
    """Seal the searched demographics for whoever holds the token behind dk."""
    return _seal_message(dk, identity.SerializeToString(), query_id, index, DEMOGRAPHICS_CONTEXT)


def open_identity(dk: bytes, sealed: bytes, query_id: str, index: int) -> records_pb2.SearchIdentity:
    """Open sealed demographics; Refused if dk does not open them, InvalidInput if the content is bad."""
    payload = _open_payload(dk, sealed, query_id, index, DEMOGRAPHICS_CONTEXT)
    identity = records_pb2.SearchIdentity()
    try:
        identity.ParseFromString(payload)
    except DecodeError as exc:
        raise InvalidInput(f"sealed_demographics[{index}]: not a SearchIdentity") from exc
    return identity


def seal_event(dk: bytes, event: federation_pb2.AlertEvent, query_id: str, index: int) -> bytes:
    """Seal a notification's event for whoever holds the token behind dk."""
    return _seal_message(dk, event.SerializeToString(), query_id, index, EVENT_CONTEXT)


def open_event(dk: bytes, sealed: bytes, query_id: str, index: int) -> federation_pb2.AlertEvent:
    """Open a sealed event; Refused if dk does not open it, InvalidInput if what is inside is malformed."""
    payload = _open_payload(dk, sealed, query_id, index, EVENT_CONTEXT)
    event = federation_pb2.AlertEvent()
    try:
        event.ParseFromString(payload)
    except DecodeError as exc:
        raise InvalidInput(f"sealed_event[{index}]: not an AlertEvent") from exc
    return event
