"""The architecture in the file tree holds: node/ and directory/ never import each other, federation/
imports neither (except the CLI's named providers), and domain modules know nothing of gRPC."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI_PROVIDERS = {"federation/cli.py"}  # imports providers by name at run time, never at module load
DOMAIN = [
    "node/records.py",
    "node/validation.py",
    "node/disclosure.py",
    "node/scoring.py",
    "node/matching.py",
    "node/importer.py",
    "node/alerts/events.py",
    "node/accounts/eligibility.py",
    "federation/identity.py",
    "federation/match_keys.py",
    "federation/oprf.py",
    "federation/merkle.py",
    "federation/sealing.py",
    "federation/signing.py",
    "directory/registry.py",
]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(("package", "forbidden"), [("node", "directory"), ("directory", "node")])
def test_node_and_directory_never_import_each_other(package: str, forbidden: str) -> None:
    offenders = [
        str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*.py") if forbidden in imported_packages(p)
    ]
    assert offenders == []


def test_federation_imports_neither_side() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "federation").rglob("*.py")
        if str(p.relative_to(ROOT)) not in CLI_PROVIDERS and imported_packages(p) & {"node", "directory"}
    ]
    assert offenders == []


@pytest.mark.parametrize("module", DOMAIN)
def test_domain_modules_know_nothing_of_grpc(module: str) -> None:
    assert "grpc" not in imported_packages(ROOT / module)


def test_the_checker_sees_imports() -> None:
    """Guard against a checker that passes because it finds nothing."""
    assert "directory" in imported_packages(ROOT / "tests" / "integration" / "harness.py")
    assert "grpc" in imported_packages(ROOT / "node" / "servicer.py")
