"""Turn one raw imported row (JSON-shaped dict) into a ChildRecord, or say exactly what is wrong with it.

Every rule of docs/import-format.md lives here, once. Errors name the field and the reason; the importer
adds the file and line.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from whoelse.federation.errors import InvalidInput
from whoelse.federation.identity import (
    BirthDate,
    normalise_name,
    normalise_nhs_number,
    normalise_postcode,
    valid_nhs_number,
)
from whoelse.node.records import (
    Address,
    Carer,
    CauseForConcern,
    ChildRecord,
    Education,
    GeneralPractice,
    Involvement,
    RecordId,
    SensitiveBasis,
    ServiceType,
    Sex,
    Shielding,
)

MAX_NAME = 100
MAX_TEXT = 200
MAX_LIST = 50
MAX_AGE_YEARS = 26

# Things a record may never hold (Children Act 2004 s12(4)); named so the refusal can say why.
FORBIDDEN = {
    "case_notes": "case notes",
    "notes": "case notes",
    "note": "case notes",
    "assessment": "assessments",
    "assessments": "assessments",
    "caf": "assessments (CAF)",
    "diagnosis": "medical records",
    "medical": "medical records",
    "medical_history": "medical records",
    "medication": "medical records",
    "exam_results": "exam results",
    "grades": "exam results",
    "opinion": "anyone's opinion",
    "comments": "anyone's opinion",
    "concern_details": "the substance of a concern",
    "details": "free-text details",
}

TOP_LEVEL = {
    "record_id", "forename", "middle_names", "surname", "known_as", "previous_surnames", "date_of_birth",
    "sex", "nhs_number", "address", "education", "gp", "carers", "involvements", "concerns", "shielding",
    "retention_consent_to_25",
}  # fmt: skip
NESTED = {
    "address": {"line1", "line2", "town", "postcode"},
    "education": {"institution", "contact"},
    "gp": {"practice", "contact"},
    "shielding": {"reason", "shielded_by", "shielded_on"},
    "carers": {"name", "relationship", "contact"},
    "involvements": {
        "practitioner", "organisation", "role", "contact", "service_type", "start_date", "end_date",
        "sensitive_basis", "override_reason",
    },
    "concerns": {"raised_by", "contact", "raised_on"},
}  # fmt: skip

_NAME = re.compile(r"^[^\W\d_]+(?:[ '’\-.]+[^\W\d_]+)*\.?$")
# Control characters, and the invisible format characters that reorder or hide text (U+202E makes a
# contact read backwards), are refused in every text field; a lone surrogate cannot be stored at all.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_PREVIOUS_SURNAMES_TEXT = 400  # the stored column (node/storage/tables.py), ";"-joined
_RECORD_ID = re.compile(r"^[A-Za-z0-9_\-/.]{1,64}$")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, field: str, reason: str) -> None:
        self.items.append(FieldError(field, reason))


def _key_error(field: str, key: str, errors: _Errors) -> None:
    what = FORBIDDEN.get(key.lower())
    if what is not None:
        errors.add(field, f"not allowed — a record may not hold {what}")
    else:
        errors.add(field, "unknown field")


def _text(value: Any, field: str, errors: _Errors, *, required: bool, limit: int = MAX_TEXT) -> str:
    if value is None or value == "":
        if required:
            errors.add(field, "required")
        return ""
    if not isinstance(value, str):
        errors.add(field, f"must be text, not {type(value).__name__}")
        return ""
    text, problem = _checked_text(value, limit)
    if problem is not None:
        errors.add(field, problem)
        return ""
    if not text and required:
        errors.add(field, "required (only spaces were given)")
    return text


# The checks of one text value and of one name are pure functions of the value, cached because the same
# values (towns, services, roles, given names) recur throughout a council's export.
@functools.lru_cache(maxsize=16384)
def _checked_text(value: str, limit: int) -> tuple[str, str | None]:
    """`value` stripped, and why it cannot be a text field of at most `limit` characters (None: it can)."""
    text = value.strip()
    if len(text) > limit:
        return "", f"too long ({len(text)} characters; at most {limit})"
    if _SURROGATE.search(text):
        return "", "not valid Unicode text (a lone surrogate)"
    if _CONTROL.search(text):
        return "", "contains control or invisible formatting characters"
    return text, None


def _name(value: Any, field: str, errors: _Errors, *, required: bool) -> str:
    text = _text(value, field, errors, required=required, limit=MAX_NAME)
    if not text:
        return ""
    name = _spaced_name(text)
    if name is None:
        errors.add(field, "not a name: use letters, spaces, apostrophes, hyphens and full stops")
        return ""
    return name


@functools.lru_cache(maxsize=16384)
def _spaced_name(text: str) -> str | None:
    """The name with its spaces collapsed, or None when `text` is not a name."""
    # A name must keep a letter once folded for matching (U+02BC alone is a "letter" that folds away).
    if not _NAME.match(text) or not normalise_name(text):
        return None
    return " ".join(text.split())


def _birth_date(value: Any, errors: _Errors, today: dt.date) -> dt.date | None:
    """The date of birth; one written with day and month the wrong way round (2010-29-11), and so invalid
    as written, is read as the only date it can mean, as a search reads it (federation.identity.BirthDate)."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            dt.date.fromisoformat(value.strip())
        except ValueError:
            try:
                born = BirthDate.parse(value)
            except InvalidInput:
                born = None
            if born is not None and born.swapped and born.date is not None:
                value = born.date.isoformat()
    # Not required: a record may arrive before the date is known; it then cannot age out (disclosure.py).
    return _date(value, "date_of_birth", errors, required=False, today=today)


def _date(
    value: Any, field: str, errors: _Errors, *, required: bool, today: dt.date | None
) -> dt.date | None:
    """A date written exactly YYYY-MM-DD (not an ISO week date or 20260110); not after `today` if given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(field, "required")
        return None
    if not isinstance(value, str):
        errors.add(field, "must be a date YYYY-MM-DD")
        return None
    shown = _SURROGATE.sub("?", value[:20])
    if not _ISO_DATE.match(value.strip()):
        errors.add(field, f"not a real date in the form YYYY-MM-DD: {shown!r}")
        return None
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        errors.add(field, f"not a real date in the form YYYY-MM-DD: {shown!r}")
        return None
    if today is not None and day > today:
        errors.add(field, f"in the future ({day.isoformat()})")
        return None
    return day


def _bool(value: Any, field: str, errors: _Errors) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "false", "no", "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    errors.add(field, "must be true or false")
    return False


def _object(raw: Mapping[str, Any], name: str, errors: _Errors) -> Mapping[str, Any] | None:
    value = raw.get(name)
    if value == {} and name == "shielding":
        # An empty shielding object is a shielding with no reason: refuse it rather than import unshielded.
        errors.add(name, "empty: give reason, shielded_by and shielded_on, or leave shielding out")
        return None
    if value is None or value == {}:
        return None
    if not isinstance(value, Mapping):
        errors.add(name, "must be an object")
        return None
    for key in value:
        if key not in NESTED[name]:
            _key_error(f"{name}.{key}", str(key), errors)
    return value


def _list(raw: Mapping[str, Any], name: str, errors: _Errors) -> list[Mapping[str, Any]]:
    value = raw.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(name, "must be a list")
        return []
    if len(value) > MAX_LIST:
        errors.add(name, f"too many items ({len(value)}; at most {MAX_LIST})")
        return []
    items: list[Mapping[str, Any]] = []
    for index, item in enumerate(value, start=1):
        if not isinstance(item, Mapping):
            errors.add(f"{name}[{index}]", "must be an object")
            continue
        for key in item:
            if key not in NESTED[name]:
                _key_error(f"{name}[{index}].{key}", str(key), errors)
        items.append(item)
    return items


def _involvement(
    item: Mapping[str, Any], field: str, errors: _Errors, today: dt.date, born: dt.date | None = None
) -> Involvement | None:
    before = len(errors.items)
    raw_type = item.get("service_type")
    service: ServiceType | None = None
    try:
        service = ServiceType(str(raw_type).strip())
    except ValueError:
        errors.add(f"{field}.service_type", f"unknown service type {str(raw_type)[:40]!r}")
    start = _date(item.get("start_date"), f"{field}.start_date", errors, required=True, today=today)
    if start is not None and born is not None and start < born:
        errors.add(f"{field}.start_date", "before the date of birth")
    # An end date may be in the future (a planned end).
    end = _date(item.get("end_date"), f"{field}.end_date", errors, required=False, today=None)
    if start and end and end < start:
        errors.add(f"{field}.end_date", "before start_date")
    basis: SensitiveBasis | None = None
    raw_basis = item.get("sensitive_basis")
    if raw_basis not in (None, ""):
        try:
            basis = SensitiveBasis(str(raw_basis).strip())
        except ValueError:
            errors.add(f"{field}.sensitive_basis", "must be 'consent' or 'override'")
    reason = _text(item.get("override_reason"), f"{field}.override_reason", errors, required=False)
    if service is not None and service.sensitive and basis is None and raw_basis in (None, ""):
        errors.add(
            f"{field}.sensitive_basis",
            f"{service.value} is a sensitive service: "
            "record the child's consent or an override with a reason",
        )
    if basis is SensitiveBasis.OVERRIDE and not reason:
        errors.add(f"{field}.override_reason", "an override needs a recorded reason")
    practitioner = _name(item.get("practitioner"), f"{field}.practitioner", errors, required=True)
    organisation = _text(item.get("organisation"), f"{field}.organisation", errors, required=True)
    role = _text(item.get("role"), f"{field}.role", errors, required=True, limit=MAX_NAME)
    contact = _text(item.get("contact"), f"{field}.contact", errors, required=True)
    if len(errors.items) > before or service is None or start is None:
        return None
    return Involvement(
        practitioner=practitioner,
        organisation=organisation,
        role=role,
        contact=contact,
        service_type=service,
        start_date=start,
        end_date=end,
        sensitive_basis=basis if service.sensitive else None,
        override_reason=reason if basis is SensitiveBasis.OVERRIDE else "",
    )


def validate_involvement(
    raw: Mapping[str, Any], today: dt.date, born: dt.date | None = None
) -> Involvement | list[FieldError]:
    """One involvement as an import row's `involvements` item (the portal's "record my involvement")."""
    errors = _Errors()
    for key in raw:
        if key not in NESTED["involvements"]:
            _key_error(f"involvement.{key}", str(key), errors)
    involvement = _involvement(raw, "involvement", errors, today, born)
    return involvement if involvement is not None and not errors.items else errors.items


def validate_record(raw: Mapping[str, Any], today: dt.date) -> ChildRecord | list[FieldError]:
    """A ChildRecord when `raw` follows docs/import-format.md, otherwise every error found."""
    errors = _Errors()
    for key in raw:
        if key not in TOP_LEVEL:
            _key_error(str(key), str(key), errors)

    record_id = _text(raw.get("record_id"), "record_id", errors, required=True, limit=64)
    if record_id and not _RECORD_ID.match(record_id):
        errors.add("record_id", "use letters, digits, '-', '_', '/' or '.'")
    # A newborn may not be named yet: no forename, or a placeholder ("Baby"), which matching treats as none.
    forename = _name(raw.get("forename"), "forename", errors, required=False)
    # Nor is a surname required (a foundling, a child known by one name), but a record needs one of them.
    surname = _name(raw.get("surname"), "surname", errors, required=False)
    if not forename and not surname and not any(e.field in ("forename", "surname") for e in errors.items):
        errors.add("surname", "required when there is no forename (a record needs at least one name)")
    middle = _name(raw.get("middle_names"), "middle_names", errors, required=False)
    known_as = _name(raw.get("known_as"), "known_as", errors, required=False)
    previous_raw = raw.get("previous_surnames") or []
    if isinstance(previous_raw, str):
        previous_raw = [p for p in previous_raw.split(";") if p.strip()]
    previous: list[str] = []
    if not isinstance(previous_raw, list):
        errors.add("previous_surnames", "must be a list of names")
    elif len(previous_raw) > MAX_LIST:
        errors.add("previous_surnames", f"too many names ({len(previous_raw)}; at most {MAX_LIST})")
    else:
        for i, p in enumerate(previous_raw, start=1):
            previous.append(_name(p, f"previous_surnames[{i}]", errors, required=True))
        joined = len(";".join(previous))
        if joined > MAX_PREVIOUS_SURNAMES_TEXT:
            errors.add(
                "previous_surnames",
                f"too long altogether ({joined} characters; at most {MAX_PREVIOUS_SURNAMES_TEXT})",
            )

    dob = _birth_date(raw.get("date_of_birth"), errors, today)
    if dob and (today.year - dob.year) > MAX_AGE_YEARS:
        errors.add("date_of_birth", f"more than {MAX_AGE_YEARS} years ago ({dob.isoformat()})")
        dob = None
    sex: Sex | None = None
    try:
        sex = Sex(str(raw.get("sex", "")).strip().upper())
    except ValueError:
        errors.add("sex", "must be F, M or U")

    nhs = ""
    raw_nhs = raw.get("nhs_number")
    if raw_nhs not in (None, ""):
        if (
            isinstance(raw_nhs, bool)
            or not isinstance(raw_nhs, str | int)
            or (isinstance(raw_nhs, int) and not 0 <= raw_nhs < 10**10)
            or (isinstance(raw_nhs, str) and len(raw_nhs) > 20)
            or not valid_nhs_number(str(raw_nhs))
        ):
            errors.add("nhs_number", "not a valid NHS number (10 digits with a correct check digit)")
        else:
            nhs = normalise_nhs_number(str(raw_nhs))

    address: Address | None = None
    raw_address = _object(raw, "address", errors)
    if raw_address is None:
        errors.add("address", "required")
    else:
        line1 = _text(raw_address.get("line1"), "address.line1", errors, required=True)
        # No postcode is lawful (no fixed abode, an address abroad); matching then uses other details.
        postcode_raw = _text(
            raw_address.get("postcode"), "address.postcode", errors, required=False, limit=10
        )
        postcode = ""
        if postcode_raw:
            try:
                postcode = normalise_postcode(postcode_raw)
            except InvalidInput:
                errors.add("address.postcode", f"not a UK postcode: {postcode_raw!r}")
        address = Address(
            line1=line1,
            line2=_text(raw_address.get("line2"), "address.line2", errors, required=False),
            town=_text(raw_address.get("town"), "address.town", errors, required=False, limit=MAX_NAME),
            postcode=postcode,
        )

    education = None
    raw_education = _object(raw, "education", errors)
    if raw_education is not None:
        education = Education(
            institution=_text(
                raw_education.get("institution"), "education.institution", errors, required=True
            ),
            contact=_text(raw_education.get("contact"), "education.contact", errors, required=False),
        )
    gp = None
    raw_gp = _object(raw, "gp", errors)
    if raw_gp is not None:
        gp = GeneralPractice(
            practice=_text(raw_gp.get("practice"), "gp.practice", errors, required=True),
            contact=_text(raw_gp.get("contact"), "gp.contact", errors, required=False),
        )
    shielding = None
    raw_shielding = _object(raw, "shielding", errors)
    if raw_shielding is not None:
        shielded_on = _date(
            raw_shielding.get("shielded_on"), "shielding.shielded_on", errors, required=True, today=today
        )
        shielding = Shielding(
            reason=_text(raw_shielding.get("reason"), "shielding.reason", errors, required=True),
            shielded_by=_name(
                raw_shielding.get("shielded_by"), "shielding.shielded_by", errors, required=True
            ),
            shielded_on=shielded_on or today,
        )

    carers = tuple(
        Carer(
            name=_name(c.get("name"), f"carers[{i}].name", errors, required=True),
            relationship=_text(
                c.get("relationship"), f"carers[{i}].relationship", errors, required=True, limit=MAX_NAME
            ),
            contact=_text(c.get("contact"), f"carers[{i}].contact", errors, required=False),
        )
        for i, c in enumerate(_list(raw, "carers", errors), start=1)
    )
    involvements = tuple(
        inv
        for i, item in enumerate(_list(raw, "involvements", errors), start=1)
        if (inv := _involvement(item, f"involvements[{i}]", errors, today, dob)) is not None
    )
    concerns = tuple(
        CauseForConcern(
            raised_by=_name(c.get("raised_by"), f"concerns[{i}].raised_by", errors, required=True),
            contact=_text(c.get("contact"), f"concerns[{i}].contact", errors, required=True),
            raised_on=_date(
                c.get("raised_on"), f"concerns[{i}].raised_on", errors, required=True, today=today
            )
            or today,
        )
        for i, c in enumerate(_list(raw, "concerns", errors), start=1)
    )
    consent_25 = _bool(raw.get("retention_consent_to_25"), "retention_consent_to_25", errors)

    if errors.items or sex is None or address is None:
        return errors.items or [FieldError("record", "incomplete")]
    return ChildRecord(
        record_id=RecordId(record_id),
        forename=forename,
        surname=surname,
        date_of_birth=dob,
        sex=sex,
        address=address,
        middle_names=middle,
        known_as=known_as,
        nhs_number=nhs,
        education=education,
        gp=gp,
        carers=carers,
        involvements=involvements,
        concerns=concerns,
        shielding=shielding,
        retention_consent_to_25=consent_25,
        previous_surnames=tuple(previous),
    )


def record_to_row(record: ChildRecord) -> dict[str, Any]:
    """A record as an import row (the inverse of validate_record), keys in the documented order: what the
    synthetic exports write, and what the records API changes and validates again."""
    address = record.address
    education = record.education
    gp = record.gp
    shielding = record.shielding
    return {
        "record_id": record.record_id,
        "forename": record.forename,
        "middle_names": record.middle_names,
        "surname": record.surname,
        "known_as": record.known_as,
        "previous_surnames": list(record.previous_surnames),
        "date_of_birth": record.date_of_birth.isoformat() if record.date_of_birth else "",
        "sex": record.sex.value,
        "nhs_number": record.nhs_number,
        "address": {
            "line1": address.line1,
            "line2": address.line2,
            "town": address.town,
            "postcode": address.postcode,
        },
        "education": None
        if education is None
        else {"institution": education.institution, "contact": education.contact},
        "gp": None if gp is None else {"practice": gp.practice, "contact": gp.contact},
        "carers": [
            {"name": c.name, "relationship": c.relationship, "contact": c.contact} for c in record.carers
        ],
        "involvements": [
            {
                "practitioner": i.practitioner,
                "organisation": i.organisation,
                "role": i.role,
                "contact": i.contact,
                "service_type": i.service_type.value,
                "start_date": i.start_date.isoformat(),
                "end_date": None if i.end_date is None else i.end_date.isoformat(),
                "sensitive_basis": None if i.sensitive_basis is None else i.sensitive_basis.value,
                "override_reason": i.override_reason,
            }
            for i in record.involvements
        ],
        "concerns": [
            {"raised_by": c.raised_by, "contact": c.contact, "raised_on": c.raised_on.isoformat()}
            for c in record.concerns
        ],
        "shielding": None
        if shielding is None
        else {
            "reason": shielding.reason,
            "shielded_by": shielding.shielded_by,
            "shielded_on": shielding.shielded_on.isoformat(),
        },
        "retention_consent_to_25": record.retention_consent_to_25,
    }
