"""Passwords (argon2id) and TOTP codes: what is accepted, what is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.node.accounts import PASSWORD, START, light_passwords
from whoelse.federation.errors import InvalidInput
from whoelse.node.accounts.credentials import (
    check_password_strength,
    generate_password,
    match_totp,
    new_totp_secret,
    totp_code,
    totp_step,
    totp_uri,
)


def test_password_hash_is_argon2id_and_verifies_only_the_right_password() -> None:
    passwords = light_passwords()
    encoded = passwords.hash(PASSWORD)
    assert encoded.startswith("$argon2id$")
    assert PASSWORD not in encoded
    assert passwords.verify(encoded, PASSWORD)
    assert not passwords.verify(encoded, PASSWORD + "!")
    assert not passwords.verify("not a hash", PASSWORD)


def test_production_parameters_ask_for_a_rehash_of_light_hashes() -> None:
    from whoelse.node.accounts.credentials import Passwords

    assert Passwords().needs_rehash(light_passwords().hash(PASSWORD))


@pytest.mark.parametrize(
    ("password", "match"),
    [("short", "at least 12"), ("x" * 300, "at most 256"), ("my-sam.patel-pass", "username")],
)
def test_weak_passwords_are_refused(password: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        check_password_strength(password, "sam.patel")


def test_generated_passwords_pass_the_strength_check_and_differ() -> None:
    first, second = generate_password(), generate_password()
    check_password_strength(first, "sam.patel")
    assert first != second


def test_totp_accepts_one_step_either_side_and_nothing_further() -> None:
    secret = new_totp_secret()
    step = totp_step(START)
    for offset in (-1, 0, 1):
        code = totp_code(secret, START + dt.timedelta(seconds=30 * offset))
        assert match_totp(secret, code, START, None) == step + offset
    for offset in (-2, 2):
        code = totp_code(secret, START + dt.timedelta(seconds=30 * offset))
        assert match_totp(secret, code, START, None) is None


def test_totp_refuses_a_step_already_used_or_an_earlier_one() -> None:
    secret = new_totp_secret()
    code = totp_code(secret, START)
    step = match_totp(secret, code, START, None)
    assert step is not None
    assert match_totp(secret, code, START, after_step=step) is None
    earlier = totp_code(secret, START - dt.timedelta(seconds=30))
    assert match_totp(secret, earlier, START, after_step=step) is None


def test_totp_refuses_malformed_codes_and_tolerates_spaces() -> None:
    secret = new_totp_secret()
    code = totp_code(secret, START)
    assert match_totp(secret, f"{code[:3]} {code[3:]}", START, None) is not None
    assert match_totp(secret, "12345", START, None) is None
    assert match_totp(secret, "abcdef", START, None) is None


def test_provisioning_uri_names_issuer_and_account() -> None:
    uri = totp_uri(new_totp_secret(), "sam.patel", "WhoElse Leeds")
    assert uri.startswith("otpauth://totp/")
    assert "sam.patel" in uri
    assert "issuer=WhoElse%20Leeds" in uri
