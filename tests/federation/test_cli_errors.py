"""The `whoelse` command's small promises: a version, one-line errors for bad input, no traceback when its
output is cut short."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from whoelse.federation.cli import build_parser, main
from whoelse.federation.errors import InvalidInput
from whoelse.federation.practitioner_client import load_account

IDENTITY = ["--as", "sam", "--forename", "Zoe", "--surname", "Smith", "--purpose", "safeguarding"]


def test_the_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("whoelse 0.")


def test_a_purpose_is_taken_in_any_case() -> None:
    args = build_parser().parse_args(["search", *IDENTITY[:-1], "Safeguarding", "--dob", "2015-03-07"])
    assert args.purpose == "safeguarding"


def test_a_short_totp_secret_in_the_federation_file_is_named(tmp_path: Path) -> None:
    federation = tmp_path / "federation.json"
    federation.write_text(
        json.dumps(
            {
                "ca_file": "ca.crt",
                "councils": [{"code": "E08000035", "practitioner_endpoint": "localhost:1"}],
                "practitioners": [
                    {"council": "E08000035", "username": "sam", "password": "pw", "totp_secret": "ABCDEF"}
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match="practitioner sam: totp_secret is not a base32 TOTP secret"):
        load_account(federation, "sam")


def test_output_cut_short_by_its_reader_ends_quietly(tmp_path: Path) -> None:
    db = str(tmp_path / "leeds.sqlite")
    assert main(["node", "init", "--db", db, "--council", "E08000035", "--name", "Leeds"]) == 0
    # Like `whoelse node audit checkpoint --json | head -0`: the reader is gone before anything is written.
    proc = subprocess.Popen(
        [sys.executable, "-m", "whoelse.federation.cli", "node", "audit", "checkpoint", "--json", "--db", db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err
