"""AccountService against a real SQLite database: granting accounts, log-in, lock-out, sessions."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import ClassVar

import argon2
import pytest

from tests.node.accounts import PASSWORD, FakeClock, light_passwords, make_service, open_database
from whoelse.federation.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from whoelse.node.accounts.credentials import Passwords, totp_code
from whoelse.node.accounts.eligibility import AccountStatus, NotEligible, Reason
from whoelse.node.accounts.lockout import LoginThrottled
from whoelse.node.accounts.service import LOGIN_FAILED, AccountService, SessionLifetime, TotpEnrolment
from whoelse.node.accounts.tables import LoginFailureRow, SessionRow
from whoelse.node.storage.database import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return open_database(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def accounts(db: Database, clock: FakeClock) -> AccountService:
    return make_service(db, clock)


def add_sam(accounts: AccountService, **overrides: object) -> TotpEnrolment:
    fields: dict[str, object] = {
        "username": "Sam.Patel",
        "display_name": "Sam Patel",
        "role": "Social worker",
        "organisation": "Leeds Children's Services",
        "contact": "0113 496 0002",
        "password": PASSWORD,
        "manager_authorised_by": "Jo Manager",
        "dbs_checked_on": dt.date(2024, 1, 15),
        "training_completed_on": dt.date(2025, 1, 10),
        "agreement_signed_on": dt.date(2025, 1, 10),
        "organisation_accredited": True,
    }
    fields.update(overrides)
    _, totp = accounts.add(**fields)  # type: ignore[arg-type]
    return totp


def code(totp: TotpEnrolment, clock: FakeClock) -> str:
    return totp_code(totp.secret, clock())


def fail_login(accounts: AccountService, username: str = "sam.patel", source: str = "") -> Exception:
    with pytest.raises(Unauthenticated) as caught:
        accounts.login(username, "wrong password!!", "000000", source=source)
    return caught.value


# --- granting accounts ------------------------------------------------------------------------------------


def test_added_account_is_listed_without_secrets_and_can_log_in(
    accounts: AccountService, clock: FakeClock
) -> None:
    totp = add_sam(accounts)
    assert totp.uri.startswith("otpauth://totp/WhoElse:sam.patel?secret=")
    [listed] = accounts.list()
    assert listed.username == "sam.patel"  # usernames are case-insensitive, kept lower-case
    assert listed.status is AccountStatus.ACTIVE
    assert listed.manager_authorised_on == dt.date(2025, 6, 2)  # defaults to the day it was recorded
    assert not hasattr(listed, "password_hash") and not hasattr(listed, "totp_secret")
    session = accounts.login("SAM.PATEL", PASSWORD, code(totp, clock))
    assert accounts.authenticate(session.token).username == "sam.patel"
    assert session.token not in repr(session)


def test_username_is_unique_within_the_council(accounts: AccountService) -> None:
    add_sam(accounts)
    with pytest.raises(InvalidInput, match="already taken"):
        add_sam(accounts, username="sam.patel")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"username": "x"}, "username"),
        ({"display_name": " "}, "display_name: must not be empty"),
        ({"dbs_checked_on": dt.date(2025, 6, 3)}, "dbs_checked_on: 2025-06-03 is in the future"),
        ({"password": "short"}, "password"),
    ],
)
def test_bad_account_details_are_refused(
    accounts: AccountService, overrides: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidInput, match=match):
        add_sam(accounts, **overrides)
    assert accounts.list() == ()


def test_suspend_reinstate_end(accounts: AccountService, clock: FakeClock) -> None:
    totp = add_sam(accounts)
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock))
    assert accounts.suspend("sam.patel", "under investigation").status is AccountStatus.SUSPENDED
    with pytest.raises(Unauthenticated):  # suspension ends sessions at once
        accounts.authenticate(session.token)
    with pytest.raises(InvalidInput, match="is suspended; cannot make it suspended"):
        accounts.suspend("sam.patel", "again")
    with pytest.raises(InvalidInput, match="reason"):
        accounts.suspend("sam.patel", "")
    assert accounts.reinstate("sam.patel").status is AccountStatus.ACTIVE
    clock.advance(seconds=30)
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock))
    ended = accounts.end("sam.patel", "left the council")
    assert ended.status is AccountStatus.ENDED and ended.ended_at == clock()
    with pytest.raises(Unauthenticated):
        accounts.authenticate(session.token)
    with pytest.raises(InvalidInput, match="is ended"):
        accounts.reinstate("sam.patel")
    with pytest.raises(NotFound, match="nobody"):
        accounts.suspend("nobody", "x")


# --- log-in -----------------------------------------------------------------------------------------------


def test_suspended_practitioner_with_right_credentials_is_told_why(
    accounts: AccountService, clock: FakeClock
) -> None:
    totp = add_sam(accounts)
    accounts.suspend("sam.patel", "under investigation")
    with pytest.raises(NotEligible, match="suspended") as caught:
        accounts.login("sam.patel", PASSWORD, code(totp, clock))
    assert [r.reason for r in caught.value.reasons] == [Reason.SUSPENDED]


def test_unknown_username_is_indistinguishable_from_wrong_password(db: Database, clock: FakeClock) -> None:
    class CountingPasswords(Passwords):
        verifications = 0
        verified: ClassVar[list[str]] = []

        def verify(self, encoded: str, password: str) -> bool:
            CountingPasswords.verifications += 1
            CountingPasswords.verified.append(encoded)
            return super().verify(encoded, password)

    accounts = AccountService(
        db, clock=clock, passwords=CountingPasswords(time_cost=1, memory_kib=8, parallelism=1)
    )
    add_sam(accounts)
    before = CountingPasswords.verifications
    wrong_password = fail_login(accounts, "sam.patel")
    assert CountingPasswords.verifications == before + 1
    unknown_user = fail_login(accounts, "no.such.person")
    assert CountingPasswords.verifications == before + 2  # a dummy argon2 verification: the same work
    sams, dummy = CountingPasswords.verified[-2:]
    assert dummy == accounts._passwords.dummy_hash
    assert argon2.extract_parameters(dummy) == argon2.extract_parameters(sams)  # at the same cost
    assert type(wrong_password) is type(unknown_user) is Unauthenticated
    assert str(wrong_password) == str(unknown_user) == LOGIN_FAILED
    # The slow-down and lock apply to unknown usernames just the same, so they reveal nothing either.
    for username in ("sam.patel", "no.such.person"):
        fail_login(accounts, username)
        fail_login(accounts, username)
        throttled = fail_login(accounts, username)
        assert isinstance(throttled, LoginThrottled)
        assert str(throttled) == "too many failed log-ins for this username; wait 2 seconds and try again"


def test_wrong_totp_code_fails_like_a_wrong_password(accounts: AccountService, clock: FakeClock) -> None:
    totp = add_sam(accounts)
    wrong = "000000" if code(totp, clock) != "000000" else "111111"
    with pytest.raises(Unauthenticated) as caught:
        accounts.login("sam.patel", PASSWORD, wrong)
    assert str(caught.value) == LOGIN_FAILED


def test_totp_code_cannot_be_replayed(accounts: AccountService, clock: FakeClock) -> None:
    totp = add_sam(accounts)
    used = code(totp, clock)
    accounts.login("sam.patel", PASSWORD, used)
    clock.advance(seconds=5)  # still inside the code's 30-second step
    with pytest.raises(Unauthenticated) as caught:
        accounts.login("sam.patel", PASSWORD, used)
    assert str(caught.value) == LOGIN_FAILED
    clock.advance(seconds=30)
    accounts.login("sam.patel", PASSWORD, code(totp, clock))  # the next code works


def test_failed_log_ins_slow_down_exponentially(accounts: AccountService, clock: FakeClock) -> None:
    totp = add_sam(accounts)
    for _ in range(3):
        assert not isinstance(fail_login(accounts), LoginThrottled)  # three free attempts
    waits = []
    for _ in range(3):
        refused = fail_login(accounts)
        assert isinstance(refused, LoginThrottled) and not refused.locked
        waits.append(refused.retry_at - clock())
        clock.now = refused.retry_at
        assert not isinstance(fail_login(accounts), LoginThrottled)
    assert waits == [dt.timedelta(seconds=2), dt.timedelta(seconds=4), dt.timedelta(seconds=8)]
    # Even the right credentials are refused unchecked during a wait...
    with pytest.raises(LoginThrottled):
        accounts.login("sam.patel", PASSWORD, code(totp, clock))
    clock.advance(seconds=16)
    accounts.login("sam.patel", PASSWORD, code(totp, clock))  # ...and accepted after it, clearing the count
    assert not isinstance(fail_login(accounts), LoginThrottled)


def lock_out(accounts: AccountService, clock: FakeClock, source: str = "") -> LoginThrottled:
    for _ in range(10):
        error = fail_login(accounts, source=source)
        if isinstance(error, LoginThrottled):
            clock.now = error.retry_at
            error = fail_login(accounts, source=source)
        assert not isinstance(error, LoginThrottled)
    locked = fail_login(accounts, source=source)
    assert isinstance(locked, LoginThrottled) and locked.locked
    return locked


def test_ten_failures_lock_for_a_bounded_time_then_unlock_by_themselves(
    accounts: AccountService, clock: FakeClock
) -> None:
    totp = add_sam(accounts)
    locked = lock_out(accounts, clock)
    assert locked.retry_at - clock() == dt.timedelta(minutes=15)
    assert "try again in 15 minutes, or ask your council's records team to unlock it now" in str(locked)
    assert accounts.locked_until("sam.patel") == locked.retry_at
    clock.advance(minutes=14)
    with pytest.raises(LoginThrottled):
        accounts.login("sam.patel", PASSWORD, code(totp, clock))
    clock.advance(minutes=1)
    assert accounts.locked_until("sam.patel") is None
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock))
    assert accounts.authenticate(session.token).username == "sam.patel"


SAMS_DESK, STRANGER = "ipv4:10.20.0.5", "ipv4:203.0.113.9"


def test_a_strangers_guesses_from_elsewhere_do_not_lock_out_the_practitioner(
    accounts: AccountService, clock: FakeClock
) -> None:
    totp = add_sam(accounts)
    locked = lock_out(accounts, clock, source=STRANGER)
    assert "locked after 10 failed attempts" in str(locked)
    assert isinstance(fail_login(accounts, source=STRANGER), LoginThrottled)  # the stranger stays locked
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock), source=SAMS_DESK)  # Sam is not
    assert accounts.authenticate(session.token).username == "sam.patel"
    assert accounts.locked_until("sam.patel") == locked.retry_at  # the records team can see the lock


def test_guesses_from_many_sources_reach_a_ceiling_that_spares_the_practitioners_own_source(
    accounts: AccountService, clock: FakeClock
) -> None:
    totp = add_sam(accounts)
    accounts.login("sam.patel", PASSWORD, code(totp, clock), source=SAMS_DESK)  # where Sam logs in
    for n in range(5):  # 5 × 10 failures: the account's ceiling of 50
        lock_out(accounts, clock, source=f"ipv4:198.51.100.{n}")
    refused = fail_login(accounts, source="ipv4:192.0.2.77")  # a sixth source is refused unchecked
    assert isinstance(refused, LoginThrottled) and refused.locked
    assert "from new places are locked after 50 failed attempts" in str(refused)
    clock.advance(seconds=30)
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock), source=SAMS_DESK)
    assert accounts.authenticate(session.token).username == "sam.patel"
    assert accounts.unlock("sam.patel") is True  # the council lifts the ceiling at once, too
    assert not isinstance(fail_login(accounts, source="ipv4:192.0.2.77"), LoginThrottled)


def test_council_can_unlock_at_once(accounts: AccountService, clock: FakeClock) -> None:
    totp = add_sam(accounts)
    lock_out(accounts, clock)
    assert accounts.unlock("sam.patel") is True
    assert accounts.locked_until("sam.patel") is None
    accounts.login("sam.patel", PASSWORD, code(totp, clock))
    assert accounts.unlock("sam.patel") is False
    with pytest.raises(NotFound):
        accounts.unlock("no.such.person")


def test_lockout_window_is_configurable(db: Database, clock: FakeClock) -> None:
    from whoelse.node.accounts.lockout import LockoutPolicy

    accounts = AccountService(
        db,
        clock=clock,
        passwords=light_passwords(),
        lockout=LockoutPolicy(free_failures=0, lock_after=1, lock_duration=dt.timedelta(minutes=2)),
    )
    add_sam(accounts)
    fail_login(accounts)
    locked = fail_login(accounts)
    assert isinstance(locked, LoginThrottled) and locked.retry_at - clock() == dt.timedelta(minutes=2)


def test_failed_usernames_are_not_stored_readably(accounts: AccountService, db: Database) -> None:
    # People type passwords into the username box; the failure count must not keep them.
    fail_login(accounts, "MySecretPassw0rd")
    with db.session() as s:
        keys = [row.username_key for row in s.query(LoginFailureRow)]
    assert keys and all("MySecret" not in key and "mysecret" not in key for key in keys)


@pytest.mark.parametrize("cost", ["standard", "light"])
def test_the_dummy_hash_has_the_same_parameters_as_every_account(cost: str) -> None:
    passwords = Passwords.named(cost)
    made = argon2.extract_parameters(passwords.hash(PASSWORD))
    assert argon2.extract_parameters(passwords.dummy_hash) == made
    assert (made.time_cost, made.memory_cost, made.parallelism) == passwords.parameters
    if cost == "standard":
        assert passwords.parameters == (3, 64 * 1024, 4)  # RFC 9106's second recommended option


# --- sessions ---------------------------------------------------------------------------------------------


def test_session_expires_after_thirty_idle_minutes(accounts: AccountService, clock: FakeClock) -> None:
    totp = add_sam(accounts)
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock))
    clock.advance(minutes=29)
    accounts.authenticate(session.token)  # use resets the idle timer
    clock.advance(minutes=29)
    accounts.authenticate(session.token)
    clock.advance(minutes=30)
    with pytest.raises(Unauthenticated, match=r"^session expired, log in again$"):
        accounts.authenticate(session.token)


def test_session_expires_eight_hours_after_log_in_however_busy(
    accounts: AccountService, clock: FakeClock
) -> None:
    totp = add_sam(accounts)
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock))
    assert session.expires_at == clock() + dt.timedelta(hours=8)
    for _ in range(31):
        clock.advance(minutes=15)
        accounts.authenticate(session.token)
    clock.advance(minutes=15)  # 8 hours since log-in
    with pytest.raises(Unauthenticated, match="session expired"):
        accounts.authenticate(session.token)


def test_session_lifetime_is_configurable(db: Database, clock: FakeClock) -> None:
    lifetime = SessionLifetime(absolute=dt.timedelta(hours=1), idle=dt.timedelta(minutes=5))
    accounts = AccountService(db, clock=clock, passwords=light_passwords(), sessions=lifetime)
    totp = add_sam(accounts)
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock))
    clock.advance(minutes=5)
    with pytest.raises(Unauthenticated, match="session expired"):
        accounts.authenticate(session.token)


def test_logout_ends_the_session_and_only_a_token_hash_is_stored(
    accounts: AccountService, clock: FakeClock, db: Database
) -> None:
    totp = add_sam(accounts)
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock))
    with db.session() as s:
        stored = [row.token_hash for row in s.query(SessionRow)]
    assert len(stored) == 1 and session.token not in stored[0]
    accounts.logout(session.token)
    accounts.logout(session.token)  # twice is harmless
    with pytest.raises(Unauthenticated, match="not logged in"):
        accounts.authenticate(session.token)
    with pytest.raises(Unauthenticated, match="not logged in"):
        accounts.authenticate("made-up-token")


def test_expired_sessions_can_be_purged(accounts: AccountService, clock: FakeClock) -> None:
    totp = add_sam(accounts)
    accounts.login("sam.patel", PASSWORD, code(totp, clock))
    assert accounts.purge_expired_sessions() == 0
    clock.advance(minutes=31)
    assert accounts.purge_expired_sessions() == 1


# --- eligibility on every search --------------------------------------------------------------------------


def test_eligibility_is_checked_on_every_search_not_only_at_log_in(
    accounts: AccountService, clock: FakeClock
) -> None:
    # The check made on 2022-06-03 is valid today (2025-06-02) and expires at midnight.
    totp = add_sam(accounts, dbs_checked_on=dt.date(2022, 6, 3))
    clock.now = dt.datetime(2025, 6, 2, 22, 50, tzinfo=dt.UTC)  # 23:50 in England
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock))
    assert accounts.authorise_search(session.token).username == "sam.patel"
    clock.advance(minutes=15)  # 00:05 on 3 June in England (still 2 June in UTC)
    with pytest.raises(PermissionDenied, match="expired on 2025-06-03") as caught:
        accounts.authorise_search(session.token)
    assert [r.reason for r in caught.value.reasons] == [Reason.CRIMINAL_RECORDS_CHECK_EXPIRED]  # type: ignore[attr-defined]


def test_ineligible_practitioner_cannot_log_in_and_is_told_every_reason(
    accounts: AccountService, clock: FakeClock
) -> None:
    totp = add_sam(accounts, training_completed_on=None, organisation_accredited=False)
    with pytest.raises(NotEligible) as caught:
        accounts.login("sam.patel", PASSWORD, code(totp, clock))
    assert [r.reason for r in caught.value.reasons] == [
        Reason.NO_TRAINING,
        Reason.ORGANISATION_NOT_ACCREDITED,
    ]
    assert accounts.locked_until("sam.patel") is None  # right credentials are not counted as failures


def test_light_hashes_are_upgraded_at_log_in(db: Database, clock: FakeClock) -> None:
    light = make_service(db, clock)
    totp = add_sam(light)
    stronger = AccountService(db, clock=clock, passwords=Passwords(time_cost=2, memory_kib=16, parallelism=1))
    stronger.login("sam.patel", PASSWORD, code(totp, clock))
    clock.advance(seconds=30)
    stronger.login("sam.patel", PASSWORD, code(totp, clock))  # the upgraded hash still verifies
    from whoelse.node.accounts.tables import PractitionerRow

    with db.session() as s:
        encoded = s.query(PractitionerRow).one().password_hash
    assert "m=16,t=2,p=1" in encoded


def test_parallel_guesses_cannot_slip_past_the_slow_down(accounts: AccountService) -> None:
    add_sam(accounts)
    outcomes: list[str] = []

    def guess() -> None:
        try:
            accounts.login("sam.patel", "wrong password!!", "000000")
        except Unauthenticated as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["LoginThrottled"] * 17 + ["Unauthenticated"] * 3


# --- keeping accounts current -----------------------------------------------------------------------------


def test_renewed_check_recorded_by_the_council_restores_searching(
    accounts: AccountService, clock: FakeClock
) -> None:
    totp = add_sam(accounts, dbs_checked_on=dt.date(2022, 1, 1))
    with pytest.raises(NotEligible, match="expired on 2025-01-01"):
        accounts.login("sam.patel", PASSWORD, code(totp, clock))
    renewed = accounts.update("sam.patel", dbs_checked_on=dt.date(2025, 5, 20), role="Senior social worker")
    assert renewed.dbs_checked_on == dt.date(2025, 5, 20) and renewed.role == "Senior social worker"
    assert renewed.display_name == "Sam Patel"  # facts not given are unchanged
    clock.advance(seconds=30)
    session = accounts.login("sam.patel", PASSWORD, code(totp, clock))
    assert accounts.authorise_search(session.token).username == "sam.patel"
    with pytest.raises(InvalidInput, match="nothing to change"):
        accounts.update("sam.patel")
    with pytest.raises(InvalidInput, match="in the future"):
        accounts.update("sam.patel", training_completed_on=dt.date(2030, 1, 1))


def test_reset_credentials_replaces_password_and_code_and_lifts_the_lock(
    accounts: AccountService, clock: FakeClock
) -> None:
    old = add_sam(accounts)
    session = accounts.login("sam.patel", PASSWORD, code(old, clock))
    lock_out(accounts, clock)
    new = accounts.reset_credentials("sam.patel", "a brand new passphrase")
    assert new.secret != old.secret
    with pytest.raises(Unauthenticated, match="not logged in"):
        accounts.authenticate(session.token)
    clock.advance(seconds=30)
    with pytest.raises(Unauthenticated):
        accounts.login("sam.patel", PASSWORD, code(new, clock))
    with pytest.raises(Unauthenticated):
        accounts.login("sam.patel", "a brand new passphrase", code(old, clock))
    accounts.login("sam.patel", "a brand new passphrase", code(new, clock))
