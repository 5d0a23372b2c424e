"""Write a council container's federation.json, so `whoelse search --dir DIR --as USER` works inside it.

The file has the shape `whoelse demo` writes (federation/practitioner_client.py reads it): the CA file,
this council's practitioner endpoint, its demo practitioners' credentials, and a few sample searches for
children that the synthetic data places in two or more councils. It holds passwords, so it is mode 0600.
Run by docker/node-entrypoint.sh with the image's Python; it imports nothing from WhoElse on purpose, so
it only depends on the file formats.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SAMPLES = 5


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def samples(data: Path, limit: int = SAMPLES) -> list[dict[str, Any]]:
    """Searches that each find a child held by two or more councils (as the first holder recorded it)."""
    truth = _jsonl(data / "ground_truth.jsonl")
    shared = [t for t in truth if len({c["council"] for c in t["copies"]}) >= 2]
    wanted: dict[str, set[str]] = {}
    for t in shared:
        first = t["copies"][0]
        wanted.setdefault(first["council"], set()).add(first["record_id"])
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for council, ids in wanted.items():
        path = data / f"{council}.jsonl"
        if path.is_file():
            for row in _jsonl(path):
                if row["record_id"] in ids:
                    records[(council, row["record_id"])] = row
    out = []
    for t in shared:
        first = t["copies"][0]
        held = records.get((first["council"], first["record_id"]))
        if held is None or held.get("shielding"):
            continue  # a shielded record shows no address, so it makes a poor first example
        out.append(
            {
                "forename": held["forename"],
                "surname": held["surname"],
                "dob": held["date_of_birth"],
                "sex": held["sex"],
                "postcode": held["address"]["postcode"],
                "held_by": sorted({c["council"] for c in t["copies"]}),
            }
        )
        if len(out) == limit:
            break
    return out


def federation_file(credentials: Path, ca: Path, endpoint: str, data: Path) -> dict[str, Any]:
    """The federation.json contents for the council whose demo credentials are in `credentials`."""
    practitioners: list[dict[str, Any]] = json.loads(credentials.read_text(encoding="utf-8"))
    codes = {p["council"] for p in practitioners}
    if len(codes) != 1:
        raise ValueError(f"{credentials}: expected practitioners of one council, found {sorted(codes)}")
    code = codes.pop()
    return {
        "ca_file": str(ca),
        "councils": [{"code": code, "name": code, "practitioner_endpoint": endpoint}],
        "practitioners": practitioners,
        "samples": samples(data),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write a council container's federation.json")
    parser.add_argument("--credentials", type=Path, required=True, help="output of node seed-practitioners")
    parser.add_argument("--ca", type=Path, required=True, help="the federation CA certificate")
    parser.add_argument("--endpoint", required=True, help="HOST:PORT of this node's practitioner service")
    parser.add_argument("--data", type=Path, required=True, help="the folder `whoelse synth` wrote")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        content = federation_file(args.credentials, args.ca, args.endpoint, args.data)
    except (OSError, ValueError, KeyError) as exc:
        print(f"federation_file: error: {exc}", file=sys.stderr)
        return 2
    args.out.touch(mode=0o600)
    args.out.chmod(0o600)  # written before the passwords go in, so they are never world-readable
    args.out.write_text(json.dumps(content, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
