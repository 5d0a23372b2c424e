"""What `pip wheel .` builds: the one `whoelse` namespace, with every part and its data, and never a demo's
output (demo passwords and TOTP secrets) even after the demo has run in the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The file names inside a wheel built from a copy of the checkout in which the demo has run."""
    work = tmp_path_factory.mktemp("wheel")
    tree = work / "tree"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        source = REPO / name.decode()
        target = tree / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        elif source.is_file():
            shutil.copy2(source, target)
    demo = tree / "whoelse-demo"
    (demo / "sessions").mkdir(parents=True)
    (demo / "federation.json").write_text('{"password": "demo-secret"}', encoding="utf-8")
    (demo / "sessions" / "alice.json").write_text("{}", encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(work / "out"),
            str(tree),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (work / "out").glob("whoelse-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_installs_one_namespace(wheel_names: set[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"whoelse"}


def test_the_wheel_holds_every_part_and_its_data(wheel_names: set[str]) -> None:
    for name in (
        "whoelse/v1/records_pb2.py",
        "whoelse/node/cli.py",
        "whoelse/node/portal/templates/search.html",
        "whoelse/node/migrations/versions/0001_initial.py",
        "whoelse/directory/server.py",
        "whoelse/federation/cli.py",
        "whoelse/federation/data/nicknames.csv",
        "whoelse/harness/demo.py",
        "whoelse/harness/data/councils.csv",
        "whoelse/harness/review/linddun.csv",
    ):
        assert name in wheel_names, name


def test_the_wheel_holds_no_demo_output(wheel_names: set[str]) -> None:
    leaked = [name for name in wheel_names if "whoelse-demo" in name or "sessions/" in name]
    assert leaked == []
    assert not [name for name in wheel_names if name.endswith("federation.json")]
