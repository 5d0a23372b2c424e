"""Demo accounts are hashed at the node's own password cost, so a log-in's time does not tell a demo
username from a real one (or from one that does not exist)."""

from __future__ import annotations

import json
from pathlib import Path

import argon2
from sqlalchemy import select

from whoelse.federation.cli import main
from whoelse.node.accounts.credentials import Passwords
from whoelse.node.accounts.tables import PractitionerRow
from whoelse.node.storage.database import Database


def test_seeded_demo_accounts_use_the_standard_cost(tmp_path: Path) -> None:
    db_path = str(tmp_path / "leeds.sqlite")
    assert main(["node", "init", "--db", db_path, "--council", "E08000035", "--name", "Leeds"]) == 0
    staff = tmp_path / "practitioners.jsonl"
    entry = {
        "council": "E08000035",
        "username": "kim@leeds",
        "name": "Kim Ray",
        "role": "Health visitor",
        "organisation": "Leeds Health Visiting",
        "contact": "0113 000 0000",
    }
    staff.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    out = tmp_path / "credentials.json"
    assert main(["node", "seed-practitioners", "--db", db_path, "--from", str(staff), "--out", str(out)]) == 0

    db = Database(db_path)
    with db.session() as session:
        [stored] = session.scalars(select(PractitionerRow.password_hash)).all()
    db.dispose()
    standard = Passwords.named("standard")
    assert not standard.needs_rehash(stored)
    assert argon2.extract_parameters(stored) == argon2.extract_parameters(standard.dummy_hash)
