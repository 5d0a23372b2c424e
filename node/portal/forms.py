"""The portal's forms. Presence and shape are checked here; what a search may contain is checked by the
node (federation/identity.py via the Practitioner service), and its errors are put beside the field they
name (`field_for`), so the portal, the CLI and the gRPC API share one set of rules."""

from __future__ import annotations

import datetime as dt
import re

from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, RadioField, StringField
from wtforms.fields.choices import (  # type: ignore[attr-defined,unused-ignore]  # not in types-WTForms yet
    SelectChoice,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from federation.purposes import PRACTITIONER_PURPOSES

PURPOSE_LABELS = {
    "safeguarding": "Safeguarding or child protection (section 47 enquiry)",
    "child_in_need": "Assessing or supporting a child in need (section 17)",
    "early_help": "Early help",
    "education": "Education: attendance, admissions or a child missing education",
    "health": "Health: health visiting, school nursing or paediatrics",
    "youth_justice": "Youth justice",
    "care_planning": "Care planning for a looked-after child",
}


class SignInForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired("Enter your username"), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password"), Length(max=200)])
    totp_code = StringField(
        "Security code",
        description="The 6-digit code from your authenticator app",
        validators=[
            DataRequired("Enter the 6-digit security code from your authenticator app"),
            Regexp(r"^\s*\d{6}\s*$", message="The security code must be 6 digits, like 123456"),
        ],
    )


def _dob_value(form: SearchForm) -> str:
    return f"{form.dob_year.data or ''}-{form.dob_month.data or ''}-{form.dob_day.data or ''}"


class SearchForm(FlaskForm):
    forename = StringField(
        "First name", validators=[DataRequired("Enter the child's first name"), Length(max=100)]
    )
    surname = StringField(
        "Last name", validators=[DataRequired("Enter the child's last name"), Length(max=100)]
    )
    dob_day = StringField("Day", validators=[Optional()])
    dob_month = StringField("Month", validators=[Optional()])
    dob_year = StringField("Year", validators=[Optional()])
    sex = RadioField(
        "Sex",
        choices=[SelectChoice("F", "Female"), SelectChoice("M", "Male"), SelectChoice("U", "Not known")],
        validators=[InputRequired("Select the child's sex, or 'Not known'")],
    )
    postcode = StringField(
        "Postcode (optional)",
        validators=[Optional(), Length(max=10, message="Enter a real postcode, like LS1 4AP")],
    )
    nhs_number = StringField(
        "NHS number (optional)",
        validators=[Optional(), Length(max=12, message="An NHS number is 10 digits, like 485 777 3456")],
    )
    purpose = RadioField(
        "Why are you searching?",
        choices=[SelectChoice(p.value, PURPOSE_LABELS.get(p.value, p.value)) for p in PRACTITIONER_PURPOSES],
        validators=[InputRequired("Select why you are searching for this child")],
    )

    def validate_dob_day(self, field: Field) -> None:
        """The date of birth as one question (GOV.UK date input): one error, linked to its first box."""
        parts = (self.dob_day.data, self.dob_month.data, self.dob_year.data)
        if not any(p and p.strip() for p in parts):
            raise ValidationError("Enter the child's date of birth")
        if not all(p and p.strip().isdigit() for p in parts):
            raise ValidationError("Date of birth must include a day, month and year, in numbers")
        year = int(str(self.dob_year.data))
        if year < 1900:
            raise ValidationError("Year of birth must include 4 numbers, like 2015")
        try:
            born = dt.date(year, int(str(self.dob_month.data)), int(str(self.dob_day.data)))
        except ValueError:
            raise ValidationError("Date of birth must be a real date") from None
        if born > dt.date.today():
            raise ValidationError("Date of birth must be today or in the past")

    def date_of_birth(self) -> str:
        """YYYY-MM-DD, once the form has validated."""
        return dt.date(
            int(str(self.dob_year.data)), int(str(self.dob_month.data)), int(str(self.dob_day.data))
        ).isoformat()


# The node names the field first in its messages ("postcode: not a UK postcode"); a form field for each.
_NODE_FIELDS = {
    "forename": "forename",
    "surname": "surname",
    "date_of_birth": "dob_day",
    "sex": "sex",
    "postcode": "postcode",
    "nhs_number": "nhs_number",
    "purpose": "purpose",
}
_NODE_MESSAGES = {
    "postcode": "Enter a real postcode, like LS1 4AP, or leave it blank",
    "nhs_number": "Enter a valid NHS number (10 digits, like 485 777 3456), or leave it blank",
}


def field_for(message: str) -> tuple[str | None, str]:
    """The form field a node validation message is about (or None) and the message to show beside it."""
    match = re.match(r"(?:search: )?(\w+)\b", message)
    name = match.group(1) if match else ""
    field = _NODE_FIELDS.get(name)
    if field is None:
        return None, message[:1].upper() + message[1:]
    text = message.split(":", 1)[1].strip() if ":" in message else message
    return field, _NODE_MESSAGES.get(name, text[:1].upper() + text[1:])
