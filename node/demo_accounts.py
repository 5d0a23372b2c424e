"""Demo and benchmark practitioner accounts: every eligibility fact recorded as of today.

Only for synthetic federations (`whoelse demo`, benchmarks, tests): a real council records each fact
(manager's authorisation, criminal-records check, training, agreement) when it happens.
"""

from __future__ import annotations

import datetime as dt

from node.accounts.credentials import Passwords
from node.accounts.service import AccountService, TotpEnrolment

# Weak argon2 settings so 153 councils' demo accounts are made in seconds. Never for real accounts.
DEMO_PASSWORDS = Passwords(time_cost=1, memory_kib=8192, parallelism=1)


def add_eligible(
    accounts: AccountService,
    *,
    username: str,
    name: str,
    role: str,
    organisation: str,
    contact: str,
    password: str,
    manager: str = "Demo Manager",
) -> TotpEnrolment:
    """Create an account that may search today; returns its TOTP enrolment (shown once)."""
    today = dt.date.today()
    _, totp = accounts.add(
        username=username,
        display_name=name,
        role=role,
        organisation=organisation,
        contact=contact,
        password=password,
        manager_authorised_by=manager,
        manager_authorised_on=today,
        dbs_checked_on=today,
        training_completed_on=today,
        agreement_signed_on=today,
        organisation_accredited=True,
    )
    return totp
