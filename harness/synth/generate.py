"""Generate a synthetic population of children held by a set of councils, with the truth about who is who.

Families (siblings, twins) live at real postcodes of their council; about 4% of children are also known to a
neighbouring council — the family moved, or a service across the border works with the child — and that
second record differs the way real records do (typos, nicknames, swapped day and month, one part of a
double-barrelled surname, no NHS number, a new address). ``Population.people`` says which records are the
same child, for measuring matching. ``noise="today"`` draws 0-3 of those differences per second record;
``noise="realistic"`` draws several at once from documented rates (harness/synth/noise.py), the way real
records differ.

Deterministic: the same councils, seed, scale (or children per council), ``today`` and noise level give the
same records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from whoelse.federation.errors import InvalidInput
from whoelse.harness.synth.councils import Council, neighbours, resolve
from whoelse.harness.synth.names import CulturePool, NamePools, ascii_fold, name_pools
from whoelse.harness.synth.nhs_numbers import NhsNumberAllocator
from whoelse.harness.synth.noise import NOISE_LEVELS, Noise, TrueIdentity, realistic_copy
from whoelse.harness.synth.places import MOBILE, Locality, build_locality
from whoelse.harness.synth.postcodes import postcode_samples
from whoelse.harness.synth.sampling import SynthRandom, gc_paused
from whoelse.harness.synth.services import Practitioner, Staff, build_staff, involvements
from whoelse.harness.synth.variations import Difference, nickname, surname_one_part, swap_day_month, typo
from whoelse.node.records import (
    Address,
    Carer,
    CauseForConcern,
    ChildRecord,
    CouncilCode,
    Education,
    GeneralPractice,
    RecordId,
    ServiceType,
    Sex,
    Shielding,
)

CROSS_COUNCIL_SHARE = 0.04  # children also known to a neighbouring council
MAX_INCOMING_SHARE = 0.25  # a small council next to a big one must not become mostly copies
NEIGHBOURS_CONSIDERED = 3
FAMILY_SIZES = (1, 2, 3, 4, 5)
FAMILY_SIZE_CUM_WEIGHTS = (0.45, 0.80, 0.94, 0.99, 1.0)
TWIN_SHARE = 0.03  # of families with two or more children
DOUBLE_BARRELLED_SHARE = 0.05  # of families
SHIELDED_FAMILY_SHARE = 0.01
CONCERN_SHARE = 0.03
NHS_NUMBER_SHARE = 0.93  # the rest have no NHS number on the council's record
RETAINED_ADULT_SHARE = 0.004  # 18-24 year olds kept with consent to 25
OVER_AGE_SHARE = 0.002  # records past their retention date that should be archived
CONSENT_TO_25_AT_17 = 0.25
WHOLE_FAMILY_MOVE_SHARE = 0.7  # otherwise one child is served across the border
DIFFERENCE_COUNT_CUM_WEIGHTS = (0.15, 0.70, 0.95, 1.0)  # 0, 1, 2 or 3 differences on a second copy
SURNAME_ONE_PART_SHARE = 0.5  # of second copies of children with a double-barrelled surname
DIFFERENCE_WEIGHTS: dict[Difference, float] = {
    Difference.FORENAME_TYPO: 2,
    Difference.SURNAME_TYPO: 2,
    Difference.NICKNAME: 3,
    Difference.DOB_DAY_MONTH_SWAPPED: 1.5,
    Difference.SURNAME_ONE_PART: 1,
    Difference.NHS_NUMBER_MISSING: 1.5,
    Difference.MIDDLE_NAMES_MISSING: 1,
}
SHIELDING_REASONS = (
    "Disclosure of whereabouts would put the child at risk of harm",
    "Family living in a refuge",
    "Court order restricts disclosure of the child's whereabouts",
    "Child placed for adoption",
)
RELATIVE_CARERS = ("grandmother", "grandfather", "aunt", "foster carer", "special guardian")
YEAR = 365.2425


@dataclass(frozen=True, slots=True)
class RecordCopy:
    """One council's record of a real child; ``differences`` says how it departs from the first copy."""

    council: CouncilCode
    record_id: RecordId
    differences: tuple[Difference, ...] = ()


@dataclass(frozen=True, slots=True)
class TrueChild:
    """Ground truth for one real child: every record of them, their family, and their twin if any."""

    person_id: str
    family_id: str
    copies: tuple[RecordCopy, ...]
    twin_of: str | None = None


@dataclass(frozen=True, slots=True)
class Population:
    """Generated records per council (sorted by record id), the ground truth, and demo practitioners."""

    seed: int
    scale: float
    children_per_council: int | None
    today: dt.date
    councils: tuple[Council, ...]
    records: Mapping[CouncilCode, tuple[ChildRecord, ...]]
    people: tuple[TrueChild, ...]
    practitioners: Mapping[CouncilCode, tuple[Practitioner, ...]]
    noise: Noise = "today"

    @property
    def record_count(self) -> int:
        return sum(len(r) for r in self.records.values())


@dataclass(slots=True)
class _Family:
    family_id: str
    culture: CulturePool
    surname: str
    address: Address
    carers: tuple[Carer, ...]
    gp: GeneralPractice | None
    shielded: bool
    children: list[_Child] = field(default_factory=list)
    new_address: Address | None = None  # where the family moved to, once a move is planned


@dataclass(slots=True)
class _Child:
    index: int
    family: _Family
    forename: str
    middle_names: str
    surname: str
    known_as: str
    previous_surnames: tuple[str, ...]
    sex: Sex
    dob: dt.date
    nhs_number: str
    retention_consent_to_25: bool
    twin_of: int | None = None
    copies: list[RecordCopy] = field(default_factory=list)

    @property
    def person_id(self) -> str:
        return f"P{self.index:08d}"


@dataclass(slots=True)
class _Council:
    """Per-council working state: its random stream, places, staff and record id allocator."""

    council: Council
    rng: SynthRandom
    locality: Locality
    staff: Staff
    target: int
    native: int
    id_prefix: str
    id_numbers: list[int]
    records: list[ChildRecord] = field(default_factory=list)
    families: list[_Family] = field(default_factory=list)

    def next_record_id(self) -> RecordId:
        return RecordId(f"{self.id_prefix}-{self.id_numbers.pop()}")


def _age(dob: dt.date, today: dt.date) -> int:
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def _years_ago(today: dt.date, years: float) -> dt.date:
    return today - dt.timedelta(days=round(years * YEAR))


def _targets(
    councils: Sequence[Council], scale: float, children_per_council: int | None
) -> dict[CouncilCode, int]:
    if children_per_council is not None:
        if children_per_council < 1:
            raise InvalidInput(f"children per council must be at least 1, not {children_per_council}")
        return {c.code: children_per_council for c in councils}
    if not 0 < scale <= 1:
        raise InvalidInput(f"scale must be above 0 and at most 1, not {scale}")
    return {c.code: max(1, round(c.approx_children * scale)) for c in councils}


def _plan_moves(
    councils: Sequence[Council], targets: Mapping[CouncilCode, int], seed: int
) -> dict[CouncilCode, list[tuple[CouncilCode, int]]]:
    """How many children each council shares with each nearby council: {source: [(destination, count)]}."""
    rng = random.Random(f"{seed}:moves")
    incoming = dict.fromkeys(targets, 0)
    plan: dict[CouncilCode, list[tuple[CouncilCode, int]]] = {}
    for source in councils:
        nearby = neighbours(source.code, NEIGHBOURS_CONSIDERED, among=councils)
        counts: dict[CouncilCode, int] = {}
        for _ in range(round(targets[source.code] * CROSS_COUNCIL_SHARE) if nearby else 0):
            open_ = [c for c in nearby if incoming[c.code] + 1 <= targets[c.code] * MAX_INCOMING_SHARE]
            if not open_:
                break
            dest = rng.choices(open_, weights=[targets[c.code] for c in open_])[0]
            incoming[dest.code] += 1
            counts[dest.code] = counts.get(dest.code, 0) + 1
        plan[source.code] = sorted(counts.items())
    return plan


def _carers(
    pools: NamePools,
    rng: SynthRandom,
    family_surname: str,
    parents_surnames: tuple[str, str],
    culture: CulturePool,
) -> tuple[Carer, ...]:
    """Who has parental responsibility: two parents, one, or a relative or foster carer."""
    mother = Carer(
        f"{pools.forename(rng, culture, True)} {parents_surnames[0]}",
        "mother",
        MOBILE.format(rng.below(1000)),
    )
    father = Carer(
        f"{pools.forename(rng, culture, False)} {parents_surnames[1]}",
        "father",
        MOBILE.format(rng.below(1000)),
    )
    roll = rng.random()
    if roll < 0.60:
        return (mother, father)
    if roll < 0.87:
        return (mother,)
    if roll < 0.92:
        return (father,)
    relationship = rng.choice(RELATIVE_CARERS)
    surname = family_surname if relationship != "foster carer" else pools.surname(rng, pools.majority)
    female = relationship in ("grandmother", "aunt") or rng.random() < 0.7
    name = f"{pools.forename(rng, culture, female)} {surname}"
    return (Carer(name, relationship, MOBILE.format(rng.below(1000))),)


def _education(locality: Locality, age: int, rng: SynthRandom) -> Education | None:
    roll = rng.random()
    if age < 2:
        return None
    if age < 4:
        pool = locality.nurseries if roll < 0.6 else ()
    elif age < 11:
        pool = locality.primaries if roll < 0.97 else ()
    elif age < 16:
        pool = locality.secondaries if roll < 0.97 else ()
    elif age < 18:
        pool = locality.secondaries if roll < 0.6 else locality.colleges if roll < 0.9 else ()
    else:
        pool = locality.colleges if roll < 0.3 else ()
    return Education(rng.choice(pool), locality.phone(rng)) if pool else None


class _Generator:
    def __init__(
        self,
        councils: Sequence[Council],
        targets: Mapping[CouncilCode, int],
        seed: int,
        today: dt.date,
        noise: Noise,
    ):
        self.today = today
        self.noise = noise
        self.pools = name_pools()
        self.nhs = NhsNumberAllocator(seed)
        self.children: list[_Child] = []
        self.family_count = 0
        self.plan = _plan_moves(councils, targets, seed)
        incoming = dict.fromkeys(targets, 0)
        for moves in self.plan.values():
            for dest, count in moves:
                incoming[dest] += count
        samples = postcode_samples()
        self.councils: dict[CouncilCode, _Council] = {}
        for council in councils:
            rng = SynthRandom(f"{seed}:{council.code}")
            target = targets[council.code]
            locality = build_locality(
                council, samples[council.code], target, self.pools.majority.surnames, rng
            )
            staff = build_staff(council, locality, target, self.pools, rng)
            first = rng.randrange(1_000_000, 8_000_000)
            numbers = list(range(first, first + target))
            rng.shuffle(numbers)
            prefix = "".join(ch for ch in ascii_fold(council.short_name).upper() if ch.isalpha())[:3]
            self.councils[council.code] = _Council(
                council, rng, locality, staff, target, target - incoming[council.code], prefix, numbers
            )

    # -- native families -------------------------------------------------------------------------------

    def _family(self, home: _Council) -> _Family:
        rng, pools = home.rng, self.pools
        culture = pools.culture(rng)
        surname = pools.surname(rng, culture)
        parents_surnames = (surname, surname)
        if rng.random() < DOUBLE_BARRELLED_SHARE and "-" not in surname and " " not in surname:
            other = pools.surname(rng, culture)
            if other != surname and "-" not in other and " " not in other:
                parents_surnames = (surname, other)
                surname = f"{surname}-{other}"
        self.family_count += 1
        family = _Family(
            family_id=f"F{self.family_count:07d}",
            culture=culture,
            surname=surname,
            address=home.locality.address(rng),
            carers=_carers(pools, rng, surname, parents_surnames, culture),
            gp=GeneralPractice(rng.choice(home.locality.practices), home.locality.phone(rng))
            if rng.random() < 0.95
            else None,
            shielded=rng.random() < SHIELDED_FAMILY_SHARE,
        )
        home.families.append(family)
        return family

    def _dob(self, rng: SynthRandom, siblings: Sequence[_Child]) -> dt.date:
        today = self.today
        dob = today
        for _attempt in range(10):
            dob = today - dt.timedelta(days=rng.below(round(18 * YEAR)))
            if all(abs((dob - s.dob).days) >= 300 for s in siblings):
                break
        return dob

    def _child(self, family: _Family, rng: SynthRandom, dob: dt.date, consent: bool | None = None) -> _Child:
        pools = self.pools
        roll = rng.random()
        sex = Sex.FEMALE if roll < 0.49 else Sex.MALE if roll < 0.997 else Sex.UNKNOWN
        female = sex is Sex.FEMALE or (sex is Sex.UNKNOWN and rng.random() < 0.5)
        taken = {c.forename for c in family.children}
        forename = pools.forename(rng, family.culture, female)
        for _attempt in range(5):  # siblings do not share a forename
            if forename not in taken:
                break
            forename = pools.forename(rng, family.culture, female)
        roll = rng.random()
        middle = ""
        if roll < 0.65:
            middle = pools.forename(rng, family.culture, female)
            if roll < 0.10:
                middle = f"{middle} {pools.forename(rng, family.culture, female)}"
        short = nickname(forename, rng) if rng.random() < 0.04 else None
        age = _age(dob, self.today)
        if consent is None:
            consent = age >= 17 and rng.random() < CONSENT_TO_25_AT_17
        index = len(self.children)
        child = _Child(
            index=index,
            family=family,
            forename=forename,
            middle_names=middle,
            surname=family.surname,
            known_as=short or "",
            previous_surnames=(pools.surname(rng, family.culture),) if rng.random() < 0.02 else (),
            sex=sex,
            dob=dob,
            nhs_number=self.nhs.number(index) if rng.random() < NHS_NUMBER_SHARE else "",
            retention_consent_to_25=consent,
        )
        self.children.append(child)
        family.children.append(child)
        return child

    def _natives(self, home: _Council) -> None:
        rng, today = home.rng, self.today
        remaining = home.native
        while remaining > 0:
            family = self._family(home)
            roll = rng.random()
            if roll < RETAINED_ADULT_SHARE + OVER_AGE_SHARE:
                # A young adult: kept with consent to 25, or past retention (should be archived).
                if roll < RETAINED_ADULT_SHARE:
                    dob, consent = _years_ago(today, rng.uniform(18.01, 24.99)), True
                elif rng.random() < 0.5:
                    dob, consent = _years_ago(today, rng.uniform(18.01, 24.99)), False
                else:
                    dob, consent = _years_ago(today, rng.uniform(25.01, 25.99)), True
                child = self._child(family, rng, dob, consent)
                self._record(home, child, family.address, family.gp, ())
                remaining -= 1
                continue
            size = min(remaining, rng.pick(FAMILY_SIZES, FAMILY_SIZE_CUM_WEIGHTS))
            twins = size >= 2 and rng.random() < TWIN_SHARE
            for i in range(size):
                if twins and i == 1:
                    first = family.children[0]
                    child = self._child(family, rng, first.dob)
                    child.twin_of, first.twin_of = first.index, child.index
                else:
                    child = self._child(family, rng, self._dob(rng, family.children))
                self._record(home, child, family.address, family.gp, ())
            remaining -= size

    # -- records ---------------------------------------------------------------------------------------

    def _record(
        self,
        holder: _Council,
        child: _Child,
        address: Address,
        gp: GeneralPractice | None,
        differences: tuple[Difference, ...],
        *,
        forename: str | None = None,
        surname: str | None = None,
        middle_names: str | None = None,
        dob: dt.date | None = None,
        nhs_number: str | None = None,
        sex: Sex | None = None,
        previous_surnames: tuple[str, ...] | None = None,
    ) -> None:
        rng, today = holder.rng, self.today
        dob = child.dob if dob is None else dob
        age = _age(dob, today)
        involved = involvements(holder.staff, age, dob, today, rng)
        concerns: tuple[CauseForConcern, ...] = ()
        if rng.random() < CONCERN_SHARE:
            if involved:
                inv = rng.choice(involved)
                last = inv.end_date or today
                raised = inv.start_date + dt.timedelta(days=rng.randint(0, (last - inv.start_date).days))
                concerns = (CauseForConcern(inv.practitioner, inv.contact, raised),)
            else:
                worker = rng.choice(holder.staff.by_service[ServiceType.SOCIAL_CARE])
                earliest = max(dob, today - dt.timedelta(days=730))
                raised = earliest + dt.timedelta(days=rng.randint(0, (today - earliest).days))
                concerns = (CauseForConcern(worker.name, worker.contact, raised),)
        shielding = None
        if child.family.shielded:
            earliest = max(dob, today - dt.timedelta(days=3 * 365))
            shielding = Shielding(
                reason=rng.choice(SHIELDING_REASONS),
                shielded_by=rng.choice(holder.staff.records_officers),
                shielded_on=earliest + dt.timedelta(days=rng.randint(0, (today - earliest).days)),
            )
        record_id = holder.next_record_id()
        holder.records.append(
            ChildRecord(
                record_id=record_id,
                forename=child.forename if forename is None else forename,
                surname=child.surname if surname is None else surname,
                date_of_birth=dob,
                sex=child.sex if sex is None else sex,
                address=address,
                middle_names=child.middle_names if middle_names is None else middle_names,
                known_as=child.known_as,
                nhs_number=child.nhs_number if nhs_number is None else nhs_number,
                education=_education(holder.locality, age, rng),
                gp=gp,
                carers=child.family.carers,
                involvements=involved,
                concerns=concerns,
                shielding=shielding,
                retention_consent_to_25=child.retention_consent_to_25,
                previous_surnames=child.previous_surnames if previous_surnames is None else previous_surnames,
            )
        )
        child.copies.append(RecordCopy(holder.council.code, record_id, differences))

    def _second_copy(self, child: _Child, dest: _Council, moved: bool) -> None:
        """Record the child again at ``dest``, with realistic differences from the home record."""
        rng = dest.rng
        family = child.family
        gp: GeneralPractice | None
        if moved:
            if family.new_address is None:
                family.new_address = dest.locality.address(rng)
            address = family.new_address
            gp = GeneralPractice(rng.choice(dest.locality.practices), dest.locality.phone(rng))
        else:
            address, gp = family.address, family.gp
        if self.noise == "realistic":
            self._realistic_copy(child, dest, address, gp, moved)
            return
        wanted = rng.pick((0, 1, 2, 3), DIFFERENCE_COUNT_CUM_WEIGHTS)
        kinds = list(DIFFERENCE_WEIGHTS)
        weights = [DIFFERENCE_WEIGHTS[k] for k in kinds]
        forename = surname = middle_names = nhs_number = None
        dob: dt.date | None = None
        applied: list[Difference] = []
        if rng.random() < SURNAME_ONE_PART_SHARE:
            # Councils very often record only one half of a double-barrelled surname.
            surname = surname_one_part(child.surname, rng)
            if surname is not None:
                applied.append(Difference.SURNAME_ONE_PART)
                wanted += 1
        while len(applied) < wanted and kinds:
            kind = rng.choices(kinds, weights=weights)[0]
            i = kinds.index(kind)
            del kinds[i], weights[i]
            before = (forename, surname, middle_names, nhs_number, dob)
            if kind is Difference.FORENAME_TYPO and forename is None:
                forename = typo(child.forename, rng)
            elif kind is Difference.NICKNAME and forename is None:
                forename = nickname(child.forename, rng)
            elif kind is Difference.SURNAME_TYPO and surname is None:
                surname = typo(child.surname, rng)
            elif kind is Difference.SURNAME_ONE_PART and surname is None:
                surname = surname_one_part(child.surname, rng)
            elif kind is Difference.DOB_DAY_MONTH_SWAPPED:
                dob = swap_day_month(child.dob, self.today)
            elif kind is Difference.NHS_NUMBER_MISSING and child.nhs_number:
                nhs_number = ""
            elif kind is Difference.MIDDLE_NAMES_MISSING and child.middle_names:
                middle_names = ""
            if (forename, surname, middle_names, nhs_number, dob) != before:
                applied.append(kind)
        self._record(
            dest,
            child,
            address,
            gp,
            tuple(applied),
            forename=forename,
            surname=surname,
            middle_names=middle_names,
            dob=dob,
            nhs_number=nhs_number,
        )

    def _realistic_copy(
        self, child: _Child, dest: _Council, address: Address, gp: GeneralPractice | None, moved: bool
    ) -> None:
        """Record the child again at ``dest`` with several differences from the realistic error model."""
        rng, family = dest.rng, child.family
        true = TrueIdentity(
            forename=child.forename,
            middle_names=child.middle_names,
            surname=child.surname,
            sex=child.sex,
            dob=child.dob,
            nhs_number=child.nhs_number,
            twin=child.twin_of is not None,
        )
        noisy = realistic_copy(true, self.today, rng, lambda: self.pools.surname(rng, family.culture))
        differences = list(noisy.differences)
        if moved and address.postcode != family.address.postcode:
            differences.append(Difference.MOVED)
        if noisy.postcode_missing:
            address = dataclasses.replace(address, postcode="")
        previous = child.previous_surnames
        if noisy.old_surname_kept:
            previous = (child.surname, *previous)
        self._record(
            dest,
            child,
            address,
            gp,
            tuple(differences),
            forename=noisy.forename,
            surname=noisy.surname,
            middle_names=noisy.middle_names,
            dob=noisy.dob,
            nhs_number=noisy.nhs_number,
            sex=noisy.sex,
            previous_surnames=previous,
        )

    def _share(self, source: _Council) -> None:
        """Give each planned neighbour its quota of this council's children, whole families where they fit."""
        rng = source.rng
        order = list(source.families)
        rng.shuffle(order)
        used: set[str] = set()
        cursor = 0
        for dest_code, quota in self.plan[source.council.code]:
            dest = self.councils[dest_code]
            while quota > 0 and cursor < len(order):
                family = order[cursor]
                cursor += 1
                if family.family_id in used:
                    continue
                used.add(family.family_id)
                if len(family.children) <= quota and rng.random() < WHOLE_FAMILY_MOVE_SHARE:
                    for child in family.children:
                        self._second_copy(child, dest, moved=True)
                    quota -= len(family.children)
                else:
                    self._second_copy(rng.choice(family.children), dest, moved=False)
                    quota -= 1
            if quota:  # cannot happen while incoming is capped below the source's size
                raise AssertionError(f"could not share {quota} children from {source.council.code}")

    def run(self) -> tuple[dict[CouncilCode, tuple[ChildRecord, ...]], tuple[TrueChild, ...]]:
        for state in self.councils.values():
            self._natives(state)
        for state in self.councils.values():
            self._share(state)
        records = {
            code: tuple(sorted(state.records, key=lambda r: r.record_id))
            for code, state in self.councils.items()
        }
        people = tuple(
            TrueChild(
                person_id=child.person_id,
                family_id=child.family.family_id,
                copies=tuple(child.copies),
                twin_of=None if child.twin_of is None else self.children[child.twin_of].person_id,
            )
            for child in self.children
        )
        return records, people


def generate(
    councils: Sequence[str],
    *,
    scale: float = 0.001,
    seed: int = 1,
    children_per_council: int | None = None,
    today: dt.date | None = None,
    noise: Noise = "today",
) -> Population:
    """Generate records for these councils (ONS codes, e.g. ``["E08000035"]``).

    Each council holds ``children_per_council`` records, or else ``scale`` x its approximate number of
    children (at least one). ``today`` fixes the reference date (default: today), so every date is on or
    before it. ``noise`` sets how second records differ: "today" (0-3 differences, the level earlier
    benchmarks used; the same seed gives the same records as before "realistic" existed) or "realistic"
    (several differences per record from documented rates, see harness/synth/noise.py). Raises InvalidInput
    for an unknown council code, a bad scale or count, or an unknown noise level.
    """
    if noise not in NOISE_LEVELS:
        raise InvalidInput(f"noise must be one of {', '.join(NOISE_LEVELS)}, not {noise!r}")
    chosen = sorted(resolve(councils), key=lambda c: c.code)  # the order they were named in must not matter
    if not chosen:
        raise InvalidInput("no councils given: name at least one ONS council code")
    today = dt.date.today() if today is None else today
    targets = _targets(chosen, scale, children_per_council)
    with gc_paused():
        generator = _Generator(chosen, targets, seed, today, noise)
        records, people = generator.run()
    practitioners = {code: state.staff.demo for code, state in generator.councils.items()}
    return Population(
        seed=seed,
        scale=scale,
        children_per_council=children_per_council,
        today=today,
        councils=tuple(chosen),
        records=records,
        people=people,
        practitioners=practitioners,
        noise=noise,
    )
