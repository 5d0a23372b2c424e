"""Seal a payload to one recipient's X25519 key so intermediaries (the directory) see only ciphertext, and
pad payloads to a fixed size so an answer's length does not show whether the council matched (P2, P3).

SPEC: HPKE, RFC 9180 (https://www.rfc-editor.org/rfc/rfc9180), base mode, single-shot (§6.1), ciphersuite
DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305, as implemented by PyCA `cryptography`.
A sealed blob is enc (32 bytes) || AEAD ciphertext (payload + 16-byte tag).

Associated data (e.g. query id + recipient council code) goes into HPKE's `info`, which RFC 9180 §5.1 binds
into the key schedule: opening with different associated data fails exactly like a forged ciphertext, so a
blob sealed for one query or recipient cannot be replayed as another. The associated data itself is not
encrypted; both sides must already know it.

Padding: 4-byte big-endian payload length || payload || zero bytes, to exactly `size` bytes. unpad() checks
the zeros too, so each payload has exactly one padded form.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from federation.errors import InvalidInput, Refused

KEY_BYTES = 32
ENC_BYTES = 32
TAG_BYTES = 16
OVERHEAD = ENC_BYTES + TAG_BYTES
"""A sealed blob is exactly this many bytes longer than its payload."""

LENGTH_PREFIX_BYTES = 4

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_INFO_PREFIX = b"whoelse/v1/seal\x00"


def _info(associated_data: bytes) -> bytes:
    return _INFO_PREFIX + associated_data


class SealingKey:
    """A council's X25519 private key for opening blobs sealed to it. The repr never shows the secret."""

    __slots__ = ("_key",)

    def __init__(self, key: x25519.X25519PrivateKey) -> None:
        self._key = key

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
        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

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
    if padded.count(0, end) != len(padded) - end:
        raise InvalidInput("padded payload has non-zero bytes after its content")
    return bytes(padded[LENGTH_PREFIX_BYTES:end])
