"""The README's main command: `whoelse demo` starts a working federation and stops it again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def whoelse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whoelse.federation.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/status").read_text().count("State:\tZ")


def test_demo_detach_search_and_stop(tmp_path: Path) -> None:
    started = whoelse("demo", "--detach", "--dir", str(tmp_path), "--councils", "3", "--children", "60")
    assert started.returncode == 0, started.stderr
    assert "Handshake" not in started.stderr + started.stdout  # no TLS noise on the terminal
    # Start-up says what it is doing, as it does it.
    assert "directory listening on port" in started.stdout
    assert "3 of 3 councils ready" in started.stdout
    # Every server bound port 0 itself: no port was picked early for someone else to take meanwhile.
    for config in (tmp_path / "nodes").glob("*.yaml"):
        listens = json.loads(config.read_text())
        assert listens["listen_federation"] == listens["listen_practitioner"] == "127.0.0.1:0"
    state = json.loads((tmp_path / "federation.json").read_text())
    pids = [state["directory"]["pid"], *(c["pid"] for c in state["councils"])]
    try:
        assert [c["name"] for c in state["councils"]] == ["Leeds", "Bradford", "Wakefield"]
        assert all(running(pid) for pid in pids)
        assert (tmp_path / "federation.json").stat().st_mode & 0o077 == 0  # holds demo credentials
        sample = state["samples"][0]
        found = whoelse(
            "search",
            "--dir",
            str(tmp_path),
            "--as",
            sample["as"],
            "--forename",
            sample["forename"],
            "--surname",
            sample["surname"],
            "--dob",
            sample["dob"],
            "--sex",
            sample["sex"],
            "--purpose",
            "safeguarding",
            "--json",
        )
        assert found.returncode == 0, found.stderr
        result = json.loads(found.stdout)
        assert set(sample["held_by"]) <= {r["council"] for r in result["results"]}
        assert result["unanswered"] == []
        # each council's web portal answers, and `whoelse demo totp` gives a sign-in code
        for council in state["councils"]:
            with urllib.request.urlopen(council["portal"] + "sign-in", timeout=10) as page:
                assert b"Sign in" in page.read()
        code = whoelse("demo", "totp", sample["as"], "--dir", str(tmp_path))
        assert code.returncode == 0 and code.stdout.strip().isdigit(), code.stderr
        unknown = whoelse(
            "search",
            "--dir",
            str(tmp_path),
            "--as",
            "nobody@nowhere",
            "--forename",
            "A",
            "--surname",
            "B",
            "--dob",
            "2015-01-01",
            "--purpose",
            "education",
        )
        assert unknown.returncode == 2
        assert unknown.stderr.strip().startswith("whoelse: error: no practitioner 'nobody@nowhere'")
        status = whoelse("demo", "status", "--dir", str(tmp_path), "--json")
        assert status.returncode == 0, status.stderr
        rows = json.loads(status.stdout)
        assert [r["name"] for r in rows] == ["directory", "Leeds", "Bradford", "Wakefield"]
        assert all(r["running"] for r in rows) and all(r["serving"] for r in rows[1:])
    finally:
        stopped = whoelse("demo", "stop", "--dir", str(tmp_path))
    assert stopped.returncode == 0
    assert not any(running(pid) for pid in pids)
    after = whoelse("demo", "status", "--dir", str(tmp_path))
    assert after.returncode == 1  # scripts can tell it is down
    assert after.stdout.count("STOPPED") == 4
