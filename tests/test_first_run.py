"""A newcomer's first commands: only `init` creates a database; every other command refuses a mistyped or
uninitialised one with one line and a non-zero exit, before printing a secret or creating a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from whoelse.federation.cli import main
from whoelse.node.storage.database import Database

SAM = [
    "--username", "sam.patel", "--name", "Sam Patel", "--role", "Social worker",
    "--organisation", "Leeds Children's Services", "--contact", "0113 496 0002", "--manager", "Jo Manager",
    "--dbs-checked", "2025-01-15", "--trained", "2025-01-10", "--agreement-signed", "2025-01-10",
    "--accredited",
]  # fmt: skip
NODE_COMMANDS = [
    ["node", "practitioner", "add", *SAM],
    ["node", "practitioner", "list"],
    ["node", "practitioner", "unlock", "sam.patel"],
    ["node", "import", "RECORDS"],  # an existing file (below): the database is what is wrong
    ["node", "keys"],
    ["node", "migrate"],
    ["node", "search", "--forename", "Zoe", "--surname", "Smith", "--dob", "2015-03-07"],
    ["node", "sar", "L-1"],
    ["node", "audit", "checkpoint"],
    ["node", "alerts", "undelivered"],
]
DIRECTORY_COMMANDS = [
    ["directory", "list"],
    ["directory", "oprf-keys"],
    ["directory", "approve", "E08000035"],
]


def with_records(tmp_path: Path, argv: list[str]) -> list[str]:
    """`argv` with RECORDS replaced by a records file that exists."""
    records = tmp_path / "records.jsonl"
    records.write_text("{}\n", encoding="utf-8")
    return [str(records) if arg == "RECORDS" else arg for arg in argv]


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", NODE_COMMANDS + DIRECTORY_COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_a_mistyped_database_is_refused_and_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    argv = with_records(tmp_path, argv)
    folder = tmp_path / "databases"
    folder.mkdir()
    typo = folder / "typo.sqlite"
    code, out, err = run(capsys, [*argv, "--db", str(typo)])
    assert code == 2
    assert out == ""  # no password or TOTP secret handed over for an account that was never made
    init = "whoelse node init" if argv[0] == "node" else "whoelse directory init"
    assert (
        err == f"whoelse: error: {'database' if argv[0] == 'node' else 'db'}: no database at {typo}; "
        f"create it with `{init} --db {typo} …`\n"
    )
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("argv", NODE_COMMANDS + DIRECTORY_COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_an_uninitialised_database_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    argv = with_records(tmp_path, argv)
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    code, out, err = run(capsys, [*argv, "--db", str(empty)])
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and f"{empty} is not initialised; create it with `whoelse" in err


def test_a_search_must_give_its_purpose(capsys: pytest.CaptureFixture[str]) -> None:
    identity = ["--as", "sam", "--forename", "Zoe", "--surname", "Smith", "--dob", "2015-03-07"]
    with pytest.raises(SystemExit) as refused:
        main(["search", *identity])
    assert refused.value.code == 2
    assert "the following arguments are required: --purpose" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["search", *identity, "--purpose", "curiosity"])
    assert "purpose 'curiosity' is not a lawful purpose" in capsys.readouterr().err


def modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mode & 0o777 for p in sorted(folder.rglob("*"))}


def test_init_creates_the_databases_and_their_folders_readable_by_the_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The usual umask would leave a new file 0644: readable by every local user. These files hold every
    # record, the practitioners' credentials and (the directory's folder) its signing and match-token keys.
    previous = os.umask(0o022)
    try:
        leeds = ["--db", str(tmp_path / "node" / "leeds" / "node.sqlite")]
        assert run(capsys, ["node", "init", *leeds, "--council", "E08000035", "--name", "Leeds"])[0] == 0
        keys = tmp_path / "dir" / "keys"
        directory = ["--db", str(tmp_path / "dir" / "directory.sqlite"), "--dir", str(keys)]
        assert run(capsys, ["directory", "init", *directory])[0] == 0
        db = Database(leeds[1])  # a server's open connection: the WAL and shared-memory files exist
        with db.session() as session:
            session.execute(text("CREATE TABLE scratch (x INTEGER)"))
        wal = {"node.sqlite-wal", "node.sqlite-shm"}
        assert {p.name for p in (tmp_path / "node" / "leeds").iterdir()} >= wal
        found = modes(tmp_path)
        db.dispose()
    finally:
        os.umask(previous)
    folders = {"node", "node/leeds", "node/leeds/node.sqlite-keys", "dir", "dir/keys"}
    assert {name: mode for name, mode in found.items() if name in folders} == dict.fromkeys(folders, 0o700)
    databases = {name: mode for name, mode in found.items() if ".sqlite" in name and "-keys" not in name}
    assert set(databases) >= {"node/leeds/node.sqlite", "node/leeds/node.sqlite-wal", "dir/directory.sqlite"}
    assert set(databases.values()) == {0o600}
    assert found["dir/keys/directory-signing.key"] == 0o600
    key_folder = "node/leeds/node.sqlite-keys/"
    node_keys = {name[len(key_folder) :]: mode for name, mode in found.items() if name.startswith(key_folder)}
    assert set(node_keys) == {"signing.key", "sealing.key", "tag.key", "totp.key"}
    assert set(node_keys.values()) == {0o600}


def test_no_database_init_creates_holds_a_secret_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every secret key `init` makes is in a key file, never in a database (a byte scan of each database and
    its WAL for every key file's bytes, raw and as the hex the file holds)."""
    node_db = tmp_path / "node" / "leeds.sqlite"
    init = ["node", "init", "--db", str(node_db), "--council", "E08000035", "--name", "Leeds"]
    assert run(capsys, init)[0] == 0
    keys = tmp_path / "dir" / "keys"
    directory_db = tmp_path / "dir" / "directory.sqlite"
    assert run(capsys, ["directory", "init", "--db", str(directory_db), "--dir", str(keys)])[0] == 0
    secrets = [*keys.glob("*.key"), *(tmp_path / "node" / "leeds.sqlite-keys").glob("*.key")]
    assert {p.name for p in secrets} >= {"directory-signing.key", "signing.key", "sealing.key", "tag.key"}
    assert any(p.name.startswith("oprf-") for p in secrets)
    databases = b"".join(p.read_bytes() for p in tmp_path.rglob("*.sqlite*") if p.is_file())
    for path in secrets:
        hex_text = path.read_text(encoding="ascii").strip()
        for form in (hex_text.encode(), hex_text.upper().encode(), bytes.fromhex(hex_text)):
            assert form not in databases, f"{path.name} is in a database"
