"""Practitioner accounts at a council node: granting, suspending and ending access; log-in and sessions.

`AccountService` is the one entry point the CLI and the gRPC servicers use. It knows nothing of either:
it takes plain values, returns frozen domain objects and raises WhoElseError subclasses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from whoelse.federation.errors import InvalidInput, NotFound, Unauthenticated
from whoelse.node.accounts.credentials import (
    Passwords,
    check_password_strength,
    match_totp,
    new_totp_secret,
    totp_uri,
)
from whoelse.node.accounts.eligibility import AccountStatus, NotEligible, check_eligibility, require_eligible
from whoelse.node.accounts.lockout import FailureRecord, LockoutPolicy, LoginThrottled
from whoelse.node.accounts.tables import LoginFailureRow, LoginSourceRow, PractitionerRow, SessionRow
from whoelse.node.accounts.totp_storage import TotpSecrets
from whoelse.node.storage.database import Database

Clock = Callable[[], dt.datetime]
"""Returns the current time, timezone-aware. Injected so tests move time instead of sleeping."""

ENGLAND = ZoneInfo("Europe/London")
LOGIN_FAILED = (
    "log-in failed: check your username, your password and the current code from your authenticator app "
    "(each code works only once)"
)
SESSION_EXPIRED = "session expired, log in again"
NOT_LOGGED_IN = "not logged in (or logged out), log in again"
_DATE_FIELDS = ("manager_authorised_on", "dbs_checked_on", "training_completed_on", "agreement_signed_on")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{2,63}")
_TEXT_LIMITS = {
    "display_name": 200,
    "role": 100,
    "organisation": 200,
    "contact": 200,
    "manager_authorised_by": 200,
}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Practitioner:
    """A practitioner account as the rest of the node sees it: no password hash, no TOTP secret."""

    username: str
    display_name: str
    role: str
    organisation: str
    contact: str
    status: AccountStatus
    status_reason: str
    manager_authorised_by: str
    manager_authorised_on: dt.date | None
    dbs_checked_on: dt.date | None
    training_completed_on: dt.date | None
    agreement_signed_on: dt.date | None
    organisation_accredited: bool
    created_at: dt.datetime
    status_changed_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    records_team: bool = False  # may use the records team's pages (granted by the council, audited)


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """The second factor issued with a new account: shown to the practitioner once, never again."""

    secret: str = field(repr=False)
    uri: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in session. `token` is the bearer secret; the node keeps only its hash."""

    token: str = field(repr=False)
    username: str
    created_at: dt.datetime
    expires_at: dt.datetime  # absolute limit; the session also ends after `idle_timeout` without use
    idle_timeout: dt.timedelta


@dataclass(frozen=True, slots=True)
class SessionLifetime:
    """A session ends `absolute` after log-in, or `idle` after its last use, whichever comes first."""

    absolute: dt.timedelta = dt.timedelta(hours=8)
    idle: dt.timedelta = dt.timedelta(minutes=30)


def audit_action(action: str, records_team: bool | None = None) -> str:
    """The audit log's name for an account change (add, update, suspend...). Granting or withdrawing the
    records team's role is named, so the log shows who gave whom access to the records team's pages."""
    if action == "add" and records_team:
        return "add: records team granted"
    if action == "update" and records_team is not None:
        return f"update: records team {'granted' if records_team else 'withdrawn'}"
    return action


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def _username_key(username: str) -> str:
    return hashlib.sha256(normalise_username(username).encode("utf-8")).hexdigest()


def _source_key(username_key: str, source: str) -> str:
    return hashlib.sha256(f"{username_key}\0{source}".encode()).hexdigest()


def _token_hash(token: str) -> str:
    # A token has 256 random bits, so a plain hash (no salt, no stretching) is enough to make a stolen
    # sessions table useless for logging in.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _to_domain(row: PractitionerRow) -> Practitioner:
    return Practitioner(
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        organisation=row.organisation,
        contact=row.contact,
        status=row.status,
        status_reason=row.status_reason,
        manager_authorised_by=row.manager_authorised_by,
        manager_authorised_on=row.manager_authorised_on,
        dbs_checked_on=row.dbs_checked_on,
        training_completed_on=row.training_completed_on,
        agreement_signed_on=row.agreement_signed_on,
        organisation_accredited=row.organisation_accredited,
        created_at=row.created_at,
        status_changed_at=row.status_changed_at,
        ended_at=row.ended_at,
        records_team=row.records_team,
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    """What phase 1 of a log-in read, for checking credentials outside any transaction."""

    practitioner_id: int
    username: str
    password_hash: str
    totp_secret: str  # as stored: encrypted (node/accounts/totp_storage.py)
    totp_last_step: int | None


class AccountService:
    """Grants, suspends, reinstates, ends and unlocks practitioner accounts; logs practitioners in and out."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = utc_now,
        passwords: Passwords | None = None,
        lockout: LockoutPolicy | None = None,
        sessions: SessionLifetime | None = None,
        issuer: str = "WhoElse",
        on_throttled: Callable[[LoginThrottled], None] | None = None,
        totp_secrets: TotpSecrets | None = None,
    ) -> None:
        """`totp_secrets` defaults to the TOTP key of the database's key store, read at first use."""
        self._db = db
        self._totp_secrets = totp_secrets
        self._on_throttled = on_throttled  # e.g. counted for the operators' lock-out alert
        self._clock = clock
        self._passwords = passwords if passwords is not None else Passwords()
        self._lockout = lockout if lockout is not None else LockoutPolicy()
        self._lifetime = sessions if sessions is not None else SessionLifetime()
        self._issuer = issuer
        # Serialises the check-and-count step of log-ins in this process, so parallel guesses cannot all
        # slip past the slow-down before the first failure is counted.
        self._attempts_lock = threading.Lock()

    @property
    def _totp(self) -> TotpSecrets:
        if self._totp_secrets is None:
            self._totp_secrets = TotpSecrets(self._db.key_store.load().totp)
        return self._totp_secrets

    # --- clock -----------------------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("clock must return a timezone-aware datetime")
        return now

    def today(self) -> dt.date:
        """Today's date in England, the date eligibility rules are judged on."""
        return self.now().astimezone(ENGLAND).date()

    # --- the council's operations ----------------------------------------------------------------------

    def add(
        self,
        *,
        username: str,
        display_name: str,
        role: str,
        organisation: str,
        contact: str,
        password: str,
        manager_authorised_by: str = "",
        manager_authorised_on: dt.date | None = None,
        dbs_checked_on: dt.date | None = None,
        training_completed_on: dt.date | None = None,
        agreement_signed_on: dt.date | None = None,
        organisation_accredited: bool = False,
        records_team: bool = False,
    ) -> tuple[Practitioner, TotpEnrolment]:
        """Grant an account. Returns it with the TOTP secret and otpauth:// URI, to be shown once."""
        name = normalise_username(username)
        if not _USERNAME.fullmatch(name):
            raise InvalidInput(
                f"username: {username!r} must be 3-64 characters of letters, digits, '.', '_', '-' or '@', "
                "starting with a letter or digit"
            )
        facts = self._validated(
            {
                "display_name": display_name,
                "role": role,
                "organisation": organisation,
                "contact": contact,
                "manager_authorised_by": manager_authorised_by,
                "manager_authorised_on": manager_authorised_on,
                "dbs_checked_on": dbs_checked_on,
                "training_completed_on": training_completed_on,
                "agreement_signed_on": agreement_signed_on,
                "organisation_accredited": organisation_accredited,
                "records_team": records_team,
            }
        )
        check_password_strength(password, name)

        secret = new_totp_secret()
        now = self.now()
        unrecorded: dict[str, Any] = dict.fromkeys(_DATE_FIELDS)
        row = PractitionerRow(
            username=name,
            status=AccountStatus.ACTIVE,
            status_reason="",
            status_changed_at=now,
            **(unrecorded | facts),
            password_hash=self._passwords.hash(password),
            totp_secret=self._totp.seal(name, secret),
            totp_last_step=None,
            created_at=now,
            ended_at=None,
        )
        taken = InvalidInput(
            f"username: {name!r} is already taken (usernames of ended accounts are not reused)"
        )
        try:
            with self._db.session() as s:
                if s.scalar(select(PractitionerRow.id).where(PractitionerRow.username == name)) is not None:
                    raise taken
                s.add(row)
                s.flush()
                practitioner = _to_domain(row)
        except IntegrityError as exc:  # a concurrent add of the same username
            raise taken from exc
        return practitioner, TotpEnrolment(secret=secret, uri=totp_uri(secret, name, self._issuer))

    def update(
        self,
        username: str,
        *,
        display_name: str | None = None,
        role: str | None = None,
        organisation: str | None = None,
        contact: str | None = None,
        manager_authorised_by: str | None = None,
        manager_authorised_on: dt.date | None = None,
        dbs_checked_on: dt.date | None = None,
        training_completed_on: dt.date | None = None,
        agreement_signed_on: dt.date | None = None,
        organisation_accredited: bool | None = None,
        records_team: bool | None = None,
    ) -> Practitioner:
        """Record new facts about an account (a renewed check, training, the records team's role...); None
        leaves a fact unchanged."""
        facts = self._validated(
            {
                "display_name": display_name,
                "role": role,
                "organisation": organisation,
                "contact": contact,
                "manager_authorised_by": manager_authorised_by,
                "manager_authorised_on": manager_authorised_on,
                "dbs_checked_on": dbs_checked_on,
                "training_completed_on": training_completed_on,
                "agreement_signed_on": agreement_signed_on,
                "organisation_accredited": organisation_accredited,
                "records_team": records_team,
            }
        )
        if not facts:
            raise InvalidInput("update: nothing to change")
        with self._db.session() as s:
            row = self._row(s, username)
            if row.status is AccountStatus.ENDED:
                raise InvalidInput(f"practitioner: {row.username!r} is ended; grant a new account instead")
            for key, value in facts.items():
                setattr(row, key, value)
            return _to_domain(row)

    def reset_credentials(self, username: str, password: str) -> TotpEnrolment:
        """Issue a new password and TOTP secret (e.g. a lost phone); ends sessions and lifts any lock."""
        with self._db.session() as s:
            row = self._row(s, username)
            if row.status is AccountStatus.ENDED:
                raise InvalidInput(f"practitioner: {row.username!r} is ended; grant a new account instead")
            check_password_strength(password, row.username)
            secret = new_totp_secret()
            row.password_hash = self._passwords.hash(password)
            row.totp_secret = self._totp.seal(row.username, secret)
            row.totp_last_step = None
            s.execute(delete(SessionRow).where(SessionRow.practitioner_id == row.id))
            self._forget_failures(s, _username_key(row.username))
            return TotpEnrolment(secret=secret, uri=totp_uri(secret, row.username, self._issuer))

    def get(self, username: str) -> Practitioner:
        with self._db.session() as s:
            return _to_domain(self._row(s, username))

    def list(self) -> Sequence[Practitioner]:
        """Every account this council has granted, by username, including suspended and ended ones."""
        with self._db.session() as s:
            rows = s.scalars(select(PractitionerRow).order_by(PractitionerRow.username))
            return tuple(_to_domain(row) for row in rows)

    def suspend(self, username: str, reason: str) -> Practitioner:
        """Stop an active account from logging in or searching until reinstated; ends its sessions now."""
        if not reason.strip():
            raise InvalidInput("reason: say why the account is suspended")
        return self._change_status(
            username, AccountStatus.SUSPENDED, reason, allowed_from={AccountStatus.ACTIVE}
        )

    def reinstate(self, username: str, reason: str = "") -> Practitioner:
        """Make a suspended account active again (eligibility rules still apply on every search)."""
        return self._change_status(
            username, AccountStatus.ACTIVE, reason, allowed_from={AccountStatus.SUSPENDED}
        )

    def end(self, username: str, reason: str = "") -> Practitioner:
        """End an account for good (e.g. the practitioner left); ends its sessions now."""
        return self._change_status(
            username,
            AccountStatus.ENDED,
            reason,
            allowed_from={AccountStatus.ACTIVE, AccountStatus.SUSPENDED},
        )

    def unlock(self, username: str) -> bool:
        """Lift a log-in lock or slow-down at once. Returns whether there was anything to lift."""
        with self._db.session() as s:
            self._row(s, username)
            return self._forget_failures(s, _username_key(username))

    def locked_until(self, username: str) -> dt.datetime | None:
        """When the last log-in lock on this username ends (from any source, or the account's ceiling for
        new sources), or None if none is locked (slow-downs aside)."""
        key = _username_key(username)
        now = self.now()
        with self._db.session() as s:
            account = s.get(LoginFailureRow, key)
            sources = s.scalars(select(LoginSourceRow).where(LoginSourceRow.username_key == key)).all()
            refusals = [
                self._lockout.refusal(FailureRecord(r.failures, r.last_failure_at), now) for r in sources
            ]
            if account is not None:
                refusals.append(
                    self._lockout.ceiling_refusal(
                        FailureRecord(account.failures, account.last_failure_at), now
                    )
                )
        locks = [r.retry_at for r in refusals if r is not None and r.locked]
        return max(locks) if locks else None

    # --- practitioners' operations ---------------------------------------------------------------------

    def login(self, username: str, password: str, totp_code: str, *, source: str = "") -> Session:
        """Check username, password and TOTP code and open a session. `source` is where the attempt comes
        from (the client's network address), which the slow-down and lock are counted against.

        Raises LoginThrottled (an Unauthenticated) while slowed down or locked, Unauthenticated with the same
        message for an unknown username, wrong password or wrong/reused code, and NotEligible (a
        PermissionDenied) when the credentials are right but the account may not be used.
        """
        now = self.now()
        key = _username_key(username)
        name = normalise_username(username)
        candidate = self._count_attempt(key, _source_key(key, source), name, now)

        # Phase 2: the expensive check, outside any transaction. Unknown usernames cost the same argon2 work.
        if candidate is None:
            self._passwords.verify_nobody(password)
            raise Unauthenticated(LOGIN_FAILED)
        if not self._passwords.verify(candidate.password_hash, password):
            raise Unauthenticated(LOGIN_FAILED)
        secret = self._totp.open(candidate.username, candidate.totp_secret)
        step = match_totp(secret, totp_code, now, candidate.totp_last_step)
        if step is None:
            raise Unauthenticated(LOGIN_FAILED)

        # Phase 3: the credentials are right. Consume the TOTP step atomically, so two log-ins racing with
        # the same code cannot both succeed, and forget the failures.
        token = secrets.token_urlsafe(32)
        refusal: NotEligible | None = None
        with self._db.session() as s:
            consumed = s.execute(
                update(PractitionerRow)
                .where(PractitionerRow.id == candidate.practitioner_id)
                .where((PractitionerRow.totp_last_step.is_(None)) | (PractitionerRow.totp_last_step < step))
                .values(totp_last_step=step)
            )
            if not getattr(consumed, "rowcount", 0):
                replayed = True
            else:
                replayed = False
                self._count_success(s, key, _source_key(key, source), now)
                row = s.get_one(PractitionerRow, candidate.practitioner_id)
                if self._passwords.needs_rehash(row.password_hash):
                    row.password_hash = self._passwords.hash(password)
                reasons = check_eligibility(_to_domain(row), self.today())
                if reasons:
                    refusal = NotEligible(reasons)
                else:
                    s.add(
                        SessionRow(
                            token_hash=_token_hash(token),
                            practitioner_id=row.id,
                            created_at=now,
                            last_seen_at=now,
                            expires_at=now + self._lifetime.absolute,
                        )
                    )
        if replayed:
            raise Unauthenticated(LOGIN_FAILED)
        if refusal is not None:
            raise refusal
        return Session(
            token=token,
            username=name,
            created_at=now,
            expires_at=now + self._lifetime.absolute,
            idle_timeout=self._lifetime.idle,
        )

    def authenticate(self, token: str) -> Practitioner:
        """The practitioner a session token belongs to; refreshes its idle timer.

        Raises Unauthenticated "session expired, log in again" once the idle or absolute limit has passed.
        """
        now = self.now()
        expired = False
        practitioner: Practitioner | None = None
        with self._db.session() as s:
            row = s.get(SessionRow, _token_hash(token))
            if row is not None:
                if now >= row.expires_at or now >= row.last_seen_at + self._lifetime.idle:
                    s.delete(row)
                    expired = True
                else:
                    owner = s.get_one(PractitionerRow, row.practitioner_id)
                    if owner.status is AccountStatus.ACTIVE:
                        row.last_seen_at = now
                        practitioner = _to_domain(owner)
                    else:  # suspend/end delete sessions; this guards any that slipped through
                        s.delete(row)
        if expired:
            raise Unauthenticated(SESSION_EXPIRED)
        if practitioner is None:
            raise Unauthenticated(NOT_LOGGED_IN)
        return practitioner

    def authorise_search(self, token: str) -> Practitioner:
        """Authenticate and apply every eligibility rule as of today: call this before every search."""
        practitioner = self.authenticate(token)
        require_eligible(practitioner, self.today())
        return practitioner

    def logout(self, token: str) -> None:
        """End a session. Logging out twice, or with an unknown token, is not an error."""
        with self._db.session() as s:
            s.execute(delete(SessionRow).where(SessionRow.token_hash == _token_hash(token)))

    def purge_expired_sessions(self) -> int:
        """Delete sessions past their absolute or idle limit; returns how many. Safe to run on a schedule."""
        now = self.now()
        with self._db.session() as s:
            result = s.execute(
                delete(SessionRow).where(
                    (SessionRow.expires_at <= now) | (SessionRow.last_seen_at <= now - self._lifetime.idle)
                )
            )
            return int(getattr(result, "rowcount", 0))

    # --- internals -------------------------------------------------------------------------------------

    def _count_attempt(self, key: str, source_key: str, name: str, now: dt.datetime) -> _Candidate | None:
        """Phase 1 of a log-in: refuse if this source is throttled, or the account's ceiling is reached and
        this source has not logged in to it lately; else count the attempt as a failure in advance, against
        the source and the account.

        Counting before checking means parallel guesses are each counted; a successful log-in clears the
        source's count and takes its own attempt back off the account's.
        """
        throttled: LoginThrottled | None = None
        candidate: _Candidate | None = None
        with self._attempts_lock, self._db.session() as s:
            account = s.get(LoginFailureRow, key, with_for_update=True)
            source = s.get(LoginSourceRow, source_key, with_for_update=True)
            record = FailureRecord(source.failures, source.last_failure_at) if source else FailureRecord()
            total = FailureRecord(account.failures, account.last_failure_at) if account else FailureRecord()
            throttled = self._lockout.refusal(record, now)
            if throttled is None and not self._lockout.trusts(
                source.last_success_at if source else None, now
            ):
                throttled = self._lockout.ceiling_refusal(total, now)
            if throttled is None:
                counted = self._lockout.after_failure(record, now)
                if source is None:
                    source = LoginSourceRow(source_key=source_key, username_key=key, last_success_at=None)
                    s.add(source)
                source.failures, source.last_failure_at = counted.failures, now
                counted = self._lockout.after_failure(total, now)
                if account is None:
                    s.add(LoginFailureRow(username_key=key, failures=counted.failures, last_failure_at=now))
                else:
                    account.failures, account.last_failure_at = counted.failures, now
                row = s.scalar(select(PractitionerRow).where(PractitionerRow.username == name))
                # Accounts that may not log in still go through the full check, so the answer to a wrong
                # password never says whether the account exists or what state it is in.
                if row is not None:
                    candidate = _Candidate(
                        row.id, row.username, row.password_hash, row.totp_secret, row.totp_last_step
                    )
        if throttled is not None:
            if self._on_throttled is not None:
                self._on_throttled(throttled)
            raise throttled
        return candidate

    @staticmethod
    def _count_success(s: DbSession, key: str, source_key: str, now: dt.datetime) -> None:
        """The source's failures are forgotten and it is trusted from now on; the account keeps others'."""
        source = s.get_one(LoginSourceRow, source_key)
        source.failures, source.last_failure_at, source.last_success_at = 0, None, now
        account = s.get(LoginFailureRow, key)
        if account is not None:
            account.failures -= 1  # this attempt, counted in advance
            if account.failures <= 0:
                s.delete(account)

    @staticmethod
    def _forget_failures(s: DbSession, key: str) -> bool:
        """The council lifts every slow-down and lock on a username. Returns whether there was any."""
        counted = s.execute(delete(LoginFailureRow).where(LoginFailureRow.username_key == key))
        locked = s.scalars(
            select(LoginSourceRow).where(LoginSourceRow.username_key == key, LoginSourceRow.failures > 0)
        ).all()
        for source in locked:
            source.failures, source.last_failure_at = 0, None
        return bool(getattr(counted, "rowcount", 0)) or bool(locked)

    def _validated(self, facts: dict[str, Any]) -> dict[str, Any]:
        """The given (non-None) facts, stripped and checked; a manager named without a date is dated today."""
        today = self.today()
        clean: dict[str, Any] = {}
        for key, value in facts.items():
            if value is None:
                continue
            if key in _TEXT_LIMITS:
                value = value.strip()
                if not value and key != "manager_authorised_by":
                    raise InvalidInput(f"{key}: must not be empty")
                if len(value) > _TEXT_LIMITS[key]:
                    raise InvalidInput(f"{key}: must be at most {_TEXT_LIMITS[key]} characters")
            elif isinstance(value, dt.date) and value > today:
                raise InvalidInput(f"{key}: {value.isoformat()} is in the future")
            clean[key] = value
        if clean.get("manager_authorised_by") and "manager_authorised_on" not in clean:
            clean["manager_authorised_on"] = today
        if clean.get("manager_authorised_by") == "":
            clean["manager_authorised_on"] = None
        return clean

    def _row(self, s: DbSession, username: str) -> PractitionerRow:
        row = s.scalar(
            select(PractitionerRow).where(PractitionerRow.username == normalise_username(username))
        )
        if row is None:
            raise NotFound(f"practitioner: no account with username {normalise_username(username)!r}")
        return row

    def _change_status(
        self, username: str, status: AccountStatus, reason: str, allowed_from: set[AccountStatus]
    ) -> Practitioner:
        now = self.now()
        with self._db.session() as s:
            row = self._row(s, username)
            if row.status not in allowed_from:
                raise InvalidInput(
                    f"practitioner: {row.username!r} is {row.status.value}; cannot make it {status.value}"
                )
            row.status = status
            row.status_reason = reason.strip()[:500]
            row.status_changed_at = now
            if status is AccountStatus.ENDED:
                row.ended_at = now
            if status is not AccountStatus.ACTIVE:
                s.execute(delete(SessionRow).where(SessionRow.practitioner_id == row.id))
            return _to_domain(row)
