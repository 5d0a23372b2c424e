"""The README's tour, run as written against a fresh `whoelse demo`, so the README cannot drift from the
code: every command in its "A short tour" block must succeed and show what the README says it shows."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def tour_commands() -> list[list[str]]:
    """The `whoelse` commands in the README's tour block: continuation lines joined, comments dropped."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A short tour", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the README's tour has no ```sh block"
    joined = block.group(1).replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


def whoelse(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert args[0] == "whoelse"
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "whoelse.federation.cli", *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    commands = tour_commands()
    assert [c[:2] for c in commands] == [
        ["whoelse", "search"],
        ["whoelse", "alerts"],
        ["whoelse", "node"],
        ["whoelse", "node"],
        ["whoelse", "audit"],
    ]
    started = whoelse(["whoelse", "demo", "--detach"], tmp_path)  # the README's default demo
    assert started.returncode == 0, started.stderr
    try:
        search, alerts, sar, keys, verify = (whoelse(c, tmp_path) for c in commands)
    finally:
        whoelse(["whoelse", "demo", "stop"], tmp_path)
    for done in (search, alerts, sar, keys, verify):
        assert done.returncode == 0, f"{shlex.join(done.args[3:])}: {done.stderr}"
    assert "Sian Hammond-Mason, born 2021-06-05" in search.stdout
    assert "Bradford (E08000032)" in search.stdout
    assert "Leeds" in sar.stdout  # the search just made, from a Leeds practitioner
    assert '"signing_key"' in keys.stdout
    assert "result: OK" in verify.stdout
