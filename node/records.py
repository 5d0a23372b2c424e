"""The child record a council may hold (Children Act 2004 s12(4)), as frozen domain objects.

There is deliberately no field for case notes, assessments, medical records, exam results or opinion:
the model has nowhere to put them, and the importer rejects any column that tries.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any, NewType

RecordId = NewType("RecordId", str)
"""The council's own identifier for a child record (unique within one council)."""

CouncilCode = NewType("CouncilCode", str)
"""ONS code of an upper-tier local authority, e.g. E09000033 (Westminster)."""


class _Pickled:
    """Pickles a slotted dataclass as its constructor call: an import sends hundreds of thousands of records
    between processes, and the generic dataclass state costs several times more to load."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        names: tuple[str, ...] = self.__slots__  # the subclass's fields
        return type(self), tuple(getattr(self, name) for name in names)


class Sex(enum.StrEnum):
    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "U"


class ServiceType(enum.StrEnum):
    """Services that can be recorded as working with a child. The last five are sensitive services."""

    SOCIAL_CARE = "social_care"
    EARLY_HELP = "early_help"
    HEALTH_VISITING = "health_visiting"
    SCHOOL_NURSING = "school_nursing"
    EDUCATION_WELFARE = "education_welfare"
    SPECIAL_EDUCATIONAL_NEEDS = "special_educational_needs"
    YOUTH_SERVICE = "youth_service"
    YOUTH_JUSTICE = "youth_justice"
    PAEDIATRICS = "paediatrics"
    SPEECH_AND_LANGUAGE = "speech_and_language"
    CAMHS_TIER1 = "camhs_tier1"
    SEXUAL_HEALTH = "sexual_health"
    CAMHS_TIER2 = "camhs_tier2"
    CAMHS_TIER3 = "camhs_tier3"
    CAMHS_TIER4 = "camhs_tier4"
    SUBSTANCE_MISUSE = "substance_misuse"

    @property
    def sensitive(self) -> bool:
        """Sexual health, tier 2-4 CAMHS and substance misuse are sensitive services (BRIEF.md)."""
        return self in SENSITIVE_SERVICES


SENSITIVE_SERVICES = frozenset(
    {
        ServiceType.SEXUAL_HEALTH,
        ServiceType.CAMHS_TIER2,
        ServiceType.CAMHS_TIER3,
        ServiceType.CAMHS_TIER4,
        ServiceType.SUBSTANCE_MISUSE,
    }
)


class SensitiveBasis(enum.StrEnum):
    """Why a sensitive service may be recorded at all."""

    CONSENT = "consent"  # the child's informed, explicit consent
    OVERRIDE = "override"  # risk of significant harm; a reason must be recorded


@dataclass(frozen=True, slots=True)
class Address(_Pickled):
    line1: str
    postcode: str
    line2: str = ""
    town: str = ""


@dataclass(frozen=True, slots=True)
class Carer(_Pickled):
    """A person with parental responsibility for, or care of, the child."""

    name: str
    relationship: str
    contact: str = ""


@dataclass(frozen=True, slots=True)
class Education(_Pickled):
    institution: str
    contact: str = ""


@dataclass(frozen=True, slots=True)
class GeneralPractice(_Pickled):
    practice: str
    contact: str = ""


@dataclass(frozen=True, slots=True)
class Involvement(_Pickled):
    """A practitioner or service working with the child."""

    practitioner: str
    organisation: str
    role: str
    contact: str
    service_type: ServiceType
    start_date: dt.date
    end_date: dt.date | None = None
    sensitive_basis: SensitiveBasis | None = None
    override_reason: str = ""

    @property
    def sensitive(self) -> bool:
        return self.service_type.sensitive

    def active_on(self, day: dt.date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


@dataclass(frozen=True, slots=True)
class CauseForConcern(_Pickled):
    """Only the existence of a concern, who raised it and how to contact them; never its substance."""

    raised_by: str
    contact: str
    raised_on: dt.date


@dataclass(frozen=True, slots=True)
class Shielding(_Pickled):
    reason: str
    shielded_by: str
    shielded_on: dt.date


@dataclass(frozen=True, slots=True)
class ChildRecord(_Pickled):
    record_id: RecordId
    forename: str
    surname: str
    date_of_birth: dt.date | None  # None until the records team learns it (docs/import-format.md)
    sex: Sex
    address: Address
    middle_names: str = ""
    known_as: str = ""
    nhs_number: str = ""
    education: Education | None = None
    gp: GeneralPractice | None = None
    carers: tuple[Carer, ...] = ()
    involvements: tuple[Involvement, ...] = ()
    concerns: tuple[CauseForConcern, ...] = ()
    shielding: Shielding | None = None
    retention_consent_to_25: bool = False
    previous_surnames: tuple[str, ...] = field(default=())
    # The day the records team's export stopped listing the child (`import --mode full`): the record is kept,
    # with its audit trail, but no longer disclosed. Importing the child again clears it.
    ended_on: dt.date | None = None

    @property
    def shielded(self) -> bool:
        return self.shielding is not None
