"""Practitioners' TOTP secrets as stored: encrypted with AES-256-GCM (NIST SP 800-38D) under the node's TOTP
key, which lives in the key store (node/keystore.py), never in the database; with a PKCS#11 token the
encryption is done inside it and the key cannot be read out.

A stored secret is `v1:` + base64url(nonce ‖ ciphertext ‖ tag), with a random 96-bit nonce. The associated
data binds it to its account ("whoelse/v1/totp-secret" 0x00 username), so a secret copied onto another
account's row does not open. A copy of the database alone therefore cannot produce a valid code.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag

from whoelse.federation.errors import ConfigError
from whoelse.node.keystore import Aead

SEALED_PREFIX = "v1:"
_CONTEXT = b"whoelse/v1/totp-secret\x00"
_NONCE_BYTES = 12


def is_sealed(stored: str) -> bool:
    """Whether a stored TOTP secret is encrypted (rather than the clear base32 of before migration 0006)."""
    return stored.startswith(SEALED_PREFIX)


class TotpSecrets:
    """Encrypts TOTP secrets for storage and decrypts them to check a code."""

    __slots__ = ("_aead",)

    def __init__(self, aead: Aead) -> None:
        """`aead`: the key store's TOTP key (NodeKeys.totp), in software or in a token."""
        self._aead = aead

    def __repr__(self) -> str:
        return "TotpSecrets(…)"

    def seal(self, username: str, secret: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("ascii"), _CONTEXT + username.encode("utf-8"))
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, username: str, stored: str) -> str:
        """The base32 secret; ConfigError if it is in clear (not migrated) or does not open under this key."""
        if not is_sealed(stored):
            raise ConfigError(
                f"practitioner {username!r}: TOTP secret stored in clear; run `whoelse node migrate`"
            )
        try:
            blob = base64.urlsafe_b64decode(stored[len(SEALED_PREFIX) :])
            nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
            return self._aead.decrypt(nonce, sealed, _CONTEXT + username.encode("utf-8")).decode("ascii")
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise ConfigError(
                f"practitioner {username!r}: TOTP secret does not open under this node's TOTP key (a "
                "database restored without its own key store?)"
            ) from exc
