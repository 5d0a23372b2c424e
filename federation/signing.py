"""Ed25519 signatures over canonical objects, each bound to a context string (a query, a tree head, ...).

SPEC: Ed25519 as in RFC 8032 §5.1, through libsodium (PyNaCl), whose verifier rejects non-canonical and
small-order keys and signatures. What is signed is

    context (ASCII, e.g. "whoelse/v1/query") || 0x00 || canonical_json(obj)   (federation/canonical.py)

The context MUST NOT contain 0x00, so the split is unambiguous: a signature made for one kind of object can
never verify as another kind (domain separation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import nacl.exceptions
import nacl.signing

from whoelse.federation.canonical import canonical_json
from whoelse.federation.errors import InvalidInput, Refused

SEED_BYTES = 32
VERIFY_KEY_BYTES = 32
SIGNATURE_BYTES = 64

_CONTEXT = re.compile(r"[a-z0-9][a-z0-9._/-]{0,127}")


def signed_message(obj: Mapping[str, Any], context: str) -> bytes:
    """The exact bytes an Ed25519 signature covers (exposed so other implementations can be checked)."""
    if not _CONTEXT.fullmatch(context):
        raise InvalidInput(f"signing context {context!r} must be lowercase ASCII like 'whoelse/v1/query'")
    return context.encode("ascii") + b"\x00" + canonical_json(obj)


class SigningKey:
    """A council's or the directory's Ed25519 signing key. The repr never shows the secret."""

    __slots__ = ("_key",)

    def __init__(self, key: nacl.signing.SigningKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(nacl.signing.SigningKey.generate())

    @classmethod
    def from_bytes(cls, seed: bytes) -> SigningKey:
        """Load from the 32-byte RFC 8032 seed written by to_bytes()."""
        if len(seed) != SEED_BYTES:
            raise InvalidInput(f"an Ed25519 signing key is {SEED_BYTES} bytes, got {len(seed)}")
        return cls(nacl.signing.SigningKey(bytes(seed)))

    def to_bytes(self) -> bytes:
        """The 32-byte seed; store it as a secret (file mode 0600)."""
        return bytes(self._key)

    @property
    def verify_key_bytes(self) -> bytes:
        """The 32-byte public key others verify with."""
        return bytes(self._key.verify_key)

    def sign(self, obj: Mapping[str, Any], context: str) -> bytes:
        """Sign the canonical encoding of obj under context; returns the 64-byte signature."""
        return bytes(self._key.sign(signed_message(obj, context)).signature)

    def __repr__(self) -> str:
        return f"SigningKey(verify_key={self.verify_key_bytes.hex()[:16]}…)"


def verify(verify_key: bytes, obj: Mapping[str, Any], context: str, signature: bytes) -> None:
    """Check signature over obj under context; raises Refused("bad signature ...") if it does not verify."""
    if len(verify_key) != VERIFY_KEY_BYTES:
        raise Refused(f"bad signature: verify key is {len(verify_key)} bytes, not {VERIFY_KEY_BYTES}")
    if len(signature) != SIGNATURE_BYTES:
        raise Refused(f"bad signature: {len(signature)} bytes, not {SIGNATURE_BYTES} ({context})")
    message = signed_message(obj, context)
    try:
        nacl.signing.VerifyKey(bytes(verify_key)).verify(message, bytes(signature))
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise Refused(f"bad signature on {context} object") from exc
