"""Practitioners and the services they work in, for one council, and the involvements they record.

Each service type has a role, an organisation, the ages it works with and a relative frequency, so that
health visitors see babies, youth justice officers see teenagers, and sensitive services stay rare.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from whoelse.harness.synth.councils import Council
from whoelse.harness.synth.names import NamePools, ascii_fold
from whoelse.harness.synth.places import Locality
from whoelse.harness.synth.sampling import SynthRandom
from whoelse.node.records import Involvement, SensitiveBasis, ServiceType


@dataclass(frozen=True, slots=True)
class Service:
    service_type: ServiceType
    role: str
    organisation: str  # formatted with {council} and {area}
    min_age: int
    max_age: int
    weight: float  # relative frequency among involvements with children of eligible age


SERVICES: tuple[Service, ...] = (
    Service(ServiceType.SOCIAL_CARE, "Social worker", "{council} Children's Social Care", 0, 17, 10),
    Service(ServiceType.EARLY_HELP, "Early help practitioner", "{council} Early Help Service", 0, 17, 12),
    Service(ServiceType.HEALTH_VISITING, "Health visitor", "{area} Community Health NHS Trust", 0, 4, 30),
    Service(ServiceType.SCHOOL_NURSING, "School nurse", "{area} Community Health NHS Trust", 5, 17, 12),
    Service(
        ServiceType.EDUCATION_WELFARE,
        "Education welfare officer",
        "{council} Education Welfare Service",
        5,
        16,
        6,
    ),
    Service(ServiceType.SPECIAL_EDUCATIONAL_NEEDS, "SEND caseworker", "{council} SEND Service", 2, 17, 8),
    Service(ServiceType.YOUTH_SERVICE, "Youth worker", "{council} Youth Service", 11, 17, 6),
    Service(ServiceType.YOUTH_JUSTICE, "Youth justice officer", "{council} Youth Justice Service", 10, 17, 2),
    Service(
        ServiceType.PAEDIATRICS, "Consultant paediatrician", "{area} Hospitals NHS Foundation Trust", 0, 17, 5
    ),
    Service(
        ServiceType.SPEECH_AND_LANGUAGE,
        "Speech and language therapist",
        "{area} Community Health NHS Trust",
        1,
        11,
        6,
    ),
    Service(
        ServiceType.CAMHS_TIER1,
        "Mental health support team practitioner",
        "{area} Schools Mental Health Team",
        5,
        17,
        5,
    ),
    Service(
        ServiceType.SEXUAL_HEALTH,
        "Sexual health nurse",
        "{area} Young People's Sexual Health Service",
        13,
        17,
        1.5,
    ),
    Service(ServiceType.CAMHS_TIER2, "Primary mental health worker", "{area} CAMHS", 5, 17, 2.5),
    Service(ServiceType.CAMHS_TIER3, "Clinical psychologist", "{area} CAMHS", 5, 17, 1.5),
    Service(
        ServiceType.CAMHS_TIER4, "Adolescent inpatient nurse", "{area} Adolescent Inpatient Unit", 12, 17, 0.3
    ),
    Service(
        ServiceType.SUBSTANCE_MISUSE,
        "Substance misuse worker",
        "{council} Young People's Substance Misuse Service",
        12,
        17,
        1,
    ),
)

# Involvements per child: most children have none, a few many (cumulative weights for 0, 1, 2, 3, 4).
INVOLVEMENT_COUNTS = (0, 1, 2, 3, 4)
INVOLVEMENT_CUM_WEIGHTS = (0.55, 0.85, 0.95, 0.99, 1.0)
CASELOAD = 25  # children per practitioner, to size each service's staff
OVERRIDE_SHARE = 0.1  # sensitive involvements recorded under a harm override rather than consent
OVERRIDE_REASONS = (
    "Risk of significant harm; recording authorised by the designated safeguarding lead",
    "Section 47 enquiry under way; recording authorised by the service manager",
    "Child unable to consent and at risk of significant harm; authorised by the team manager",
)
DEMO_ROLES = (
    ServiceType.SOCIAL_CARE,
    ServiceType.HEALTH_VISITING,
    ServiceType.SCHOOL_NURSING,
    ServiceType.EDUCATION_WELFARE,
    ServiceType.EARLY_HELP,
    ServiceType.YOUTH_SERVICE,
)


@dataclass(frozen=True, slots=True)
class Practitioner:
    """A person working in a service. The first few per council become demo accounts (practitioners.jsonl)."""

    name: str
    role: str
    organisation: str
    contact: str
    username: str
    service_type: ServiceType
    council: str


@dataclass(frozen=True, slots=True)
class Staff:
    """One council's practitioners, by service, plus its records team (who shield records)."""

    by_service: dict[ServiceType, tuple[Practitioner, ...]]
    demo: tuple[Practitioner, ...]
    records_officers: tuple[str, ...]


def build_staff(
    council: Council, locality: Locality, children: int, pools: NamePools, rng: SynthRandom
) -> Staff:
    """Enough practitioners per service for a realistic caseload, with unique e-mail-like usernames."""
    total_weight = sum(s.weight for s in SERVICES)
    expected_involvements = children * 0.66  # mean of the involvement-count distribution above
    domain = ascii_fold(council.short_name).lower().replace(" ", "-") + ".whoelse.test"
    taken: set[str] = set()
    by_service: dict[ServiceType, tuple[Practitioner, ...]] = {}
    for service in SERVICES:
        size = max(2, round(expected_involvements * service.weight / total_weight / CASELOAD))
        staff: list[Practitioner] = []
        for _ in range(size):
            culture = pools.culture(rng)
            forename = pools.forename(rng, culture, female=rng.random() < 0.75)
            surname = pools.surname(rng, culture)
            name = f"{forename} {surname}"
            base = ".".join(
                ascii_fold(part).lower().replace(" ", "").replace("-", "") for part in (forename, surname)
            )
            username, n = f"{base}@{domain}", 1
            while username in taken:
                n += 1
                username = f"{base}{n}@{domain}"
            taken.add(username)
            staff.append(
                Practitioner(
                    name=name,
                    role=service.role,
                    organisation=service.organisation.format(
                        council=council.short_name, area=council.short_name
                    ),
                    contact=locality.phone(rng),
                    username=username,
                    service_type=service.service_type,
                    council=council.code,
                )
            )
        by_service[service.service_type] = tuple(staff)
    demo = tuple(by_service[t][0] for t in DEMO_ROLES)
    officers = tuple(
        f"{pools.forename(rng, c, female=rng.random() < 0.6)} {pools.surname(rng, c)}"
        for c in (pools.culture(rng) for _ in range(3))
    )
    return Staff(by_service=by_service, demo=demo, records_officers=officers)


def eligible_services(age: int) -> tuple[tuple[Service, ...], tuple[float, ...]]:
    """Services that work with a child of this age, and their cumulative weights."""
    services = tuple(s for s in SERVICES if s.min_age <= age <= s.max_age)
    cumulative: list[float] = []
    total = 0.0
    for s in services:
        total += s.weight
        cumulative.append(total)
    return services, tuple(cumulative)


_ELIGIBLE = tuple(eligible_services(age) for age in range(18))


def involvements(
    staff: Staff, age: int, dob: dt.date, today: dt.date, rng: SynthRandom, count: int | None = None
) -> tuple[Involvement, ...]:
    """0-4 involvements (mostly 0-1) of services suited to the child's age, all dated on or before today."""
    if count is None:
        count = rng.pick(INVOLVEMENT_COUNTS, INVOLVEMENT_CUM_WEIGHTS)
    if count == 0:
        return ()
    services, cumulative = _ELIGIBLE[min(age, 17)]
    chosen: dict[ServiceType, Service] = {}
    for _ in range(count * 2):  # a child is rarely seen twice by the same service at once
        service = rng.pick(services, cumulative)
        chosen.setdefault(service.service_type, service)
        if len(chosen) == count:
            break
    earliest = max(dob, today - dt.timedelta(days=5 * 365))
    span = (today - earliest).days
    result = []
    for service_type in chosen:
        practitioner = rng.choice(staff.by_service[service_type])
        start = earliest + dt.timedelta(days=rng.randint(0, span))
        end: dt.date | None = None
        if rng.random() < 0.35 and start < today:
            end = start + dt.timedelta(days=rng.randint(1, (today - start).days))
        basis: SensitiveBasis | None = None
        reason = ""
        if service_type.sensitive:
            if rng.random() < OVERRIDE_SHARE:
                basis, reason = SensitiveBasis.OVERRIDE, rng.choice(OVERRIDE_REASONS)
            else:
                basis = SensitiveBasis.CONSENT
        result.append(
            Involvement(
                practitioner=practitioner.name,
                organisation=practitioner.organisation,
                role=practitioner.role,
                contact=practitioner.contact,
                service_type=service_type,
                start_date=start,
                end_date=end,
                sensitive_basis=basis,
                override_reason=reason,
            )
        )
    return tuple(result)
