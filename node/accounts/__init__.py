"""Practitioner accounts at a council node: who may search, how they log in, and the council's controls.

Modules: `eligibility` (the "Who may search" rules), `credentials` (argon2id passwords, TOTP codes),
`lockout` (slow-down and bounded lock after failed log-ins), `tables` (storage), `service` (AccountService,
the entry point) and `cli` (`whoelse node practitioner ...`).
"""

from __future__ import annotations

from whoelse.node.accounts.credentials import Passwords
from whoelse.node.accounts.eligibility import (
    AccountStatus,
    Ineligibility,
    NotEligible,
    Reason,
    check_eligibility,
    require_eligible,
)
from whoelse.node.accounts.lockout import LockoutPolicy, LoginThrottled
from whoelse.node.accounts.service import (
    AccountService,
    Practitioner,
    Session,
    SessionLifetime,
    TotpEnrolment,
)

__all__ = [
    "AccountService",
    "AccountStatus",
    "Ineligibility",
    "LockoutPolicy",
    "LoginThrottled",
    "NotEligible",
    "Passwords",
    "Practitioner",
    "Reason",
    "Session",
    "SessionLifetime",
    "TotpEnrolment",
    "check_eligibility",
    "require_eligible",
]
