"""The architecture in the file tree holds: node/ and directory/ never import each other, federation/
imports neither (except the CLI's named providers), nothing in the product imports the harness (demo,
benchmarks, synthetic data), everything is imported under the one `whoelse.*` namespace, and domain modules
know nothing of gRPC."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI_PROVIDERS = {"federation/cli.py"}  # imports providers by name at run time, never at module load
PARTS = ("node", "directory", "federation", "harness")
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


def imported_names(path: Path) -> set[str]:
    """Every absolute module name that path imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def imported_packages(path: Path) -> set[str]:
    """What path imports: a project part by its name (whoelse.node.cli -> node), others by their top."""
    parts = set()
    for name in imported_names(path):
        top, _, rest = name.partition(".")
        parts.add(rest.split(".")[0] if top == "whoelse" and rest.split(".")[0] in PARTS else top)
    return parts


def python_files() -> list[Path]:
    return [p for part in (*PARTS, "tests", "examples", "docker") for p in (ROOT / part).rglob("*.py")]


def test_everything_is_imported_under_the_whoelse_namespace() -> None:
    """The parts are installed as whoelse.node, whoelse.directory, …; a bare `import node` would only work in
    a checkout, and would load a second copy of the module beside the installed one."""
    offenders = [
        f"{p.relative_to(ROOT)}: {name}"
        for p in python_files()
        for name in imported_names(p)
        if name.split(".")[0] in PARTS
    ]
    assert offenders == []


@pytest.mark.parametrize("package", ["node", "directory", "federation"])
def test_the_product_never_imports_the_harness(package: str) -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / package).rglob("*.py")
        if str(p.relative_to(ROOT)) not in CLI_PROVIDERS and "harness" in imported_packages(p)
    ]
    assert offenders == []


def test_node_holds_one_councils_parts_and_nothing_else() -> None:
    """The demo, the local federation, synthetic data and the benchmarks drive the product from outside."""
    strays = sorted(
        p.name
        for p in (ROOT / "node").iterdir()
        if p.name.startswith(("bench", "demo", "local_federation", "synth", "review"))
    )
    assert strays == []


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
    assert "node" in imported_packages(ROOT / "harness" / "cli.py")
    assert "grpc" in imported_packages(ROOT / "node" / "servicer.py")
