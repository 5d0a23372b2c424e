"""Who may search (BRIEF.md "Who may search"): the rules a practitioner's council applies before every search.

The rules are pure functions of the practitioner's recorded facts and today's date, so the search path can
call `require_eligible` on every request (not only at log-in): a check expiring at midnight stops the next
search.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from whoelse.federation.errors import PermissionDenied

CHECK_VALID_YEARS = 3
"""An enhanced criminal-records check must be *under* three years old: on its third anniversary it expires."""


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # the council may reinstate it
    ENDED = "ended"  # final: a returning practitioner gets a new account, so the history stays unambiguous


class Reason(enum.StrEnum):
    """Why a practitioner may not search; stable codes for programs, with a message for people."""

    SUSPENDED = "suspended"
    ENDED = "ended"
    NO_MANAGER_AUTHORISATION = "no_manager_authorisation"
    NO_CRIMINAL_RECORDS_CHECK = "no_criminal_records_check"
    CRIMINAL_RECORDS_CHECK_EXPIRED = "criminal_records_check_expired"
    NO_TRAINING = "no_training"
    NO_AGREEMENT = "no_agreement"
    ORGANISATION_NOT_ACCREDITED = "organisation_not_accredited"


@dataclass(frozen=True, slots=True)
class Ineligibility:
    reason: Reason
    message: str  # what the practitioner can do about it

    def __str__(self) -> str:
        return self.message


class EligibilityFacts(Protocol):
    """What the rules read from a practitioner (read-only, so frozen domain objects satisfy it)."""

    @property
    def status(self) -> AccountStatus: ...
    @property
    def organisation(self) -> str: ...
    @property
    def manager_authorised_by(self) -> str: ...
    @property
    def manager_authorised_on(self) -> dt.date | None: ...
    @property
    def dbs_checked_on(self) -> dt.date | None: ...
    @property
    def training_completed_on(self) -> dt.date | None: ...
    @property
    def agreement_signed_on(self) -> dt.date | None: ...
    @property
    def organisation_accredited(self) -> bool: ...


class NotEligible(PermissionDenied):
    """The practitioner is authenticated but may not search; `reasons` lists every rule that failed."""

    def __init__(self, reasons: Sequence[Ineligibility]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("You may not search: " + "; ".join(r.message for r in self.reasons))


def check_expires_on(checked_on: dt.date) -> dt.date:
    """The first day on which a check made on `checked_on` is no longer valid (its third anniversary).

    A check made on 29 February expires on 28 February, the earlier reading, so it is never valid for longer
    than three years.
    """
    year = checked_on.year + CHECK_VALID_YEARS
    try:
        return checked_on.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def check_eligibility(p: EligibilityFacts, today: dt.date) -> list[Ineligibility]:
    """Every reason the practitioner may not search today; an empty list means they may."""
    reasons: list[Ineligibility] = []
    if p.status is AccountStatus.SUSPENDED:
        reasons.append(
            Ineligibility(
                Reason.SUSPENDED,
                "your account is suspended; ask your council's records team why and to reinstate it",
            )
        )
    elif p.status is AccountStatus.ENDED:
        reasons.append(
            Ineligibility(
                Reason.ENDED,
                "your account has ended; ask your manager to request a new account from your council",
            )
        )
    if not p.manager_authorised_by.strip() or p.manager_authorised_on is None:
        reasons.append(
            Ineligibility(
                Reason.NO_MANAGER_AUTHORISATION,
                "no manager authorisation is recorded; ask your manager to authorise your access "
                "with your council's records team",
            )
        )
    reasons.extend(_criminal_records_check(p.dbs_checked_on, today))
    if p.training_completed_on is None or p.training_completed_on > today:
        reasons.append(
            Ineligibility(
                Reason.NO_TRAINING,
                "no completed WhoElse training is recorded; complete the training and ask your council's "
                "records team to record the date",
            )
        )
    if p.agreement_signed_on is None or p.agreement_signed_on > today:
        reasons.append(
            Ineligibility(
                Reason.NO_AGREEMENT,
                "you have not signed the end-user agreement; sign it and ask your council's records team "
                "to record the date",
            )
        )
    if not p.organisation_accredited:
        reasons.append(
            Ineligibility(
                Reason.ORGANISATION_NOT_ACCREDITED,
                f"your organisation ({p.organisation}) is not accredited to use WhoElse; your organisation "
                "must be accredited by your council before anyone in it can search",
            )
        )
    return reasons


def _criminal_records_check(checked_on: dt.date | None, today: dt.date) -> list[Ineligibility]:
    if checked_on is None or checked_on > today:
        # A date in the future is a recording mistake; it must not count as a valid check.
        return [
            Ineligibility(
                Reason.NO_CRIMINAL_RECORDS_CHECK,
                "no enhanced criminal-records (DBS) check is recorded; ask your council's records team "
                "to record the date of your enhanced check",
            )
        ]
    expires_on = check_expires_on(checked_on)
    if today >= expires_on:
        return [
            Ineligibility(
                Reason.CRIMINAL_RECORDS_CHECK_EXPIRED,
                f"your enhanced criminal-records (DBS) check of {checked_on.isoformat()} expired on "
                f"{expires_on.isoformat()} (checks must be under three years old); renew it and ask your "
                "council's records team to record the new date",
            )
        ]
    return []


def require_eligible(p: EligibilityFacts, today: dt.date) -> None:
    """Raise NotEligible (a PermissionDenied) listing every failed rule; call before every search."""
    reasons = check_eligibility(p, today)
    if reasons:
        raise NotEligible(reasons)
