"""Tests for practitioner accounts; shared helpers (a movable clock, a service on a fresh database)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from whoelse.node.accounts.credentials import Passwords
from whoelse.node.accounts.service import AccountService
from whoelse.node.storage.base import Base
from whoelse.node.storage.database import Database

START = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2025, 6, 2)
PASSWORD = "correct horse battery staple"


class FakeClock:
    """A clock tests move by hand, so nothing sleeps."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def light_passwords() -> Passwords:
    """argon2id with the smallest parameters, so tests stay fast; production uses RFC 9106 defaults."""
    return Passwords(time_cost=1, memory_kib=8, parallelism=1)


def open_database(tmp_path: Path) -> Database:
    db = Database(str(tmp_path / "council.sqlite"))
    Base.metadata.create_all(db.engine)
    db.key_store.ensure()  # the keys `whoelse node init` makes: the TOTP key among them
    return db


def make_service(db: Database, clock: FakeClock) -> AccountService:
    return AccountService(db, clock=clock, passwords=light_passwords())
