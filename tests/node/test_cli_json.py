"""Every `whoelse node` command that prints results can print them as JSON, and `node search` also as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whoelse.federation.cli import main

SAM = ["--username", "sam.patel", "--name", "Sam Patel", "--role", "Social worker",
       "--organisation", "Leeds", "--contact", "0113 496 0002"]  # fmt: skip
ZOE = {
    "record_id": "LDS-0001",
    "forename": "Zoe",
    "surname": "Smith",
    "date_of_birth": "2015-03-07",
    "sex": "F",
    "address": {"line1": "1 High Street", "postcode": "LS6 2AB"},
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_account_import_and_search_commands_print_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "leeds.sqlite")
    run(capsys, "node", "init", "--db", db, "--council", "E08000035", "--name", "Leeds")

    added = json.loads(run(capsys, "node", "practitioner", "add", *SAM, "--db", db, "--json"))
    assert (added["username"], added["may_search"]) == ("sam.patel", False)
    assert added["password"] and added["totp_secret"] and added["totp_uri"].startswith("otpauth://")
    updated = json.loads(run(capsys, "node", "practitioner", "update", "sam.patel", "--role", "Manager",
                             "--db", db, "--json"))  # fmt: skip
    assert updated["role"] == "Manager" and "totp_secret" not in updated
    reset = json.loads(run(capsys, "node", "practitioner", "reset", "sam.patel", "--db", db, "--json"))
    assert reset["totp_secret"] != added["totp_secret"]

    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps(ZOE) + "\n", encoding="utf-8")
    imported = json.loads(run(capsys, "node", "import", str(records), "--db", db, "--quiet", "--json"))
    assert (imported["file"], imported["imported"], imported["exit_status"]) == ("records.jsonl", 1, 0)

    search = ["node", "search", "--db", db, "--forename", "Zoe", "--surname", "Smith", "--dob", "2015-03-07"]
    assert "LDS-0001: Zoe Smith, born 2015-03-07" in run(capsys, *search)
    [found] = json.loads(run(capsys, *search, "--json"))
    assert found["record_id"] == "LDS-0001"
