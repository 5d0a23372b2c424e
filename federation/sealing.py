"""Seal a payload to one recipient's X25519 key (a query) or between two councils' keys (an answer) so
intermediaries (the directory) see only ciphertext, and pad payloads to a fixed size so an answer's length
does not show whether the council matched (P2, P3).

SPEC: HPKE, RFC 9180 (https://www.rfc-editor.org/rfc/rfc9180), base mode, single-shot (§6.1), ciphersuite
DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305, as implemented by PyCA `cryptography`.
A sealed blob is enc (32 bytes) || AEAD ciphertext (payload + 16-byte tag).

Associated data (e.g. query id + recipient council code) goes into HPKE's `info`, which RFC 9180 §5.1 binds
into the key schedule: opening with different associated data fails exactly like a forged ciphertext, so a
blob sealed for one query or recipient cannot be replayed as another. The associated data itself is not
encrypted; both sides must already know it.

Padding: 4-byte big-endian payload length || payload || zero bytes, to exactly `size` bytes. unpad() checks
the zeros too, so each payload has exactly one padded form.

SPEC — pairwise sealing (`seal_pairwise` / `open_pairwise`), for a payload between two councils that both
know each other's X25519 key from the directory-signed council list (an answer going home to its origin):
- secret: X25519(my private key, peer public key), the same at both ends; each key caches it per peer
  (RFC 7748 §6.1; an all-zero result — a small-order peer key — is refused);
- key: HKDF-SHA256 (RFC 5869), no salt, 32 bytes, info = "whoelse/v1/pairwise" || 0x00 || the two public
  keys in byte order || associated data, so each message's key is bound to both councils and its context;
- seal: ChaCha20-Poly1305 (RFC 8439) under that key with a random 12-byte nonce and the associated data;
  the blob is nonce || ciphertext (payload + 16-byte tag).
Only the two councils can open or forge such a blob (the directory cannot: it holds neither private key),
so it authenticates the peer as well as hiding the payload, at no public-key operation per message once the
pair's secret is cached. Unlike HPKE there is no per-message ephemeral key: whoever later steals either
council's private key can open what the pair sealed this way (docs/threat-model.md).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from federation.errors import InvalidInput, Refused

KEY_BYTES = 32
ENC_BYTES = 32
TAG_BYTES = 16
OVERHEAD = ENC_BYTES + TAG_BYTES
"""A sealed blob is exactly this many bytes longer than its payload."""

LENGTH_PREFIX_BYTES = 4

PAIRWISE_NONCE_BYTES = 12
PAIRWISE_OVERHEAD = PAIRWISE_NONCE_BYTES + TAG_BYTES
"""A pairwise-sealed blob is exactly this many bytes longer than its payload."""
_PAIRWISE_INFO = b"whoelse/v1/pairwise\x00"
_ZEROS = bytes(64 * 1024)  # compared against padding (a memcmp, not a count of 32 KiB byte by byte)
_MAX_PEERS = 4096  # cached pair secrets: every council and a few rotations of each

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_INFO_PREFIX = b"whoelse/v1/seal\x00"


def _info(associated_data: bytes) -> bytes:
    return _INFO_PREFIX + associated_data


class SealingKey:
    """A council's X25519 private key for opening blobs sealed to it. The repr never shows the secret."""

    __slots__ = ("_key", "_pairs", "_public")

    def __init__(self, key: x25519.X25519PrivateKey) -> None:
        self._key = key
        self._public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._pairs: dict[bytes, bytes] = {}

    @classmethod
    def generate(cls) -> SealingKey:
        return cls(x25519.X25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, data: bytes) -> SealingKey:
        if len(data) != KEY_BYTES:
            raise InvalidInput(f"an X25519 private key is {KEY_BYTES} bytes, got {len(data)}")
        return cls(x25519.X25519PrivateKey.from_private_bytes(bytes(data)))

    def to_bytes(self) -> bytes:
        """The 32 raw private bytes; store them as a secret (file mode 0600)."""
        return self._key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    @property
    def public_key_bytes(self) -> bytes:
        """The 32-byte public key others seal to (published in the directory's registry)."""
        return self._public

    def pair_secret(self, peer_public_key: bytes) -> bytes:
        """X25519(this key, peer): the static secret shared with one peer council, cached per peer key.
        Raises InvalidInput if the peer key is malformed or of small order."""
        peer = bytes(peer_public_key)
        secret = self._pairs.get(peer)
        if secret is None:
            if len(peer) != KEY_BYTES:
                raise InvalidInput(f"an X25519 public key is {KEY_BYTES} bytes, got {len(peer)}")
            try:
                secret = self._key.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
            except ValueError as exc:  # RFC 7748 §6.1: an all-zero shared secret
                raise InvalidInput("peer X25519 public key is invalid (small order)") from exc
            if len(self._pairs) >= _MAX_PEERS:
                self._pairs.clear()
            self._pairs[peer] = secret
        return secret

    def open(self, sealed: bytes, associated_data: bytes = b"") -> bytes:
        """Decrypt a blob sealed to this key; raises Refused if it was sealed to another key, was altered,
        or was sealed with different associated data."""
        if len(sealed) < OVERHEAD:
            raise Refused(f"sealed payload is {len(sealed)} bytes, shorter than the {OVERHEAD}-byte overhead")
        try:
            return _SUITE.decrypt(bytes(sealed), self._key, info=_info(associated_data))
        except (InvalidTag, ValueError) as exc:
            raise Refused(
                "sealed payload could not be opened: wrong recipient, altered, or wrong context"
            ) from exc

    def __repr__(self) -> str:
        return f"SealingKey(public={self.public_key_bytes.hex()[:16]}…)"


def seal(recipient_public_key: bytes, payload: bytes, associated_data: bytes = b"") -> bytes:
    """Encrypt payload so only the holder of recipient_public_key's private key can read it.

    Raises InvalidInput if the public key is malformed or of small order (an all-zero shared secret).
    """
    if len(recipient_public_key) != KEY_BYTES:
        raise InvalidInput(f"an X25519 public key is {KEY_BYTES} bytes, got {len(recipient_public_key)}")
    public_key = x25519.X25519PublicKey.from_public_bytes(bytes(recipient_public_key))
    try:
        return _SUITE.encrypt(bytes(payload), public_key, info=_info(associated_data))
    except ValueError as exc:  # RFC 9180 §7.1.4: DH output all zero (small-order key) is an error
        raise InvalidInput("recipient X25519 public key is invalid (small order)") from exc


def _pairwise_cipher(my_key: SealingKey, peer_public_key: bytes, associated_data: bytes) -> ChaCha20Poly1305:
    secret = my_key.pair_secret(peer_public_key)
    low, high = sorted((my_key.public_key_bytes, bytes(peer_public_key)))
    key = HKDF(hashes.SHA256(), 32, salt=None, info=_PAIRWISE_INFO + low + high + associated_data).derive(
        secret
    )
    return ChaCha20Poly1305(key)


def seal_pairwise(
    my_key: SealingKey, peer_public_key: bytes, payload: bytes, associated_data: bytes = b""
) -> bytes:
    """Seal payload so only this council and the peer can open it (see "pairwise sealing" above).
    Raises InvalidInput if the peer key is malformed or of small order."""
    nonce = os.urandom(PAIRWISE_NONCE_BYTES)
    cipher = _pairwise_cipher(my_key, peer_public_key, associated_data)
    return nonce + cipher.encrypt(nonce, bytes(payload), associated_data)


def open_pairwise(
    my_key: SealingKey, peer_public_key: bytes, sealed: bytes, associated_data: bytes = b""
) -> bytes:
    """Open a blob the peer sealed to this council with seal_pairwise(); raises Refused if another pair of
    councils sealed it, it was altered, or the associated data differs (InvalidInput: a bad peer key)."""
    if len(sealed) < PAIRWISE_OVERHEAD:
        raise Refused(
            f"sealed payload is {len(sealed)} bytes, shorter than the {PAIRWISE_OVERHEAD}-byte overhead"
        )
    cipher = _pairwise_cipher(my_key, peer_public_key, associated_data)
    blob = memoryview(sealed)  # no copy of a 32 KiB answer
    try:
        return cipher.decrypt(
            bytes(blob[:PAIRWISE_NONCE_BYTES]), blob[PAIRWISE_NONCE_BYTES:], associated_data
        )
    except InvalidTag as exc:
        raise Refused(
            "sealed payload could not be opened: another pair of councils, altered, or wrong context"
        ) from exc


def pad(payload: bytes, size: int) -> bytes:
    """Length-prefix payload and fill with zeros to exactly size bytes; InvalidInput if it does not fit."""
    room = size - LENGTH_PREFIX_BYTES
    if len(payload) > room:
        raise InvalidInput(f"payload of {len(payload)} bytes does not fit a padded size of {size} bytes")
    return len(payload).to_bytes(LENGTH_PREFIX_BYTES, "big") + payload + bytes(room - len(payload))


def unpad(padded: bytes) -> bytes:
    """Inverse of pad(); raises InvalidInput if the length prefix or the zero filling is wrong."""
    if len(padded) < LENGTH_PREFIX_BYTES:
        raise InvalidInput("padded payload is shorter than its length prefix")
    length = int.from_bytes(padded[:LENGTH_PREFIX_BYTES], "big")
    end = LENGTH_PREFIX_BYTES + length
    if end > len(padded):
        raise InvalidInput(
            f"padded payload claims {length} bytes but holds {len(padded) - LENGTH_PREFIX_BYTES}"
        )
    filler = len(padded) - end
    if padded[end:] != (_ZEROS[:filler] if filler <= len(_ZEROS) else bytes(filler)):
        raise InvalidInput("padded payload has non-zero bytes after its content")
    return bytes(padded[LENGTH_PREFIX_BYTES:end])
