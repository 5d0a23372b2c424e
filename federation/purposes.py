"""The fixed list of lawful purposes a search may give (Children Act 2004 s11/s12 duties)."""

from __future__ import annotations

import enum

from whoelse.federation.errors import InvalidInput


class Purpose(enum.StrEnum):
    SAFEGUARDING = "safeguarding"  # s47 enquiry / child protection
    CHILD_IN_NEED = "child_in_need"  # s17 assessment and support
    EARLY_HELP = "early_help"
    EDUCATION = "education"  # attendance, admissions, children missing education
    HEALTH = "health"  # health visiting, school nursing, paediatrics
    YOUTH_JUSTICE = "youth_justice"
    CARE_PLANNING = "care_planning"  # looked-after children
    NOTIFICATION = "notification"  # an alert routed like a search; not chosen by a practitioner


PRACTITIONER_PURPOSES = tuple(p for p in Purpose if p is not Purpose.NOTIFICATION)


def parse_purpose(value: str, *, allow_notification: bool = False) -> Purpose:
    try:
        purpose = Purpose(value.strip().lower())
    except ValueError:
        choices = ", ".join(p.value for p in PRACTITIONER_PURPOSES)
        raise InvalidInput(
            f"purpose {value[:40]!r} is not a lawful purpose; choose one of: {choices}"
        ) from None
    if purpose is Purpose.NOTIFICATION and not allow_notification:
        raise InvalidInput("purpose 'notification' is reserved for alerts")
    return purpose
