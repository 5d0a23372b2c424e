"""Subject access reports (P7): who looked a child up, from which council, when, why, and what they were
shown; plus every consent or override under which a sensitive service was recorded, and every alert about
the child delivered here.

Built only from this council's audit log (node/audit.py), found by the council's own record id. The report
is for a letter to a child or parent, so it says what kinds of detail were shown, never the details.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from whoelse.federation.errors import NotFound
from whoelse.federation.transparency_log import TransparencyLog
from whoelse.node.audit import (
    AUDIT_LOG,
    AuditKind,
    DisclosureSummary,
    audit_log_id,
    entries_about,
    parse_time,
)
from whoelse.node.settings import load as load_settings
from whoelse.node.storage.database import Database
from whoelse.node.storage.tables import Child

PURPOSES = {
    "safeguarding": "to keep a child safe from harm (safeguarding / child protection)",
    "child_in_need": "to assess or support a child in need",
    "early_help": "to offer early help to the family",
    "education": "about the child's education or school attendance",
    "health": "for the child's health care (health visiting, school nursing, paediatrics)",
    "youth_justice": "for youth justice work",
    "care_planning": "to plan care for a looked-after child",
    "notification": "to tell practitioners already involved that something had changed",
}

FIELDS = {
    "forename": "first name",
    "surname": "surname",
    "date_of_birth": "date of birth",
    "sex": "sex",
    "nhs_number": "NHS number",
    "records_team_contact": "how to contact our records team",
    "address": "address",
    "education": "school or college",
    "gp": "GP practice",
    "carers": "parents and carers",
    "involvements": "practitioners working with the child",
    "specialist_services_note": "that specialist services are involved (not which ones)",
    "concerns": "that a cause for concern was raised, and who raised it",
}

SENSITIVE_SERVICES = {
    "sexual_health": "a sexual health service",
    "camhs_tier2": "a mental health service (CAMHS tier 2)",
    "camhs_tier3": "a mental health service (CAMHS tier 3)",
    "camhs_tier4": "a mental health service (CAMHS tier 4)",
    "substance_misuse": "a substance misuse service",
}


@dataclass(frozen=True, slots=True)
class Lookup:
    """One disclosure of the child's record to a practitioner."""

    at: dt.datetime
    practitioner: str
    council_code: str
    council_name: str
    purpose: str
    query_id: str
    disclosed: DisclosureSummary
    log_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "practitioner": self.practitioner,
            "council_code": self.council_code,
            "council_name": self.council_name,
            "purpose": self.purpose,
            "query_id": self.query_id,
            "disclosed": self.disclosed.to_entry(),
            "log_index": self.log_index,
        }


@dataclass(frozen=True, slots=True)
class SensitiveServiceDecision:
    """A sensitive service recorded on the child's consent, or by an override with a reason."""

    at: dt.datetime
    service_type: str
    basis: str
    reason: str
    recorded_by: str
    log_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "service_type": self.service_type,
            "basis": self.basis,
            "reason": self.reason,
            "recorded_by": self.recorded_by,
            "log_index": self.log_index,
        }


@dataclass(frozen=True, slots=True)
class AlertNote:
    """An alert about the child from another council, passed to practitioners here."""

    at: dt.datetime
    origin_council: str
    event_type: str
    practitioners: tuple[str, ...]
    log_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "origin_council": self.origin_council,
            "event_type": self.event_type,
            "practitioners": list(self.practitioners),
            "log_index": self.log_index,
        }


@dataclass(frozen=True, slots=True)
class SubjectAccessReport:
    council_code: str
    council_name: str
    record_id: str
    generated_at: dt.datetime
    lookups: tuple[Lookup, ...]
    sensitive_services: tuple[SensitiveServiceDecision, ...]
    alerts: tuple[AlertNote, ...]
    log_id: str
    log_size: int
    signed_size: int | None
    signed_root: bytes | None

    def to_json(self) -> str:
        return json.dumps(
            {
                "council_code": self.council_code,
                "council_name": self.council_name,
                "record_id": self.record_id,
                "generated_at": _iso(self.generated_at),
                "lookups": [lookup.to_json() for lookup in self.lookups],
                "sensitive_services": [d.to_json() for d in self.sensitive_services],
                "alerts": [a.to_json() for a in self.alerts],
                "audit_log": {
                    "log_id": self.log_id,
                    "entries": self.log_size,
                    "signed_tree_size": self.signed_size,
                    "signed_root_hash": self.signed_root.hex() if self.signed_root else None,
                },
            },
            indent=2,
            ensure_ascii=False,
        )

    def to_text(self) -> str:
        lines = [
            f"Subject access report from {self.council_name} ({self.council_code})",
            f"Record {self.record_id}, produced {_when(self.generated_at)}",
            "",
        ]
        if not self.lookups:
            lines.append("Nobody has been shown this record through WhoElse.")
        else:
            lines.append(f"This record was shown to practitioners {len(self.lookups)} time(s):")
            for n, lookup in enumerate(self.lookups, start=1):
                council = (
                    f"{lookup.council_name} ({lookup.council_code})"
                    if lookup.council_name
                    else lookup.council_code
                )
                lines += [
                    "",
                    f"{n}. {_when(lookup.at)}: {lookup.practitioner} at {council}",
                    f"   Reason given: {PURPOSES.get(lookup.purpose, lookup.purpose)}",
                    f"   What they were shown: {_shown(lookup.disclosed)}",
                    f"   Reference: search {lookup.query_id}, audit log entry {lookup.log_index}",
                ]
        if self.sensitive_services:
            lines += ["", "Specialist services recorded, and on what basis:"]
            for decision in self.sensitive_services:
                service = SENSITIVE_SERVICES.get(decision.service_type, decision.service_type)
                basis = (
                    "with the child's consent"
                    if decision.basis == "consent"
                    else f"without consent, because: {decision.reason}"
                )
                lines.append(
                    f"- {_when(decision.at)}: {service} recorded by "
                    f"{decision.recorded_by} {basis} (audit log entry {decision.log_index})"
                )
        if self.alerts:
            lines += ["", "Alerts about a change, passed to practitioners here:"]
            for alert in self.alerts:
                event = alert.event_type.replace("_", " ")
                lines.append(
                    f"- {_when(alert.at)}: {event} reported by {alert.origin_council}, passed to "
                    f"{len(alert.practitioners)} practitioner(s) (audit log entry {alert.log_index})"
                )
        lines += ["", _log_statement(self)]
        return "\n".join(lines)


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _when(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%d %B %Y at %H:%M UTC")


def _shown(disclosed: DisclosureSummary) -> str:
    if disclosed.shielded:
        return (
            "the record is protected (shielded), so only the child's name, date of birth, sex and "
            "identifier, and how to contact our records team"
        )
    labels = [FIELDS.get(name, name.replace("_", " ")) for name in disclosed.fields]
    return ", ".join(labels) if labels else "nothing"


def _log_statement(report: SubjectAccessReport) -> str:
    if report.signed_size is None or report.signed_root is None:
        return f"These events come from our audit log ({report.log_size} entries; not yet signed)."
    return (
        f"These events come from our tamper-evident audit log '{report.log_id}', whose signed state at "
        f"{report.signed_size} entries has root {report.signed_root.hex()}; an independent auditor can check "
        "it has not been altered."
    )


def _lookup(index: int, entry: Mapping[str, Any]) -> Lookup:
    return Lookup(
        at=parse_time(entry["at"]),
        practitioner=entry["practitioner"],
        council_code=entry["origin_council"],
        council_name=entry.get("origin_council_name", ""),
        purpose=entry["purpose"],
        query_id=entry["query_id"],
        disclosed=DisclosureSummary.from_entry(entry["disclosed"]),
        log_index=index,
    )


def subject_access_report(
    db: Database, record_id: str, now: dt.datetime | None = None
) -> SubjectAccessReport:
    """Everything this council's audit log says about record_id. Raises NotFound when the council holds no
    such record and no audit entry names it (a purged record's history is still reported)."""
    with db.session() as session:
        settings = load_settings(session)
        entries = entries_about(session, record_id)
        held = session.execute(select(Child.id).where(Child.record_id == record_id)).first() is not None
        log = TransparencyLog(AUDIT_LOG, audit_log_id(settings.council.code), None)
        size = log.size(session)
        head = log.latest_head(session)
    if not entries and not held:
        raise NotFound(
            f"record {record_id!r} is not held by {settings.council.name} and no audit entry names it"
        )
    lookups, decisions, alerts = [], [], []
    for item in entries:
        kind = item.entry.get("kind")
        if kind == AuditKind.DISCLOSURE:
            lookups.append(_lookup(item.index, item.entry))
        elif kind == AuditKind.SENSITIVE_RECORDED:
            decisions.append(
                SensitiveServiceDecision(
                    parse_time(item.entry["at"]),
                    item.entry["service_type"],
                    item.entry["basis"],
                    item.entry.get("reason", ""),
                    item.entry["by"],
                    item.index,
                )
            )
        elif kind == AuditKind.ALERT_DELIVERED:
            alerts.append(
                AlertNote(
                    parse_time(item.entry["at"]),
                    item.entry["origin_council"],
                    item.entry["event_type"],
                    tuple(item.entry.get("practitioners", ())),
                    item.index,
                )
            )
    return SubjectAccessReport(
        council_code=settings.council.code,
        council_name=settings.council.name,
        record_id=record_id,
        generated_at=now or dt.datetime.now(dt.UTC),
        lookups=tuple(sorted(lookups, key=lambda x: x.at)),
        sensitive_services=tuple(sorted(decisions, key=lambda x: x.at)),
        alerts=tuple(sorted(alerts, key=lambda x: x.at)),
        log_id=log.log_id,
        log_size=size,
        signed_size=head.tree_size if head else None,
        signed_root=head.root_hash if head else None,
    )
