"""An example case-management system calling a council node's records API (docs/records-api.md).

    python examples/records_api_client.py --target localhost:7301 --ca ca.crt \
        --cert mosaic.crt --key mosaic.key upsert examples/records.jsonl

Sends each child in a JSON Lines file (the import format) as UpsertChild, reading each record's version
first so the change starts from what the node holds; a retry of the same line reuses its change id, so it
is never applied twice. Prints one line per child and exits 1 if any change was refused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import grpc
from google.protobuf import json_format

from whoelse.v1 import closed_sets_pb2 as cs
from whoelse.v1 import records_api_pb2 as ra
from whoelse.v1 import records_api_pb2_grpc


def change_id(line: str) -> str:
    """The same line always gets the same change id, so re-running the file after a failure is safe."""
    return "example-" + hashlib.sha256(line.encode()).hexdigest()[:32]


# The import format writes sex as F, M or U; the records API carries it as an enum.
SEXES = {"F": cs.SEX_FEMALE, "M": cs.SEX_MALE, "U": cs.SEX_NOT_KNOWN}


def child_input(row: dict[str, object]) -> ra.ChildInput:
    """One import-format record as the API's message (a value the API has no enum for is sent as written,
    so the node's refusal names it)."""
    sex = str(row.pop("sex", "") or "")
    child = json_format.ParseDict(row, ra.ChildInput())
    if sex in SEXES:
        child.sex = SEXES[sex]
    else:
        child.legacy_sex = sex
    return child


def upsert(stub: records_api_pb2_grpc.RecordsStub, path: Path) -> int:
    refused = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            child = child_input(json.loads(line))
        except (ValueError, json_format.ParseError) as exc:
            print(f"{path.name} line {number}: cannot send: {exc}")
            refused += 1
            continue
        version = stub.GetVersion(ra.GetVersionRequest(record_id=child.record_id)).version
        change = ra.Change(change_id=change_id(line), expected_version=version)
        try:
            reply = stub.UpsertChild(ra.UpsertChildRequest(change=change, child=child), timeout=10)
        except grpc.RpcError as exc:
            print(f"{path.name} line {number}: {exc.code().name}: {exc.details()}")  # type: ignore[attr-defined]
            refused += 1
            continue
        again = " (already applied)" if reply.replayed else ""
        print(f"{reply.record_id}: version {reply.version}{again}")
    return 1 if refused else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="the node's records API, HOST:PORT")
    parser.add_argument("--ca", required=True, help="the federation CA certificate")
    parser.add_argument("--cert", required=True, help="this system's certificate (whoelse node system add)")
    parser.add_argument("--key", required=True, help="this system's private key")
    parser.add_argument("action", choices=["upsert"])
    parser.add_argument("file", type=Path, help="children in the import format, one JSON object a line")
    args = parser.parse_args()
    credentials = grpc.ssl_channel_credentials(
        Path(args.ca).read_bytes(), Path(args.key).read_bytes(), Path(args.cert).read_bytes()
    )
    with grpc.secure_channel(args.target, credentials) as channel:
        return upsert(records_api_pb2_grpc.RecordsStub(channel), args.file)


if __name__ == "__main__":
    sys.exit(main())
