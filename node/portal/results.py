"""A search answer as the results page shows it: grouped by child, then by the council holding a record.

Pure functions of the SearchResponse the node returned (after the holding councils applied their disclosure
rules); nothing here adds to or infers beyond what was disclosed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from whoelse.federation import closed_sets
from whoelse.federation.identity import canonical_forename, phonetic
from whoelse.federation.merkle import SignedTreeHead
from whoelse.federation.practitioner_client import REFERRAL_BAND
from whoelse.node.accounts.service import Practitioner
from whoelse.node.import_history import ImportRun
from whoelse.v1 import practitioner_pb2 as pp
from whoelse.v1 import records_pb2 as pb

SHIELDED_WORDING = (
    "This record is shielded. Only the child's name, identifier, sex and date of birth are shown. "
    "To find out more, contact the records team"
)
"""What a shielded record shows instead of address, school, GP and services (BRIEF.md disclosure rules)."""

ENGLAND = ZoneInfo("Europe/London")
EVENTS = {
    "new_involvement": "Another practitioner is now involved",
    "cause_for_concern": "A cause for concern has been raised",
    "change_of_address": "The child has moved",
}
SEX = {"F": "Female", "M": "Male", "U": "Not known"}
UNANSWERED_REASONS = {
    "unavailable": "did not respond",
    "timeout": "did not answer in time",
    "refused": "its answer could not be accepted",
}


def _unanswered_reason(reason: str) -> str:
    return UNANSWERED_REASONS.get(reason, reason.replace("_", " "))


@dataclass(frozen=True)
class Involvement:
    practitioner: str
    role: str
    organisation: str
    contact: str
    service: str


@dataclass(frozen=True)
class Holding:
    """One council's record of the child, as that council disclosed it."""

    council_name: str
    council_code: str
    record_id: str
    possible: bool
    shielded: bool
    records_team_contact: str
    address: str
    school: str
    gp: str
    carers: tuple[str, ...]
    involvements: tuple[Involvement, ...]
    specialist_services_note: str
    concerns: tuple[str, ...]


@dataclass
class Child:
    name: str
    date_of_birth: str
    sex: str
    nhs_number: str
    holdings: list[Holding] = field(default_factory=list)

    @property
    def possible(self) -> bool:
        """Every council's record is only a possible match: the practitioner must check it is this child."""
        return all(h.possible for h in self.holdings)


@dataclass(frozen=True)
class Referral:
    council_name: str
    records_team_contact: str


@dataclass(frozen=True)
class Unanswered:
    council_name: str
    council_code: str
    reason: str


@dataclass(frozen=True)
class Results:
    children: list[Child]
    referrals: list[Referral]
    unanswered: list[Unanswered]
    councils_asked: int
    councils_answered: int
    query_id: str
    notes: tuple[str, ...] = ()  # how the node read the searched details (a swapped date, a placeholder)


def display_date(iso: str) -> str:
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day.day} {day:%B %Y}"


def _contactable(c: pb.Contactable) -> str:
    return ", ".join(part for part in (c.name, c.contact) if part)


def _address(a: pb.Address) -> str:
    return ", ".join(part for part in (a.line1, a.line2, a.town, a.postcode) if part)


def _holding(council: pp.CouncilResult, candidate: pb.Candidate) -> Holding:
    d = candidate.disclosure
    return Holding(
        council_name=council.council_name or council.council_code,
        council_code=council.council_code,
        record_id=d.record_id,
        possible=closed_sets.BAND.read(candidate) != "match",
        shielded=d.shielded,
        records_team_contact=d.records_team_contact,
        address=_address(d.address) if d.HasField("address") else "",
        school=_contactable(d.education) if d.HasField("education") else "",
        gp=_contactable(d.gp) if d.HasField("gp") else "",
        carers=tuple(
            ", ".join(p for p in (c.name, c.relationship_or_role, c.contact) if p) for c in d.carers
        ),
        involvements=tuple(
            Involvement(i.practitioner, i.role, i.organisation, i.contact, i.service_type.replace("_", " "))
            for i in d.involvements
        ),
        specialist_services_note=d.specialist_services_note,
        concerns=tuple(", ".join(p for p in (k.raised_by, k.contact) if p) for k in d.concerns),
    )


def _same_child(a: pb.Disclosure, b: pb.Disclosure) -> bool:
    if a.nhs_number and b.nhs_number:
        return a.nhs_number == b.nhs_number
    return (
        bool(a.date_of_birth)  # two unnamed-date records are not known to be one child
        and a.date_of_birth == b.date_of_birth
        and canonical_forename(a.forename) == canonical_forename(b.forename)
        and phonetic(a.surname) == phonetic(b.surname)
    )


def group(response: pp.SearchResponse) -> Results:
    """Children in the answer (definite matches first), each with every council that holds them."""
    children: list[tuple[pb.Disclosure, Child]] = []
    referrals = []
    for council in response.results:
        for candidate in council.candidates:
            d = candidate.disclosure
            if closed_sets.BAND.read(candidate) == REFERRAL_BAND:
                referrals.append(
                    Referral(council.council_name or council.council_code, d.records_team_contact)
                )
                continue
            child = next((c for first, c in children if _same_child(first, d)), None)
            if child is None:
                sex = closed_sets.SEX.read(d)
                child = Child(
                    name=" ".join(n for n in (d.forename, d.surname) if n),
                    date_of_birth=display_date(d.date_of_birth) if d.date_of_birth else "Not recorded",
                    sex=SEX.get(sex, sex),
                    nhs_number=d.nhs_number,
                )
                children.append((d, child))
            child.nhs_number = child.nhs_number or d.nhs_number
            child.holdings.append(_holding(council, candidate))
    unanswered = [
        Unanswered(
            u.council_name or u.council_code,
            u.council_code,
            _unanswered_reason(closed_sets.UNANSWERED_REASON.read(u)),
        )
        for u in response.unanswered
    ]
    return Results(
        children=sorted((c for _, c in children), key=lambda c: c.possible),
        referrals=referrals,
        unanswered=unanswered,
        councils_asked=response.councils_asked,
        councils_answered=response.councils_answered,
        query_id=response.query_id,
        notes=tuple(response.notes),
    )


@dataclass(frozen=True)
class AlertView:
    alert_id: str
    received: str
    child_name: str
    record_id: str
    event: str
    from_council: str
    summary: str
    contact: str


def alert(a: pp.Alert) -> AlertView:
    received = dt.datetime.fromtimestamp(a.received_at_ms / 1000, dt.UTC).astimezone(ENGLAND)
    return AlertView(
        alert_id=a.alert_id,
        received=f"{received:%-d %B %Y at %H:%M}",
        child_name=a.child_name,
        record_id=a.record_id,
        event=EVENTS.get(a.event_type, a.event_type.replace("_", " ").capitalize()),
        from_council=a.from_council_name or a.from_council_code,
        summary=a.summary,
        contact=a.contact,
    )


@dataclass(frozen=True)
class AccountView:
    username: str
    name: str
    role: str
    status: str
    locked_until: str
    actions: tuple[str, ...]  # what the records team may do: change, reset, suspend, reinstate, end, unlock
    records_team: bool = False


def _when(at: dt.datetime) -> str:
    local = at.astimezone(ENGLAND)
    return f"{local.day} {local:%B %Y at %H:%M}"


def account(p: Practitioner, locked_until: dt.datetime | None) -> AccountView:
    status = p.status.value
    actions: list[str] = ["change", "reset"] if status != "ended" else []
    if status == "active":
        actions.append("suspend")
    elif status == "suspended":
        actions.append("reinstate")
    if status != "ended":
        actions.append("end")
    if locked_until is not None:
        actions.append("unlock")
    return AccountView(
        username=p.username,
        name=p.display_name,
        role=p.role,
        status=status.capitalize()
        + (f": {p.status_reason}" if p.status_reason and status != "active" else ""),
        locked_until=_when(locked_until) if locked_until else "",
        actions=tuple(actions),
        records_team=p.records_team,
    )


def tree_head(head: SignedTreeHead | None) -> dict[str, str]:
    """The audit log's latest signed head as the records team reads it."""
    if head is None:
        return {}
    return {
        "entries": str(head.tree_size),
        "signed": _when(dt.datetime.fromtimestamp(head.timestamp_ms / 1000, dt.UTC)),
        "root": head.root_hash.hex(),
    }


def when(at: dt.datetime) -> str:
    """A time as the portal shows one: "7 March 2026 at 14:05", in England's time."""
    return _when(at)


@dataclass(frozen=True)
class ImportRunView:
    at: str
    file: str
    by: str
    outcome: str
    imported: str
    problems: tuple[dict[str, str], ...]
    problem_count: int
    problems_file: str


def import_run(run: ImportRun) -> ImportRunView:
    """One import as the records team reads it: what was written, and each problem's line and field."""
    if run.rejected_rows:
        rows = "1 row" if run.rejected_rows == 1 else f"{run.rejected_rows} rows"
        outcome = f"Imported, {rows} left out"
    else:
        outcome = "Imported"
    imported = f"{run.imported}" + (f" ({run.ended} ended: not in a full export)" if run.ended else "")
    problems = tuple(
        {"line": str(p.line), "record_id": p.record_id, "field": p.field, "reason": p.reason}
        for p in run.problems
    )
    return ImportRunView(
        _when(run.at), run.file, run.by, outcome, imported, problems, run.problem_count, run.problems_file
    )
