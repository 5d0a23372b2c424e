"""`whoelse node practitioner ...` handlers, driven through a parser shaped like the real `whoelse node`."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

import pytest

from tests.node.accounts import FakeClock, light_passwords, make_service, open_database
from whoelse.federation.errors import InvalidInput, NotFound, WhoElseError
from whoelse.node.accounts.cli import add_practitioner_commands
from whoelse.node.accounts.credentials import totp_code
from whoelse.node.accounts.service import AccountService
from whoelse.node.storage.database import Database

ADD_SAM = [
    "add",
    "--username", "sam.patel",
    "--name", "Sam Patel",
    "--role", "Social worker",
    "--organisation", "Leeds Children's Services",
    "--contact", "0113 496 0002",
    "--manager", "Jo Manager",
    "--dbs-checked", "2024-01-15",
    "--trained", "2025-01-10",
    "--agreement-signed", "2025-01-10",
    "--accredited",
]  # fmt: skip


class Cli:
    """A `whoelse node --db PATH practitioner ...` parser built the way the lead wires it."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = str(tmp_path / "council.sqlite")
        open_database(tmp_path)  # the schema; Alembic does this in production
        self.clock = FakeClock()
        parser = argparse.ArgumentParser(prog="whoelse")
        commands = parser.add_subparsers(dest="command", required=True)
        node = commands.add_parser("node")
        node.add_argument("--db")
        node_commands = node.add_subparsers(dest="node_command", required=True)
        add_practitioner_commands(
            node_commands,
            lambda args: Database(args.db),
            service_factory=lambda db: AccountService(db, clock=self.clock, passwords=light_passwords()),
        )
        self.parser = parser

    def __call__(self, *argv: str) -> int:
        args = self.parser.parse_args(["node", "--db", self.path, "practitioner", *argv])
        result = args.handler(args)
        assert isinstance(result, int)
        return result

    def service(self) -> AccountService:
        return make_service(Database(self.path), self.clock)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_add_prints_generated_password_and_totp_once_and_they_work(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(*ADD_SAM) == 0
    out = capsys.readouterr().out
    password = re.search(r"password:\s+(\S+)", out)
    secret = re.search(r"TOTP secret:\s+(\S+)", out)
    assert password and secret
    assert "otpauth://totp/WhoElse:sam.patel" in out
    assert "May not search" not in out
    accounts = cli.service()
    session = accounts.login("sam.patel", password[1], totp_code(secret[1], cli.clock()))
    assert accounts.authorise_search(session.token).display_name == "Sam Patel"


def test_add_reads_password_from_stdin_and_says_what_is_missing(
    cli: Cli, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    trained = ADD_SAM.index("--trained")
    argv = [*ADD_SAM[:trained], *ADD_SAM[trained + 2 : -1], "--password-stdin", "--not-accredited"]
    assert cli(*argv) == 0
    out = capsys.readouterr().out
    assert "password:" not in out  # the council chose it, so it is not echoed
    assert "complete the training" in out and "not accredited" in out
    clock = cli.clock
    secret = re.search(r"TOTP secret:\s+(\S+)", out)
    assert secret
    with pytest.raises(WhoElseError, match="You may not search"):
        cli.service().login("sam.patel", "a long enough password", totp_code(secret[1], clock()))


def test_list_suspend_reinstate_end_round_trip(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    cli(*ADD_SAM)
    cli(*[a if a != "sam.patel" else "alex.jones" for a in ADD_SAM])
    capsys.readouterr()

    assert cli("suspend", "sam.patel", "--reason", "under investigation") == 0
    assert capsys.readouterr().out == "sam.patel is now suspended.\n"
    cli("list", "--json")
    listed = {row["username"]: row for row in json.loads(capsys.readouterr().out)}
    assert list(listed) == ["alex.jones", "sam.patel"]
    assert listed["sam.patel"]["status"] == "suspended"
    assert listed["sam.patel"]["status_reason"] == "under investigation"
    assert listed["sam.patel"]["may_search"] is False and listed["sam.patel"]["ineligible"] == ["suspended"]
    assert listed["alex.jones"]["may_search"] is True
    assert listed["alex.jones"]["dbs_checked_on"] == "2024-01-15"
    assert not any("password" in key or "totp" in key for key in listed["sam.patel"])

    cli("reinstate", "sam.patel")
    cli("end", "alex.jones", "--reason", "left")
    capsys.readouterr()
    cli("list")
    table = capsys.readouterr().out
    sam = next(line for line in table.splitlines() if "sam.patel" in line)
    alex = next(line for line in table.splitlines() if "alex.jones" in line)
    assert "active" in sam and "yes" in sam
    assert "ended" in alex and "no: ended" in alex


def test_unlock_lifts_a_lock_shown_in_the_list(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    cli(*ADD_SAM)
    accounts = cli.service()
    for _ in range(10):
        try:
            accounts.login("sam.patel", "wrong password!!", "000000")
        except WhoElseError as error:
            retry_at = getattr(error, "retry_at", None)
            if retry_at is not None:
                cli.clock.now = retry_at
                with pytest.raises(WhoElseError):
                    accounts.login("sam.patel", "wrong password!!", "000000")
    capsys.readouterr()
    cli("list", "--json")
    [row] = json.loads(capsys.readouterr().out)
    assert row["locked_until"] is not None
    assert cli("unlock", "sam.patel") == 0
    assert capsys.readouterr().out == "sam.patel may log in again now.\n"
    cli("list", "--json")
    assert json.loads(capsys.readouterr().out)[0]["locked_until"] is None


def test_db_may_be_given_at_any_level(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    cli(*ADD_SAM)
    capsys.readouterr()
    for argv in (
        ["node", "practitioner", "list", "--json", "--db", cli.path],
        ["node", "practitioner", "--db", cli.path, "list", "--json"],
        ["node", "--db", cli.path, "practitioner", "list", "--json"],
    ):
        args = cli.parser.parse_args(argv)
        assert args.handler(args) == 0
        assert json.loads(capsys.readouterr().out)[0]["username"] == "sam.patel"


@pytest.mark.parametrize(
    ("argv", "error", "match"),
    [
        (
            [*ADD_SAM[:-7], "--dbs-checked", "15/01/2024"],
            InvalidInput,
            "--dbs-checked: expected a date as YYYY-MM-DD",
        ),
        (["suspend", "nobody", "--reason", "x"], NotFound, "no account with username 'nobody'"),
        (["reinstate", "sam.patel"], InvalidInput, "is active; cannot make it active"),
    ],
)
def test_bad_input_is_a_one_line_error(cli: Cli, argv: list[str], error: type[Exception], match: str) -> None:
    cli(*ADD_SAM)
    with pytest.raises(error, match=match) as caught:
        cli(*argv)
    assert "\n" not in str(caught.value)


def test_update_and_reset(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    cli(*[a for a in ADD_SAM if a != "--accredited"])
    assert "organisation (Leeds Children's Services) is not accredited" in capsys.readouterr().out
    assert cli("update", "sam.patel", "--accredited", "--dbs-checked", "2025-05-01") == 0
    assert capsys.readouterr().out == "Updated sam.patel.\nMay search.\n"
    assert cli.service().get("sam.patel").dbs_checked_on.isoformat() == "2025-05-01"  # type: ignore[union-attr]
    assert cli("reset", "sam.patel") == 0
    out = capsys.readouterr().out
    password = re.search(r"password:\s+(\S+)", out)
    secret = re.search(r"TOTP secret:\s+(\S+)", out)
    assert password and secret
    accounts = cli.service()
    accounts.login("sam.patel", password[1], totp_code(secret[1], cli.clock()))
