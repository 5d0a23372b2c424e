"""Every change an operator makes to a practitioner account is in the council's audit log (P5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from federation.cli import main
from node.audit import AUDIT_LOG
from node.storage.database import Database


def test_account_changes_are_audited_with_who_did_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "leeds.sqlite")
    assert main(["node", "init", "--db", db, "--council", "E08000035", "--name", "Leeds"]) == 0
    add = [
        "node",
        "practitioner",
        "add",
        "--db",
        db,
        "--username",
        "sam",
        "--name",
        "Sam Patel",
        "--role",
        "Social worker",
        "--organisation",
        "Leeds",
        "--contact",
        "0113 496 0002",
    ]
    assert main(add) == 0
    assert main(["node", "practitioner", "suspend", "sam", "--reason", "left", "--db", db]) == 0
    assert main(["node", "practitioner", "list", "--db", db]) == 0  # reading is not a change
    assert (
        main(["node", "practitioner", "suspend", "nobody", "--reason", "x", "--db", db]) == 2
    )  # refused: no entry
    capsys.readouterr()
    database = Database(db)
    with database.session() as session:
        entries = [json.loads(e) for (e,) in session.execute(select(AUDIT_LOG.entries.c.entry))]
    database.dispose()
    events = [
        (e["entry"]["username"], e["entry"]["action"])
        for e in entries
        if e["entry"]["kind"] == "account_event"
    ]
    assert events == [("sam", "add"), ("sam", "suspend")]
