"""What `pip install .` / `pip wheel .` may pick up: the project's packages, never a demo's output."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_package_patterns_cannot_pick_up_demo_output() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    for demo_output in ("whoelse-demo", "whoelse-demo.sessions", "whoelse_demo", "var", "sessions"):
        assert not any(fnmatch(demo_output, p) for p in patterns), demo_output
    for package in ("node", "node.alerts", "directory", "federation", "whoelse.v1"):
        assert any(fnmatch(package, p) for p in patterns), package
