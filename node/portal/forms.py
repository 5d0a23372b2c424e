"""The portal's forms. Presence and shape are checked here; what a search may contain is checked by the
node (federation/identity.py via the Practitioner service), and its errors are put beside the field they
name (`field_for`), so the portal, the CLI and the gRPC API share one set of rules."""

from __future__ import annotations

import datetime as dt
import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import (  # type: ignore[attr-defined,unused-ignore]  # not in types-WTForms yet
    SelectChoice,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from whoelse.federation.errors import InvalidInput
from whoelse.federation.identity import BirthDate
from whoelse.federation.purposes import PRACTITIONER_PURPOSES
from whoelse.node.records import ServiceType

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
    # Names and the date may be partly unknown (a newborn not yet named, a year of birth only): the node says
    # when what is left is too little to search on, and what would help (whoelse.federation.match_keys).
    forename = StringField("First name", validators=[Optional(), Length(max=100)])
    surname = StringField("Last name", validators=[Optional(), Length(max=100)])
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
        """The date of birth as one question (GOV.UK date input): one error, linked to its first box. The
        whole date, the month and year, the year alone, or nothing; the node reads a day and month written
        the wrong way round."""
        day, month, year = (
            str(p or "").strip() for p in (self.dob_day.data, self.dob_month.data, self.dob_year.data)
        )
        if not (day or month or year):
            return
        if not year:
            raise ValidationError("Date of birth must include a year, like 2015")
        if day and not month:
            raise ValidationError("Date of birth must include a month if it has a day")
        if not all(p.isdigit() for p in (day, month, year) if p):
            raise ValidationError("Date of birth must be in numbers, like 27 3 2015")
        if len(year) != 4:
            raise ValidationError("Year of birth must include 4 numbers, like 2015")
        if day:
            try:  # the node's own reading: a date invalid as written but real swapped is read swapped
                born = BirthDate.parse(f"{year}-{int(month):02d}-{int(day):02d}")
            except InvalidInput:
                raise ValidationError("Date of birth must be a real date") from None
            if not born.swapped and born.date is not None and born.date > dt.date.today():
                raise ValidationError("Date of birth must be today or in the past")
        if int(year) > dt.date.today().year:
            raise ValidationError("Date of birth must be today or in the past")

    def date_of_birth(self) -> str:
        """YYYY-MM-DD, YYYY-MM or YYYY (what was given), once the form has validated; the node checks it."""
        day, month, year = (
            str(p or "").strip() for p in (self.dob_day.data, self.dob_month.data, self.dob_year.data)
        )
        if not year:
            return ""
        if not month:
            return year
        return f"{year}-{int(month):02d}" + (f"-{int(day):02d}" if day else "")


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


def service_name(value: str) -> str:
    """How the portal names a service type: "camhs_tier2" → "CAMHS tier 2"."""
    return SERVICE_LABELS.get(value, value.replace("_", " ").capitalize())


def _service_label(service: ServiceType) -> str:
    label = service_name(service.value)
    return f"{label} (sensitive: needs consent or an override)" if service.sensitive else label


SERVICE_LABELS = {
    "camhs_tier1": "CAMHS tier 1",
    "camhs_tier2": "CAMHS tier 2",
    "camhs_tier3": "CAMHS tier 3",
    "camhs_tier4": "CAMHS tier 4",
    "special_educational_needs": "Special educational needs",
}


class InvolvementForm(FlaskForm):
    """Record my involvement: the service; for a sensitive service, the child's consent or an override.
    Who is involved comes from the practitioner's account (node/recording.py)."""

    record_id = HiddenField(validators=[DataRequired(), Length(max=64)])
    service_type = SelectField(
        "Which service are you working with this child in?",
        choices=[
            SelectChoice("", "Choose a service"),
            *(SelectChoice(s.value, _service_label(s)) for s in ServiceType),
        ],
        validators=[DataRequired("Select the service you are working with this child in")],
    )
    sensitive_basis = RadioField(
        "For a sensitive service: on what basis is it recorded?",
        choices=[
            SelectChoice("consent", "The child has given informed, explicit consent"),
            SelectChoice("override", "Override: there is a risk of significant harm"),
        ],
        validators=[Optional()],
    )
    override_reason = TextAreaField(
        "Reason for the override",
        validators=[Optional(), Length(max=200, message="Use 200 characters or fewer")],
    )


class ConcernForm(FlaskForm):
    record_id = HiddenField(validators=[DataRequired(), Length(max=64)])
    confirm = BooleanField(
        "I have a concern about this child's welfare. Only that a concern exists, and my contact details, "
        "will be shared.",
        validators=[DataRequired("Confirm that you have a concern about this child's welfare")],
    )


_INVOLVEMENT_FIELDS = {"service_type": "service_type", "sensitive_basis": "sensitive_basis",
                       "override_reason": "override_reason"}  # fmt: skip


def involvement_field_for(problem_field: str) -> str | None:
    """The form field an import rule's error is about ("involvement.sensitive_basis" → sensitive_basis)."""
    return _INVOLVEMENT_FIELDS.get(problem_field.rsplit(".", 1)[-1])


class AccountForm(FlaskForm):
    """A records team action on one practitioner's account; suspending needs a reason."""

    username = HiddenField(validators=[DataRequired(), Length(max=64)])
    action = HiddenField(validators=[DataRequired(), AnyOf(("suspend", "reinstate", "unlock"))])
    reason = TextAreaField(
        "Why are you suspending this account?",
        validators=[Optional(), Length(max=200, message="Use 200 characters or fewer")],
    )
