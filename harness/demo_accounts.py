"""Demo and benchmark practitioner accounts: every eligibility fact recorded as of today.

Only for synthetic federations (`whoelse demo`, benchmarks, tests): a real council records each fact
(manager's authorisation, criminal-records check, training, agreement) when it happens.
"""

from __future__ import annotations

import datetime as dt

from whoelse.node.accounts.service import AccountService, TotpEnrolment


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
    records_team: bool = False,
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
        records_team=records_team,
    )
    return totp
