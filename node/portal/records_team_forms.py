"""The records team's forms. Presence and shape are checked here; the rules (what an account needs, what a
shielding needs, whether a record changed meanwhile) are the domain's, and its errors are put beside the field
they name (`field_for`): each form field is named as the domain names it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import (  # type: ignore[attr-defined,unused-ignore]  # not in types-WTForms yet
    SelectChoice,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from whoelse.node.accounts.service import Practitioner
from whoelse.node.portal.records_team import ACCOUNT_ACTIONS

DATE_QUESTIONS = {
    "dbs_checked_on": "Date of the enhanced criminal records (DBS) check",
    "training_completed_on": "Date WhoElse training was completed",
    "agreement_signed_on": "Date the end-user agreement was signed",
}


TEXT_FACTS = ("display_name", "role", "organisation", "contact", "manager_authorised_by")
"""The account's facts asked as text boxes."""

_RECORDS_TEAM_CHOICES = [SelectChoice("yes", "Yes"), SelectChoice("no", "No")]
RECORDS_TEAM_QUESTION = "Can they use the records team pages?"
RECORDS_TEAM_HINT = (
    "Adding, changing and ending accounts, shielding records, subject access reports, imports and the audit "
    "log. Only for the council's records team."
)


class _AccountFactsForm(FlaskForm):
    """What an account records about its practitioner: asked when it is added and when it changes."""

    username = StringField(
        "Username",
        description="3 to 64 letters, digits, '.', '_', '-' or '@', like sam.patel@leeds",
        validators=[DataRequired("Enter a username"), Length(max=64, message="Use 64 characters or fewer")],
    )
    display_name = StringField(
        "Full name", validators=[DataRequired("Enter the practitioner's full name"), Length(max=100)]
    )
    role = StringField(
        "Role",
        description="For example, Social worker or Health visitor",
        validators=[DataRequired("Enter the practitioner's role"), Length(max=100)],
    )
    organisation = StringField(
        "Organisation", validators=[DataRequired("Enter the practitioner's organisation"), Length(max=200)]
    )
    contact = StringField(
        "Work telephone or email",
        description="Other practitioners will use this to contact them",
        validators=[DataRequired("Enter a work telephone number or email address"), Length(max=200)],
    )
    manager_authorised_by = StringField(
        "Manager who authorised this account",
        validators=[
            DataRequired("Enter the name of the manager who authorised this account"),
            Length(max=100),
        ],
    )
    organisation_accredited = RadioField(
        "Is the organisation accredited to use WhoElse?",
        choices=[SelectChoice("yes", "Yes"), SelectChoice("no", "No")],
        validators=[InputRequired("Select whether the organisation is accredited")],
    )
    dbs_checked_on_day = StringField("Day", validators=[Optional()])
    dbs_checked_on_month = StringField("Month", validators=[Optional()])
    dbs_checked_on_year = StringField("Year", validators=[Optional()])
    training_completed_on_day = StringField("Day", validators=[Optional()])
    training_completed_on_month = StringField("Month", validators=[Optional()])
    training_completed_on_year = StringField("Year", validators=[Optional()])
    agreement_signed_on_day = StringField("Day", validators=[Optional()])
    agreement_signed_on_month = StringField("Month", validators=[Optional()])
    agreement_signed_on_year = StringField("Year", validators=[Optional()])

    records_team = RadioField(
        RECORDS_TEAM_QUESTION,
        description=RECORDS_TEAM_HINT,
        choices=_RECORDS_TEAM_CHOICES,
        default="no",
        validators=[InputRequired("Select whether they can use the records team pages")],
    )

    def facts(self) -> dict[str, Any]:
        """The account's facts as the account service takes them (once the form has validated); a date left
        blank is None."""
        given: dict[str, Any] = {name: (self[name].data or "").strip() for name in TEXT_FACTS}
        given["organisation_accredited"] = self.organisation_accredited.data == "yes"
        given["records_team"] = self.records_team.data == "yes"
        given.update({name: self.date(name) for name in DATE_QUESTIONS})
        return given

    def validate_dbs_checked_on_day(self, field: Field) -> None:
        self.date("dbs_checked_on")

    def validate_training_completed_on_day(self, field: Field) -> None:
        self.date("training_completed_on")

    def validate_agreement_signed_on_day(self, field: Field) -> None:
        self.date("agreement_signed_on")

    def date(self, name: str) -> dt.date | None:
        """A GOV.UK date input's three boxes as one date (None: left blank; the account may not search until
        it is recorded). Whether it is in the future is the account service's rule."""
        day, month, year = (
            str(self[f"{name}_{part}"].data or "").strip() for part in ("day", "month", "year")
        )
        if not (day or month or year):
            return None
        question = DATE_QUESTIONS[name]
        if not (day and month and year):
            raise ValidationError(f"{question} must include a day, month and year")
        if not all(p.isdigit() for p in (day, month, year)) or len(year) != 4:
            raise ValidationError(f"{question} must be a real date, like 27 3 2025")
        try:
            return dt.date(int(year), int(month), int(day))
        except ValueError:
            raise ValidationError(f"{question} must be a real date, like 27 3 2025") from None


class AddPractitionerForm(_AccountFactsForm):
    """`whoelse node practitioner add` as a question page: the password is generated, never typed."""


class ChangePractitionerForm(_AccountFactsForm):
    """`whoelse node practitioner update` as a question page, filled in with what the account records now.
    A date left blank stays as recorded (a recorded check is withdrawn by suspending the account)."""

    username = HiddenField(validators=[DataRequired(), Length(max=64)])

    def fill(self, p: Practitioner) -> None:
        """The form as the account stands (on the first showing, before anything is changed)."""
        self.username.data = p.username
        for name in TEXT_FACTS:
            self[name].data = getattr(p, name)
        self.organisation_accredited.data = "yes" if p.organisation_accredited else "no"
        self.records_team.data = "yes" if p.records_team else "no"
        for name in DATE_QUESTIONS:
            recorded: dt.date | None = getattr(p, name)
            if recorded is not None:
                self[f"{name}_day"].data = str(recorded.day)
                self[f"{name}_month"].data = str(recorded.month)
                self[f"{name}_year"].data = str(recorded.year)

    def changes(self, p: Practitioner) -> dict[str, Any]:
        """Only what differs from the account as it stands, so that an unchanged manager is not dated anew
        and the audit entry does not claim a role was granted that was already held."""
        return {k: v for k, v in self.facts().items() if v is not None and v != getattr(p, k)}


class AccountForm(FlaskForm):
    """A records team action on one account; suspending needs a reason, ending a confirmation."""

    username = HiddenField(validators=[DataRequired(), Length(max=64)])
    action = HiddenField(validators=[DataRequired(), AnyOf(ACCOUNT_ACTIONS)])
    reason = TextAreaField(validators=[Optional(), Length(max=200, message="Use 200 characters or fewer")])


class ResetForm(FlaskForm):
    """New sign-in details for one account: first the page that says what a reset does, then `confirm`."""

    username = HiddenField(validators=[DataRequired(), Length(max=64)])
    confirm = HiddenField(validators=[Optional(), AnyOf(("yes",))])


_RECORD_ID = [
    DataRequired("Enter the child's record ID"),
    Length(max=64, message="A record ID is 64 characters or fewer"),
    Regexp(r"^[\x21-\x7e]+$", message="A record ID has no spaces, like W-1234"),
]


class RecordForm(FlaskForm):
    """Find one of this council's records by its ID: to shield it, or for a subject access report."""

    record_id = StringField(
        "Record ID",
        description="The council's own ID for the child's record, like W-1234",
        validators=_RECORD_ID,
    )
    action = HiddenField(validators=[Optional(), AnyOf(("find", "subject-access"))])


class ShieldingForm(FlaskForm):
    record_id = HiddenField(validators=_RECORD_ID)
    version = HiddenField(validators=[DataRequired(), Regexp(r"^\d{1,18}$")])
    action = HiddenField(validators=[AnyOf(("shield", "unshield"))])
    reason = TextAreaField(
        validators=[
            DataRequired("Say why"),  # the page's question says what for; see `reason_missing`
            Length(max=150, message="Use 150 characters or fewer"),
        ]
    )

    def reason_missing(self) -> str:
        if self.action.data == "shield":
            return "Say why this record is being shielded"
        return "Say why this record no longer needs shielding"


class SubjectAccessForm(FlaskForm):
    record_id = HiddenField(validators=_RECORD_ID)
    format = HiddenField(validators=[AnyOf(("html", "json"))], default="html")


# The domain names the field first in its messages ("shielding.reason: required"); the form field for each.
_FIELDS = {
    "shielding.reason": "reason",
    "reason": "reason",
    "record_id": "record_id",
    **{name: f"{name}_day" for name in DATE_QUESTIONS},  # a date's error links to its day box
}


def field_for(message: str, form: FlaskForm) -> tuple[str | None, str]:
    """The form field a domain message is about (or None) and the message to show beside it."""
    match = re.match(r"([\w.]+):\s*(.*)$", message, re.S)
    if match is None:
        return None, _sentence(message)
    name, text = match.groups()
    field = _FIELDS.get(name, name)
    if field not in form or form[field].type == "HiddenField":  # nothing on the page to link to
        return None, _sentence(text if field in form else message)
    if name in DATE_QUESTIONS and "future" in text:
        return field, f"{DATE_QUESTIONS[name]} must be today or in the past"
    return field, _sentence(text)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]
