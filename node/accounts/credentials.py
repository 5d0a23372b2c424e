"""Practitioner credentials: argon2id password hashes (RFC 9106) and TOTP second-factor codes (RFC 6238).

Passwords are hashed with argon2id, a memory-hard function, so a stolen table is slow to guess offline.
TOTP codes are accepted one 30-second step either side of now (clock drift) and each step at most once.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from functools import cached_property

import argon2
import pyotp
from argon2.exceptions import InvalidHashError, VerificationError

from whoelse.federation.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12  # NCSC guidance: length, not composition rules
MAX_PASSWORD_LENGTH = 256
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_DRIFT_STEPS = 1
_TOTP_CODE = re.compile(r"\d{6}")


class Passwords:
    """Hashes and verifies passwords with argon2id.

    The defaults are RFC 9106's second recommended option (t=3, 64 MiB, p=4); tests pass lighter parameters.
    """

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 64 * 1024, parallelism: int = 4) -> None:
        self.parameters = (time_cost, memory_kib, parallelism)
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )

    @classmethod
    def named(cls, cost: str) -> Passwords:
        """The node's password cost by its configured name: "standard" (RFC 9106), or "light" (t=1, 8 MiB)
        for synthetic benchmark federations — every account at a node, and its unknown-username check, MUST
        use the same cost, or the time a log-in takes tells which usernames exist."""
        if cost == "light":
            return cls(time_cost=1, memory_kib=8192, parallelism=1)
        if cost != "standard":
            raise InvalidInput(f"password cost {cost!r}: expected standard or light")
        return cls()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        try:
            return self._hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """True when the hash was made with other parameters (rehash it at the next successful log-in)."""
        return self._hasher.check_needs_rehash(encoded)

    def verify_nobody(self, password: str) -> None:
        """Do a real verification's work for a username that does not exist, so timing reveals nothing."""
        self.verify(self.dummy_hash, password)

    @cached_property
    def dummy_hash(self) -> str:
        """A hash of a random password with this node's parameters, that unknown usernames verify against."""
        return self._hasher.hash(secrets.token_urlsafe(16))


def check_password_strength(password: str, username: str) -> None:
    """Refuse passwords a council should not issue: short, overlong, or containing the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"password: must be at most {MAX_PASSWORD_LENGTH} characters")
    if username.casefold() in password.casefold():
        raise InvalidInput("password: must not contain the username")


def generate_password() -> str:
    """A random password (about 143 bits) for a council to hand to a new practitioner once."""
    return secrets.token_urlsafe(18)


def new_totp_secret() -> str:
    """A random 160-bit base32 TOTP secret (RFC 4226 recommends at least 128 bits)."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, username: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app scans as a QR code."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=issuer
    )


def totp_step(at: dt.datetime) -> int:
    """The RFC 6238 time step (counter) containing the instant `at`."""
    return int(at.timestamp()) // TOTP_STEP_SECONDS


def totp_code(secret: str, at: dt.datetime) -> str:
    """The code an authenticator app shows at `at` (used by tests and by operators checking a device)."""
    return str(pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).generate_otp(totp_step(at)))


def match_totp(secret: str, code: str, at: dt.datetime, after_step: int | None) -> int | None:
    """The time step `code` belongs to, or None if it is wrong, outside ±1 step of `at`, or already used.

    `after_step` is the last step accepted for this practitioner; only later steps are accepted, so a code
    seen over someone's shoulder (or replayed from a log-in request) cannot be used again.
    """
    code = code.replace(" ", "")
    if not _TOTP_CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    now_step = totp_step(at)
    matched: int | None = None
    # Compare against every step in the window (constant work) rather than stopping at the first match.
    for step in range(now_step - TOTP_DRIFT_STEPS, now_step + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(str(totp.generate_otp(step)), code) and matched is None:
            matched = step
    if matched is None or (after_step is not None and matched <= after_step):
        return None
    return matched
