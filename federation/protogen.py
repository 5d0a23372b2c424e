"""The one build step for the wire contract: compile proto/whoelse/v1/*.proto next to the sources.

Run `python -m whoelse.federation.protogen` after editing a .proto file;
tests/federation/test_protogen.py fails when the committed generated code is stale.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"


def proto_files(root: Path = PROTO_ROOT) -> list[Path]:
    return sorted((root / "whoelse" / "v1").glob("*.proto"))


def generate(out_dir: Path = PROTO_ROOT) -> None:
    """Generate *_pb2.py, *_pb2_grpc.py and *_pb2.pyi for every contract file into out_dir/whoelse/v1."""
    from grpc_tools import protoc

    sources = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    # mypy-protobuf's plugins live beside this interpreter, which need not be on PATH.
    bindir = Path(sys.executable).parent
    plugins = []
    for name in ("mypy", "mypy_grpc"):
        path = shutil.which(f"protoc-gen-{name}", path=str(bindir)) or shutil.which(f"protoc-gen-{name}")
        if path:
            plugins.append(f"--plugin=protoc-gen-{name}={path}")
    args = [
        "grpc_tools.protoc",
        *plugins,
        f"-I{PROTO_ROOT}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package in (out_dir / "whoelse", out_dir / "whoelse" / "v1"):
        init = package / "__init__.py"
        if not init.exists():
            init.write_text(
                '"""Generated WhoElse wire contract (do not edit; see federation/protogen.py)."""\n'
            )


if __name__ == "__main__":
    generate()
    sys.exit(0)
