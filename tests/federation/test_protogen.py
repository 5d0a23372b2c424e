"""The committed generated code is exactly what the one build step produces from proto/whoelse/v1."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from whoelse.federation.protogen import PROTO_ROOT, generate, proto_files


def test_generated_code_is_current(tmp_path: Path) -> None:
    generate(tmp_path)
    produced = sorted(p.name for p in (tmp_path / "whoelse" / "v1").iterdir() if p.suffix in (".py", ".pyi"))
    committed = sorted(
        p.name for p in (PROTO_ROOT / "whoelse" / "v1").iterdir() if p.suffix in (".py", ".pyi")
    )
    assert produced == committed, "run `python -m whoelse.federation.protogen` and commit the result"
    _, mismatch, errors = filecmp.cmpfiles(
        tmp_path / "whoelse" / "v1", PROTO_ROOT / "whoelse" / "v1", produced, shallow=False
    )
    assert (mismatch, errors) == ([], []), "run `python -m whoelse.federation.protogen` and commit the result"


def test_a_stale_file_would_be_caught(tmp_path: Path) -> None:
    generate(tmp_path)
    stale = tmp_path / "whoelse" / "v1" / "node_pb2.py"
    stale.write_text(stale.read_text() + "\n# edited by hand\n")
    assert not filecmp.cmp(stale, PROTO_ROOT / "whoelse" / "v1" / "node_pb2.py", shallow=False)
    assert len(proto_files()) >= 4
    shutil.rmtree(tmp_path / "whoelse")
