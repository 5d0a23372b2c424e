"""Joining the federation and the operator's approve / suspend / revoke, over gRPC and the CLI; every change
gives the council list a new version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.directory.conftest import LEEDS, REVOKED, Directory
from whoelse.directory.setup import initialise
from whoelse.directory.storage import DirectoryDatabase
from whoelse.federation import ca, closed_sets
from whoelse.federation.cli import main
from whoelse.federation.council_list import CouncilList, CouncilStatus, load_verify_key, verify_signed
from whoelse.federation.sealing import SealingKey
from whoelse.federation.signing import SigningKey
from whoelse.v1 import federation_pb2

NEWCOMER = "E06000047"  # County Durham


def join(directory: Directory, code: str = NEWCOMER, as_council: str | None = None, **changes: Any) -> str:
    request = federation_pb2.JoinRequest(
        council_code=code,
        council_name="County Durham",
        endpoint="127.0.0.1:7001",
        signing_key=SIGNING.verify_key_bytes,
        sealing_key=SEALING.public_key_bytes,
    )
    for name, value in changes.items():
        setattr(request, name, value)
    response = directory.stub(as_council or code).Join(request, timeout=5)
    return closed_sets.COUNCIL_STATUS.read(response)


def listed(directory: Directory, as_council: str = LEEDS) -> CouncilList:
    signed = directory.stub(as_council).GetCouncilList(federation_pb2.CouncilListRequest(), timeout=5)
    return verify_signed(signed, load_verify_key(directory.keys.verify_key_path))


SIGNING, SEALING = SigningKey.generate(), SealingKey.generate()


def test_join_approve_suspend_revoke(directory: Directory) -> None:
    start = listed(directory).version
    assert join(directory) == "pending"
    assert listed(directory).find(NEWCOMER) is None  # pending councils are not in the signed list
    entry = directory.registry.get(NEWCOMER)
    assert entry is not None
    assert entry.certificate_fingerprint == directory.pki.fingerprint(NEWCOMER)  # from the mTLS certificate

    directory.registry.approve(NEWCOMER)
    after_approve = listed(directory)
    assert after_approve.entry(NEWCOMER).status is CouncilStatus.ACTIVE
    assert after_approve.entry(NEWCOMER).sealing_key == SEALING.public_key_bytes
    assert after_approve.version > start

    assert join(directory) == "active"  # re-joining with the same keys changes nothing
    assert listed(directory).version == after_approve.version

    assert join(directory, endpoint="127.0.0.1:7002") == "active"  # a move keeps the approval
    assert listed(directory).entry(NEWCOMER).endpoint == "127.0.0.1:7002"

    assert join(directory, sealing_key=SealingKey.generate().public_key_bytes) == "pending"  # new keys
    directory.registry.approve(NEWCOMER)
    directory.registry.suspend(NEWCOMER)
    assert listed(directory).entry(NEWCOMER).status is CouncilStatus.SUSPENDED
    with pytest.raises(grpc.RpcError) as refused:
        join(directory)
    assert refused.value.details() == f"council {NEWCOMER} is suspended"

    directory.registry.revoke(NEWCOMER)
    assert listed(directory).entry(NEWCOMER).status is CouncilStatus.REVOKED
    with pytest.raises(Exception, match="revoked; it cannot become active"):
        directory.registry.approve(NEWCOMER)


def test_join_does_not_rename_a_listed_council_without_the_operator(directory: Directory) -> None:
    assert join(directory) == "pending"
    assert join(directory, council_name="Durham (pending)") == "pending"  # not listed yet: may change
    assert directory.registry.get(NEWCOMER).name == "Durham (pending)"  # type: ignore[union-attr]
    directory.registry.approve(NEWCOMER)
    version = listed(directory).version

    assert join(directory, council_name="Leeds") == "active"
    assert listed(directory).entry(NEWCOMER).name == "Durham (pending)"
    assert listed(directory).version == version  # nothing changed in the signed list


def test_a_council_can_only_join_as_itself(directory: Directory) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        join(directory, code=NEWCOMER, as_council=LEEDS)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.details() == (
        f"a council may only join as itself: certificate names {LEEDS}, not {NEWCOMER}"
    )


def test_a_revoked_council_cannot_join_again(directory: Directory) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        join(directory, code=REVOKED)
    assert refused.value.details() == f"council {REVOKED} is revoked"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"signing_key": b"short"}, "signing key must be 32 bytes"),
        ({"endpoint": "no-port"}, "is not HOST:PORT"),
        ({"council_name": ""}, "name must be 1-200 characters"),
    ],
)
def test_malformed_joins_are_invalid(directory: Directory, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        join(directory, **changes)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in refused.value.details()


def test_operator_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "d.sqlite")
    pki = str(tmp_path / "pki")
    assert main(["ca", "init", "--dir", pki]) == 0
    assert main(["ca", "issue", "--dir", pki, "--name", NEWCOMER]) == 0
    assert main(["directory", "init", "--db", db, "--dir", str(tmp_path / "keys")]) == 0
    cert = f"{pki}/{NEWCOMER}.crt"
    add = [
        "directory",
        "add",
        NEWCOMER,
        "--db",
        db,
        "--name",
        "County Durham",
        "--endpoint",
        "10.0.0.5:50052",
    ]
    add += ["--signing-key", SIGNING.verify_key_bytes.hex(), "--sealing-key", SEALING.public_key_bytes.hex()]
    assert main([*add, "--cert", cert]) == 0
    assert main(["directory", "suspend", NEWCOMER, "--db", db]) == 0
    capsys.readouterr()
    assert main(["directory", "list", "--db", db, "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["councils"] == [
        {
            "code": NEWCOMER,
            "name": "County Durham",
            "status": "suspended",
            "endpoint": "10.0.0.5:50052",
            "signing_key": SIGNING.verify_key_bytes.hex(),
            "sealing_key": SEALING.public_key_bytes.hex(),
            "certificate_fingerprint": ca.fingerprint(Path(cert).read_bytes()),
        }
    ]
    assert main(["directory", "approve", NEWCOMER, "--db", db]) == 0
    assert "is active; council list version" in capsys.readouterr().out
    assert main(["directory", "approve", "E06000098", "--db", db]) == 2
    assert "council E06000098 is not registered" in capsys.readouterr().err
    assert main([*add, "--cert", f"{pki}/ca.crt"]) == 2  # a certificate naming someone else
    assert "--cert names" in capsys.readouterr().err
    assert main(["directory", "init", "--db", db, "--dir", str(tmp_path / "other")]) == 2  # never twice
    capsys.readouterr()

    # A renewed certificate is pinned by the operator; the old one is then refused for good.
    old = ca.fingerprint(Path(cert).read_bytes())
    assert main(["ca", "issue", "--dir", pki, "--name", NEWCOMER]) == 0
    new = ca.fingerprint(Path(cert).read_bytes())
    assert main(["directory", "certificate", "rotate", NEWCOMER, "--db", db, "--cert", cert]) == 0
    assert f"now uses certificate {new}; the old is revoked" in capsys.readouterr().out
    revoke = ["directory", "certificate", "revoke", "--db", db, "--fingerprint", old, "--reason", "renewed"]
    assert main(revoke) == 0
    assert f"certificate {old} was already revoked" in capsys.readouterr().out
    assert main(["directory", "certificate", "revoke", "--db", db, "--cert", cert]) == 0
    assert f"certificate {new} revoked" in capsys.readouterr().out
    assert main([*revoke, "--cert", cert]) == 2
    assert "exactly one of --cert FILE and --fingerprint HEX" in capsys.readouterr().err


def test_key_files_are_private(tmp_path: Path) -> None:
    db = DirectoryDatabase.open(str(tmp_path / "d.sqlite"))
    _, first = initialise(db, tmp_path / "keys")
    assert (tmp_path / "keys" / "directory-signing.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys" / f"oprf-{first.key_id}.key").stat().st_mode & 0o777 == 0o600
    assert len(load_verify_key(tmp_path / "keys" / "directory.pub")) == 32
