"""TOTP secrets as stored: encrypted under the key store's TOTP key and bound to their account."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from whoelse.federation.errors import ConfigError
from whoelse.node.accounts.credentials import new_totp_secret
from whoelse.node.accounts.tables import PractitionerRow
from whoelse.node.accounts.totp_storage import TotpSecrets, is_sealed


def test_a_sealed_secret_opens_only_for_its_account_under_its_key() -> None:
    key = os.urandom(32)
    secret = new_totp_secret()
    stored = TotpSecrets(AESGCM(key)).seal("sam.patel", secret)
    assert is_sealed(stored) and secret not in stored
    assert len(stored) <= PractitionerRow.__table__.c.totp_secret.type.length  # type: ignore[attr-defined]
    assert TotpSecrets(AESGCM(key)).open("sam.patel", stored) == secret
    assert TotpSecrets(AESGCM(key)).seal("sam.patel", secret) != stored  # a fresh nonce every time
    with pytest.raises(ConfigError, match="does not open under this node's TOTP key"):
        TotpSecrets(AESGCM(key)).open("jo.bloggs", stored)  # copied onto another account's row
    with pytest.raises(ConfigError, match="does not open under this node's TOTP key"):
        TotpSecrets(AESGCM(os.urandom(32))).open("sam.patel", stored)


def test_a_secret_still_in_clear_asks_for_the_migration() -> None:
    with pytest.raises(ConfigError, match=r"stored in clear; run `whoelse node migrate`"):
        TotpSecrets(AESGCM(os.urandom(32))).open("sam.patel", new_totp_secret())
