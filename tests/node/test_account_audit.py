"""Every change an operator makes to a practitioner account is in the council's audit log (P5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from whoelse.federation.cli import main
from whoelse.node.audit import AUDIT_LOG
from whoelse.node.storage.database import Database


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


def test_the_records_team_role_is_stored_with_the_account_and_each_grant_is_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "leeds.sqlite")
    assert main(["node", "init", "--db", db, "--council", "E08000035", "--name", "Leeds"]) == 0
    facts = ["--name", "Rae Records", "--role", "Records officer", "--organisation", "Leeds",
             "--contact", "0113 496 0003"]  # fmt: skip
    add = ["node", "practitioner", "add", "--db", db]
    update = ["node", "practitioner", "update", "--db", db]
    assert main([*add, "--username", "rae", *facts, "--records-team"]) == 0
    assert main([*add, "--username", "sam", *facts]) == 0
    capsys.readouterr()
    assert main(["node", "practitioner", "list", "--db", db, "--json"]) == 0
    listed = {a["username"]: a["records_team"] for a in json.loads(capsys.readouterr().out)}
    assert listed == {"rae": True, "sam": False}

    assert main([*update, "sam", "--records-team"]) == 0
    assert main([*update, "rae", "--not-records-team"]) == 0
    assert main([*update, "sam", "--role", "Senior records officer"]) == 0
    with pytest.raises(SystemExit) as both:  # one or the other, refused by the argument parser
        main([*update, "sam", "--records-team", "--not-records-team"])
    assert both.value.code == 2
    capsys.readouterr()
    assert main(["node", "practitioner", "list", "--db", db, "--json"]) == 0
    listed = {a["username"]: a["records_team"] for a in json.loads(capsys.readouterr().out)}
    assert listed == {"rae": False, "sam": True}

    database = Database(db)
    with database.session() as session:
        entries = [json.loads(e)["entry"] for (e,) in session.execute(select(AUDIT_LOG.entries.c.entry))]
    database.dispose()
    assert [(e["username"], e["action"]) for e in entries if e["kind"] == "account_event"] == [
        ("rae", "add: records team granted"),
        ("sam", "add"),
        ("sam", "update: records team granted"),
        ("rae", "update: records team withdrawn"),
        ("sam", "update"),
    ]
