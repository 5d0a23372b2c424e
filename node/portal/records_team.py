"""What the records team's pages do, through the same domain services as the CLI and the records API:
accounts (node/accounts, audited as `whoelse node practitioner …` is), shielding (node/records_api/service.py,
with its version check, validation and audit entry), subject access (node/subject_access.py), the import
history (node/import_history.py), retention (node/retention.py) and the audit log (node/audit.py).

Every call MUST first authorise the session as a member of the records team (an account the council granted
the role, `whoelse node practitioner add|update --records-team`, or these pages); the portal's own role
check is only for showing the pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from whoelse.federation.errors import InvalidInput, NotFound, PermissionDenied
from whoelse.federation.merkle import SignedTreeHead
from whoelse.federation.transparency_log import VerificationReport
from whoelse.node import retention
from whoelse.node.accounts.credentials import generate_password
from whoelse.node.accounts.eligibility import check_eligibility
from whoelse.node.accounts.service import AccountService, Practitioner, TotpEnrolment, audit_action
from whoelse.node.audit import AuditLog
from whoelse.node.import_history import ImportRun, import_history
from whoelse.node.records import ChildRecord
from whoelse.node.records_api.service import Change, RecordsService
from whoelse.node.records_api.systems import Scope, System
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import records_by_record_id
from whoelse.node.subject_access import SubjectAccessReport, subject_access_report

ACCOUNT_ACTIONS = ("suspend", "reinstate", "end", "unlock")
THROUGH_THE_PORTAL = "{} through the portal"


@dataclass(frozen=True)
class Handover:
    """A new account's one-time credentials: shown on the page that answers the add, never again."""

    practitioner: Practitioner
    password: str = field(repr=False)
    totp: TotpEnrolment
    ineligible: tuple[str, ...]  # why the account may not search yet (e.g. no DBS check recorded)


@dataclass(frozen=True)
class HeldRecord:
    """One of this council's records as the shielding page shows it, with the version it was read at."""

    record: ChildRecord
    version: int


class RecordsTeam:
    def __init__(
        self,
        accounts: AccountService,
        db: Database,
        audit: AuditLog,
        records: RecordsService,
        verify_key: bytes,
    ) -> None:
        self._accounts = accounts
        self._db = db
        self._audit = audit
        self._records = records
        self._verify_key = verify_key

    def member(self, token: str) -> Practitioner:
        member = self._accounts.authenticate(token)
        if not member.records_team:
            raise PermissionDenied("these pages are for the council's records team")
        return member

    def is_member(self, token: str) -> bool:
        """Whether the signed-in account has the records team's role (for showing the pages' link)."""
        try:
            self.member(token)
        except PermissionDenied:
            return False
        return True

    # --- practitioner accounts

    def practitioners(self, token: str) -> list[tuple[Practitioner, dt.datetime | None]]:
        """Every account with when its log-in lock ends (None: not locked)."""
        self.member(token)
        return [(p, self._accounts.locked_until(p.username)) for p in self._accounts.list()]

    def add_practitioner(self, token: str, **facts: Any) -> Handover:
        """Grant an account with a generated password, as `whoelse node practitioner add` does; audited."""
        member = self.member(token)
        password = generate_password()
        practitioner, totp = self._accounts.add(password=password, **facts)
        self._audit.account_event(
            practitioner.username,
            audit_action("add", practitioner.records_team),
            THROUGH_THE_PORTAL.format(member.username),
        )
        reasons = check_eligibility(practitioner, self._accounts.today())
        return Handover(practitioner, password, totp, tuple(r.message for r in reasons))

    def practitioner(self, token: str, username: str) -> Practitioner:
        self.member(token)
        return self._accounts.get(username)

    def update_practitioner(self, token: str, username: str, **facts: Any) -> Practitioner:
        """Record new facts about an account (a renewed check, a new role, the records team's role), as
        `whoelse node practitioner update` does; audited with who did it."""
        member = self.member(token)
        before = self._accounts.get(username)
        role = facts.pop("records_team", None)
        if role == before.records_team:
            role = None  # unchanged: the audit entry does not claim a grant
        if role is False and before.username == member.username:
            raise InvalidInput(
                "records_team: you cannot take away your own records team role; ask another records officer"
            )
        practitioner = self._accounts.update(username, records_team=role, **facts)
        self._audit.account_event(
            practitioner.username, audit_action("update", role), THROUGH_THE_PORTAL.format(member.username)
        )
        return practitioner

    def reset_credentials(self, token: str, username: str) -> Handover:
        """A new generated password and TOTP secret (a lost phone, a forgotten password), as `whoelse node
        practitioner reset` does: the old ones and every session stop working; audited."""
        member = self.member(token)
        password = generate_password()
        totp = self._accounts.reset_credentials(username, password)
        practitioner = self._accounts.get(username)
        self._audit.account_event(practitioner.username, "reset", THROUGH_THE_PORTAL.format(member.username))
        reasons = check_eligibility(practitioner, self._accounts.today())
        return Handover(practitioner, password, totp, tuple(r.message for r in reasons))

    def change_account(self, token: str, username: str, action: str, reason: str) -> None:
        """Suspend, reinstate, end or unlock an account; the audit log records who did it, as for the CLI."""
        member = self.member(token)
        if action == "suspend":
            self._accounts.suspend(username, reason)
        elif action == "reinstate":
            self._accounts.reinstate(username, reason)
        elif action == "end":
            if username.strip().lower() == member.username:
                raise InvalidInput("username: you cannot end your own account; ask another records officer")
            self._accounts.end(username, reason)
        elif action == "unlock":
            self._accounts.unlock(username)
        else:
            raise InvalidInput(f"action: {action[:20]!r} is not one of {', '.join(ACCOUNT_ACTIONS)}")
        self._audit.account_event(username, action, THROUGH_THE_PORTAL.format(member.username))

    # --- this council's records

    def find_record(self, token: str, record_id: str) -> HeldRecord:
        self.member(token)
        wanted = record_id.strip()
        with self._db.session() as session:
            record = records_by_record_id(session, [wanted]).get(wanted)
        if record is None:
            raise NotFound("record_id: this council holds no record with that ID")
        return HeldRecord(record, self._records.version(wanted))

    def _system(self, member: Practitioner) -> System:
        # The records API's own path, so the same validation, version check and audit entry apply; the
        # "system" names the officer, and their change ids are kept apart from every real system's.
        return System(f"portal:{member.username}"[:40], frozenset({Scope.SHIELDING}))

    @staticmethod
    def _change(record_id: str, version: int, what: str) -> Change:
        digest = hashlib.sha256(f"{record_id}\0{version}\0{what}".encode()).digest()
        return Change(f"portal-{secrets.token_hex(12)}", version, digest)

    def shield(self, token: str, record_id: str, version: int, reason: str) -> int:
        """Shield a record with a reason; returns its new version. Refused if it changed since it was read."""
        member = self.member(token)
        if not reason.strip():
            raise InvalidInput("shielding.reason: say why the record is shielded")
        shielding = {
            "reason": reason.strip(),
            "shielded_by": member.display_name,
            "shielded_on": self._accounts.today().isoformat(),
        }
        change = self._change(record_id, version, f"shield\0{reason}")
        return self._records.shield(self._system(member), change, record_id, shielding).version

    def unshield(self, token: str, record_id: str, version: int, reason: str) -> int:
        member = self.member(token)
        change = self._change(record_id, version, f"unshield\0{reason}")
        return self._records.unshield(
            self._system(member), change, record_id, reason, member.display_name
        ).version

    def subject_access(self, token: str, record_id: str) -> SubjectAccessReport:
        """The same report as `whoelse node sar RECORD_ID`."""
        self.member(token)
        return subject_access_report(self._db, record_id.strip())

    # --- imports, retention and the audit log

    def imports(self, token: str) -> list[ImportRun]:
        self.member(token)
        return import_history(self._db)

    def retention(self, token: str) -> retention.RetentionStatus:
        self.member(token)
        with self._db.session() as session:
            return retention.status(session, self._accounts.today())

    def audit_status(self, token: str) -> tuple[SignedTreeHead | None, VerificationReport]:
        """The audit log's latest signed tree head, and a full verification of the log against it."""
        self.member(token)
        return self._audit.latest_head(), self._audit.verify(self._verify_key)
