"""Seal a payload to one recipient's X25519 key (a query) or between two councils with forward secrecy (an
answer) so
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

SPEC — forward sealing (`seal_forward` / `open_forward`), for an answer going home to its origin, between
two councils that know each other's static X25519 key from the directory-signed council list:
- the origin makes a fresh X25519 key pair E for each query and carries E's public key inside the signed,
  sealed query (`Query.answer_key`); it keeps E's private half in memory only until that query's answers
  are opened, then drops it;
- the responder seals with a key pair e that lives in its memory only and is replaced every
  RESPONDER_KEY_LIFETIME_S (60 s; never written anywhere); both ends compute X25519(e, E) and the pair's
  static secret X25519(S_responder, S_origin), cached per peer (RFC 7748 §6.1; an all-zero result — a
  small-order key — is refused);
- key: HKDF-SHA256 (RFC 5869), no salt, 32 bytes, over the two secrets concatenated, info =
  "whoelse/v1/forward" || 0x00 || E || e || the two static public keys in byte order || associated data;
- seal: ChaCha20-Poly1305 (RFC 8439) under that key with a random 12-byte nonce (one responder key may
  answer one answer key more than once within its minute, so the nonce, not the key, makes each blob
  unique) and the associated data; the blob is e (32 bytes) || nonce (12) || ciphertext (payload + 16-byte
  tag).
Forging a blob needs the pair's static secret, which only the two councils can compute, so it authenticates
the responder as well as hiding the payload (the directory holds neither static key). Opening it needs
X25519(e, E) as well, which needs e's or E's private half: E is dropped when the search returns and e
within a minute, and neither is ever stored, so a later theft of either council's static keys (or both)
opens no recorded answer. The cost is one X25519 at the responder and one at the origin per answer, plus
one key generation a minute at the responder (a fresh e for every answer made each seal about twice as
costly, 147 against 75 µs; docs/benchmarks.md). What the minute trades: someone who reads a responder's
process memory during that minute can open the answers it sealed in it, as they could read the answers
themselves.
"""

from __future__ import annotations

import os
import threading
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from whoelse.federation.errors import InvalidInput, Refused

KEY_BYTES = 32
ENC_BYTES = 32
TAG_BYTES = 16
OVERHEAD = ENC_BYTES + TAG_BYTES
"""A sealed blob is exactly this many bytes longer than its payload."""

LENGTH_PREFIX_BYTES = 4

NONCE_BYTES = 12
FORWARD_OVERHEAD = KEY_BYTES + NONCE_BYTES + TAG_BYTES
"""A forward-sealed blob is exactly this many bytes longer than its payload."""
RESPONDER_KEY_LIFETIME_S = 60.0
"""How long a responder seals with one in-memory key pair before making the next (see the SPEC above)."""
_FORWARD_INFO = b"whoelse/v1/forward\x00"
_ZEROS = bytes(64 * 1024)  # compared against padding (a memcmp, not a count of 32 KiB byte by byte)
_MAX_PEERS = 4096  # cached pair secrets: every council and a few rotations of each

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_INFO_PREFIX = b"whoelse/v1/seal\x00"


def _info(associated_data: bytes) -> bytes:
    return _INFO_PREFIX + associated_data


class SealingKey:
    """A council's X25519 private key for opening blobs sealed to it. The repr never shows the secret."""

    __slots__ = ("_key", "_pairs", "_public", "_responder", "_responder_lock")

    def __init__(self, key: x25519.X25519PrivateKey) -> None:
        self._key = key
        self._public = _public_bytes(key)
        self._pairs: dict[bytes, bytes] = {}
        self._responder: tuple[float, x25519.X25519PrivateKey, bytes] | None = None
        self._responder_lock = threading.Lock()

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
            secret = _exchange(self._key, peer)
            if len(self._pairs) >= _MAX_PEERS:
                self._pairs.clear()
            self._pairs[peer] = secret
        return secret

    def responder_key(self, now: float | None = None) -> tuple[x25519.X25519PrivateKey, bytes]:
        """This council's current in-memory key pair for sealing answers (private key, 32 public bytes),
        replaced once it is RESPONDER_KEY_LIFETIME_S old (`now`: time.monotonic(), given by tests)."""
        now = time.monotonic() if now is None else now
        current = self._responder
        if current is None or now - current[0] >= RESPONDER_KEY_LIFETIME_S:
            with self._responder_lock:
                current = self._responder
                if current is None or now - current[0] >= RESPONDER_KEY_LIFETIME_S:
                    made = x25519.X25519PrivateKey.generate()
                    current = (now, made, _public_bytes(made))
                    self._responder = current
        return current[1], current[2]

    def exchange(self, peer_public_key: bytes) -> bytes:
        """X25519(this key, peer), not cached (for a key used once). InvalidInput as pair_secret."""
        return _exchange(self._key, peer_public_key)

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


def _public_bytes(key: x25519.X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _exchange(key: x25519.X25519PrivateKey, peer_public_key: bytes) -> bytes:
    """X25519(key, peer); InvalidInput if the peer key is malformed or of small order."""
    peer = bytes(peer_public_key)
    if len(peer) != KEY_BYTES:
        raise InvalidInput(f"an X25519 public key is {KEY_BYTES} bytes, got {len(peer)}")
    try:
        return key.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
    except ValueError as exc:  # RFC 7748 §6.1: an all-zero shared secret
        raise InvalidInput("peer X25519 public key is invalid (small order)") from exc


def _forward_cipher(
    fresh_secret: bytes,
    static_secret: bytes,
    answer_key: bytes,
    sender_key: bytes,
    statics: tuple[bytes, bytes],
    associated_data: bytes,
) -> ChaCha20Poly1305:
    low, high = sorted(statics)
    info = _FORWARD_INFO + bytes(answer_key) + sender_key + low + high + associated_data
    key = HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(fresh_secret + static_secret)
    return ChaCha20Poly1305(key)


def seal_forward(
    my_key: SealingKey,
    peer_public_key: bytes,
    answer_key: bytes,
    payload: bytes,
    associated_data: bytes = b"",
) -> bytes:
    """Seal payload for the peer council, opened only with the private half of `answer_key` (the peer's
    key for this one exchange) and only as coming from this council (see "forward sealing" above).
    Raises InvalidInput if either public key is malformed or of small order."""
    responder, responder_public = my_key.responder_key()
    cipher = _forward_cipher(
        _exchange(responder, answer_key),
        my_key.pair_secret(peer_public_key),
        answer_key,
        responder_public,
        (my_key.public_key_bytes, bytes(peer_public_key)),
        associated_data,
    )
    nonce = os.urandom(NONCE_BYTES)
    return responder_public + nonce + cipher.encrypt(nonce, bytes(payload), associated_data)


def open_forward(
    my_key: SealingKey,
    answer_key: SealingKey,
    peer_public_key: bytes,
    sealed: bytes,
    associated_data: bytes = b"",
) -> bytes:
    """Open a blob the peer sealed with seal_forward() to `answer_key`'s public half; raises Refused if
    another council sealed it, it was sealed to another answer key, it was altered, or the associated data
    differs (InvalidInput: a bad peer key)."""
    if len(sealed) < FORWARD_OVERHEAD:
        raise Refused(
            f"sealed payload is {len(sealed)} bytes, shorter than the {FORWARD_OVERHEAD}-byte overhead"
        )
    blob = memoryview(sealed)  # no copy of a 32 KiB answer
    sender_key = bytes(blob[:KEY_BYTES])
    try:
        fresh_secret = answer_key.exchange(sender_key)
    except InvalidInput as exc:
        raise Refused("sealed payload could not be opened: its key is invalid") from exc
    cipher = _forward_cipher(
        fresh_secret,
        my_key.pair_secret(peer_public_key),
        answer_key.public_key_bytes,
        sender_key,
        (my_key.public_key_bytes, bytes(peer_public_key)),
        associated_data,
    )
    try:
        nonce = bytes(blob[KEY_BYTES : KEY_BYTES + NONCE_BYTES])
        return cipher.decrypt(nonce, blob[KEY_BYTES + NONCE_BYTES :], associated_data)
    except InvalidTag as exc:
        raise Refused(
            "sealed payload could not be opened: another council or answer key, altered, or wrong context"
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
