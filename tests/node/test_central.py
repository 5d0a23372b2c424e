"""ContactPoint mode (node/central.py): one central index answers Practitioner.Search over real gRPC on
port 0, with the same accounts, disclosure rules and audit as a council node."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyotp
import pytest

from tests.integration.harness import PASSWORD
from tests.integration.test_federation import (
    BRADFORD,
    LEEDS,
    SHIELDED_WAKEFIELD,
    WAKEFIELD,
    ZOE_BRADFORD,
    ZOE_LEEDS,
)
from whoelse.federation import ca, closed_sets
from whoelse.harness.demo_accounts import add_eligible
from whoelse.node.accounts.credentials import Passwords
from whoelse.node.accounts.service import AccountService
from whoelse.node.central import CENTRAL_CODE, import_council, init_central
from whoelse.node.central_server import CentralServer, create_central_server
from whoelse.node.storage.database import Database
from whoelse.node.subject_access import subject_access_report
from whoelse.v1 import practitioner_pb2 as pp
from whoelse.v1 import practitioner_pb2_grpc
from whoelse.v1 import records_pb2 as pb

USER = "sw@leeds"


def _jsonl(path: Path, *rows: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def central(tmp_path: Path) -> Iterator[tuple[CentralServer, str, bytes]]:
    db_path = str(tmp_path / "central.sqlite")
    db = Database(db_path)
    init_central(db)
    import_council(db, LEEDS, "Leeds", "Leeds records team", _jsonl(tmp_path / "l.jsonl", ZOE_LEEDS))
    import_council(db, BRADFORD, "Bradford", "", _jsonl(tmp_path / "b.jsonl", ZOE_BRADFORD))
    import_council(
        db,
        WAKEFIELD,
        "Wakefield",
        "Wakefield records team, 01924 000000",
        _jsonl(tmp_path / "w.jsonl", SHIELDED_WAKEFIELD),
    )
    totp = add_eligible(
        AccountService(db, passwords=Passwords.named("light")),
        username=USER,
        name="Sam Social",
        role="Social worker",
        organisation="Leeds",
        contact="0113",
        password=PASSWORD,
    )
    db.dispose()
    ca_key, ca_cert = ca.init_ca("test CA")
    key, cert = ca.issue(ca_key, ca_cert, CENTRAL_CODE, dns_names=("localhost",), ips=("127.0.0.1",))
    server = create_central_server(db_path, "127.0.0.1:0", cert, key, password_cost="light", workers=4)
    try:
        yield server, totp.secret, ca_cert
    finally:
        server.stop()


def _stub(
    server: CentralServer, ca_cert: bytes
) -> tuple[practitioner_pb2_grpc.PractitionerStub, grpc.Channel]:
    channel = grpc.secure_channel(f"localhost:{server.port}", grpc.ssl_channel_credentials(ca_cert))
    return practitioner_pb2_grpc.PractitionerStub(channel), channel


def _search(token: str, forename: str, surname: str, born: str) -> pp.SearchRequest:
    identity = pb.SearchIdentity(
        forename=forename, surname=surname, date_of_birth=born, **closed_sets.SEX.fields("F")
    )
    return pp.SearchRequest(
        session_token=token, **closed_sets.PURPOSE.fields("safeguarding"), identity=identity
    )


def test_central_index_answers_search_with_every_councils_records_and_the_disclosure_rules(
    central: tuple[CentralServer, str, bytes],
) -> None:
    server, secret, ca_cert = central
    stub, channel = _stub(server, ca_cert)
    try:
        token = stub.Login(
            pp.LoginRequest(username=USER, password=PASSWORD, totp_code=pyotp.TOTP(secret).now())
        )
        zoe = stub.Search(_search(token.session_token, "Zoe", "O'Neill", "2015-03-07"))
        mia = stub.Search(_search(token.session_token, "Mia", "Brooks", "2012-05-05"))
        with pytest.raises(grpc.RpcError) as refused:
            stub.Search(_search("not-a-session", "Mia", "Brooks", "2012-05-05"))
    finally:
        channel.close()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # One central answer, each record labelled with the council it came from.
    assert (zoe.councils_asked, zoe.councils_answered) == (1, 1)
    by_council = {r.council_code: r for r in zoe.results}
    assert set(by_council) == {LEEDS, BRADFORD}
    assert by_council[LEEDS].council_name == "Leeds"
    assert (
        by_council[LEEDS].candidates[0].disclosure.record_id == "L-1"
    )  # the council's own id, not the index's
    bradford = by_council[BRADFORD].candidates[0].disclosure
    assert bradford.specialist_services_note and b"Dr Lee" not in bradford.SerializeToString()
    # Shielded: name and date of birth, the holding council's records team, and nothing of whereabouts.
    shielded = next(r for r in mia.results if r.council_code == WAKEFIELD).candidates[0]
    assert shielded.disclosure.shielded
    assert shielded.disclosure.records_team_contact.startswith("Wakefield records team")
    assert b"WF1" not in shielded.SerializeToString() and b"Pat Wood" not in shielded.SerializeToString()
    # Audited as at a council: the child's subject access report names the practitioner and purpose.
    report = subject_access_report(server.db, f"{WAKEFIELD}:W-3")
    assert [(lk.practitioner.split(", ")[-1], lk.purpose) for lk in report.lookups] == [
        (USER, "safeguarding")
    ]


def test_central_import_of_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    init = [sys.executable, "-m", "whoelse.federation.cli", "central"]
    assert subprocess.run([*init, "init", "--db", db], capture_output=True, check=False).returncode == 0
    proc = subprocess.run(
        [*init, "import", "--db", db, "--council", LEEDS, "--name", "Leeds", "nope.jsonl"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["whoelse: error: nope.jsonl: no such file"]
