"""The records API over a real mutual-TLS server on port 0 (issue #11): each RPC accepted and refused, as
a case-management system would see it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from sqlalchemy import func, select

from tests import wire
from tests.node.test_bad_input_corpus import CORPUS, EXPECTED, dump, url
from tests.node.test_importer import good_row, run_import, write_jsonl
from whoelse.federation import ca
from whoelse.federation.cli import main
from whoelse.federation.transport import MtlsIdentity
from whoelse.node.alerts.tables import AlertOutboxRow
from whoelse.node.audit import AuditKind, entries_about
from whoelse.node.disclosure import SPECIALIST_SERVICES_NOTE, disclose
from whoelse.node.import_files import read_rows
from whoelse.node.records_api.server import create_records_server
from whoelse.node.records_api.service import RecordsService
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import records_by_record_id
from whoelse.v1 import records_api_pb2 as ra
from whoelse.v1 import records_api_pb2_grpc

TODAY_ISO = "2026-11-23"


@dataclass
class Api:
    db: Database
    port: int
    ca_pem: bytes
    certs: Path

    def stub(self, system: str) -> records_api_pb2_grpc.RecordsStub:
        key = (self.certs / f"{system}.key").read_bytes()
        cert = (self.certs / f"{system}.crt").read_bytes()
        credentials = grpc.ssl_channel_credentials(self.ca_pem, key, cert)
        channel = grpc.secure_channel(f"localhost:{self.port}", credentials)
        return records_api_pb2_grpc.RecordsStub(channel)


def add_system(db: Database, tmp_path: Path, name: str, scopes: str) -> None:
    args = ["node", "system", "add", name, "--scope", scopes, "--db", url(db)]
    args += [
        "--ca-cert",
        str(tmp_path / "ca.crt"),
        "--ca-key",
        str(tmp_path / "ca.key"),
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0


@pytest.fixture()
def api(db: Database, tmp_path: Path) -> Iterator[Api]:
    ca_key, ca_cert = ca.init_ca("WhoElse test federation CA", days=30)
    ca.write_ca(tmp_path, ca_key, ca_cert)
    node_key, node_cert = ca.issue(ca_key, ca_cert, "E08000035", days=30)
    with db.session() as session:
        settings = load(session)
    service = RecordsService(db, settings)
    server, port = create_records_server("127.0.0.1:0", service, MtlsIdentity(ca_cert, node_cert, node_key))
    server.start()
    add_system(db, tmp_path, "mosaic", "children,involvements,concerns,shielding,consent")
    add_system(db, tmp_path, "school-mis", "involvements")
    # A council's own certificate, from the same CA but not registered as a records system.
    ca.write_credentials(tmp_path, "E08000036", *ca.issue(ca_key, ca_cert, "E08000036", days=30))
    try:
        yield Api(db, port, ca_cert, tmp_path)
    finally:
        server.stop(grace=None)


def child_input(**changes: Any) -> ra.ChildInput:
    return wire.child_input(good_row(**changes))


def change(change_id: str, version: int) -> ra.Change:
    return ra.Change(change_id=change_id, expected_version=version)


def social_worker(**changes: str) -> ra.InvolvementInput:
    values = {
        "practitioner": "Sam Patel", "organisation": "Leeds Children's Services", "role": "Social worker",
        "contact": "0113 496 0002", "service_type": "social_care", "start_date": "2025-01-10", **changes,
    }  # fmt: skip
    return ra.InvolvementInput(**values)


def stored(db: Database, record_id: str = "T-1") -> Any:
    with db.session() as session:
        return records_by_record_id(session, [record_id]).get(record_id)


def refused(call: Any, *args: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args)
    return info.value


def test_upsert_then_each_change_is_applied_and_versioned(api: Api) -> None:
    mosaic = api.stub("mosaic")
    reply = mosaic.UpsertChild(ra.UpsertChildRequest(change=change("c-1", 0), child=child_input()))
    assert (reply.record_id, reply.version, reply.replayed) == ("T-1", 1, False)
    assert mosaic.GetVersion(ra.GetVersionRequest(record_id="T-1")).version == 1
    mosaic.AddInvolvement(
        ra.AddInvolvementRequest(change=change("c-2", 1), record_id="T-1", involvement=social_worker())
    )
    camhs = social_worker(service_type="camhs_tier3", practitioner="Ann Lee", sensitive_basis="override",
                          override_reason="risk of significant harm")  # fmt: skip
    mosaic.AddInvolvement(
        ra.AddInvolvementRequest(change=change("c-3", 2), record_id="T-1", involvement=camhs)
    )
    ref = ra.InvolvementRef(practitioner="Ann Lee", service_type="camhs_tier3", start_date="2025-01-10")
    mosaic.RecordConsent(
        ra.RecordConsentRequest(
            change=change("c-4", 3), record_id="T-1", involvement=ref, sensitive_basis="consent"
        )
    )
    concern = ra.ConcernInput(raised_by="Sam Patel", contact="0113 496 0002", raised_on="2025-02-01")
    mosaic.RaiseConcern(ra.RaiseConcernRequest(change=change("c-5", 4), record_id="T-1", concern=concern))
    sw = ra.InvolvementRef(practitioner="sam patel", service_type="social_care", start_date="2025-01-10")
    mosaic.EndInvolvement(
        ra.EndInvolvementRequest(
            change=change("c-6", 5), record_id="T-1", involvement=sw, end_date="2025-06-30"
        )
    )
    shielding = ra.ShieldingInput(
        reason="risk from a parent", shielded_by="Pat Jones", shielded_on="2025-03-01"
    )
    mosaic.Shield(ra.ShieldRequest(change=change("c-7", 6), record_id="T-1", shielding=shielding))
    record = stored(api.db)
    assert record.shielded and len(record.concerns) == 1
    assert [(i.practitioner, str(i.end_date)) for i in record.involvements] == [
        ("Sam Patel", "2025-06-30"), ("Ann Lee", "None")
    ]  # fmt: skip
    assert record.involvements[1].sensitive_basis.value == "consent"
    last = mosaic.Unshield(
        ra.UnshieldRequest(
            change=change("c-8", 7), record_id="T-1", reason="court order ended", unshielded_by="Pat"
        )
    )
    assert last.version == 8 and not stored(api.db).shielded
    disclosure = disclose(stored(api.db), load_council(api.db), record.involvements[1].start_date)
    assert disclosure is not None and disclosure.specialist_services_note == SPECIALIST_SERVICES_NOTE
    with api.db.session() as session:
        entries = [e.entry for e in entries_about(session, "T-1")]
    changes = [
        (e["change"], e["system"], e["version"]) for e in entries if e["kind"] == AuditKind.RECORD_CHANGED
    ]
    assert changes[0] == ("upsert_child", "mosaic", 1) and changes[-1] == (
        "unshield: court order ended",
        "mosaic",
        8,
    )
    sensitive = [e for e in entries if e["kind"] == AuditKind.SENSITIVE_RECORDED]
    assert [e["basis"] for e in sensitive] == ["override", "consent"]
    assert {e["by"] for e in sensitive} == {"records system mosaic"}


def load_council(db: Database) -> Any:
    with db.session() as session:
        return load(session).council


def test_bad_field_is_invalid_argument_naming_field_and_reason_and_writes_nothing(api: Api) -> None:
    mosaic = api.stub("mosaic")
    before = dump(api.db)
    error = refused(
        mosaic.UpsertChild, ra.UpsertChildRequest(change=change("c-1", 0), child=child_input(sex="Q"))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "sex: must be F, M or U"
    blank = social_worker(contact="  ")
    mosaic.UpsertChild(ra.UpsertChildRequest(change=change("c-2", 0), child=child_input()))
    before = dump(api.db)
    error = refused(
        mosaic.AddInvolvement,
        ra.AddInvolvementRequest(change=change("c-3", 1), record_id="T-1", involvement=blank),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "involvement.contact: required (only spaces were given)",
    )
    assert dump(api.db) == before


def test_stale_version_is_refused(api: Api) -> None:
    mosaic = api.stub("mosaic")
    mosaic.UpsertChild(ra.UpsertChildRequest(change=change("c-1", 0), child=child_input()))
    mosaic.UpsertChild(ra.UpsertChildRequest(change=change("c-2", 1), child=child_input(forename="Zoe")))
    before = dump(api.db)
    error = refused(
        mosaic.UpsertChild, ra.UpsertChildRequest(change=change("c-3", 1), child=child_input(forename="Liam"))
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "record T-1 is at version 2, not 1" in error.details()
    assert dump(api.db) == before and stored(api.db).forename == "Zoe"
    # A new record must start from version 0.
    error = refused(
        mosaic.UpsertChild, ra.UpsertChildRequest(change=change("c-4", 3), child=child_input(record_id="N"))
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_replayed_change_id_is_answered_once_and_never_applied_twice(api: Api) -> None:
    mosaic = api.stub("mosaic")
    request = ra.UpsertChildRequest(change=change("c-1", 0), child=child_input())
    first = mosaic.UpsertChild(request)
    before = dump(api.db)
    again = mosaic.UpsertChild(request)  # a retry after a lost reply
    assert (again.version, again.replayed) == (first.version, True)
    assert dump(api.db) == before
    retried = mosaic.UpsertChild(ra.UpsertChildRequest(change=change("c-1", 1), child=child_input()))
    assert retried.replayed  # a retry that re-read the version first is still the same change
    different = ra.UpsertChildRequest(change=change("c-1", 1), child=child_input(forename="Liam"))
    error = refused(mosaic.UpsertChild, different)
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "change id c-1 was already used by mosaic" in error.details()


def test_system_without_the_scope_is_permission_denied(api: Api) -> None:
    api.stub("mosaic").UpsertChild(ra.UpsertChildRequest(change=change("c-1", 0), child=child_input()))
    school = api.stub("school-mis")
    error = refused(
        school.UpsertChild, ra.UpsertChildRequest(change=change("s-1", 1), child=child_input(sex="M"))
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (
        error.details()
        == "records system school-mis may not make children changes (its scopes: involvements)"
    )
    reply = school.AddInvolvement(
        ra.AddInvolvementRequest(change=change("s-2", 1), record_id="T-1", involvement=social_worker())
    )
    assert reply.version == 2


def test_revoked_and_unregistered_certificates_are_unauthenticated(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    mosaic = api.stub("mosaic")
    mosaic.UpsertChild(ra.UpsertChildRequest(change=change("c-1", 0), child=child_input()))
    assert main(["node", "system", "revoke", "mosaic", "--db", url(api.db)]) == 0
    error = refused(mosaic.GetVersion, ra.GetVersionRequest(record_id="T-1"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "records system mosaic was revoked; ask the records team"
    council = api.stub("E08000036")  # another council's certificate: issued by the same CA, not a system here
    error = refused(council.GetVersion, ra.GetVersionRequest(record_id="T-1"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    capsys.readouterr()
    assert main(["node", "system", "list", "--db", url(api.db)]) == 0
    listed = {s["name"]: s for s in map(json.loads, capsys.readouterr().out.splitlines())}
    assert listed["mosaic"]["revoked_at"] and listed["school-mis"]["revoked_at"] is None


def test_a_change_queues_alerts_exactly_as_an_import_does(api: Api, tmp_path: Path) -> None:
    run_import(
        api.db, write_jsonl(tmp_path / "first.jsonl", [good_row(record_id="OTHER")])
    )  # not a first load
    involvement = json_format.MessageToDict(social_worker(), preserving_proto_field_name=True)
    request = ra.UpsertChildRequest(change=change("c-1", 0), child=child_input(involvements=[involvement]))
    api.stub("mosaic").UpsertChild(request)
    with api.db.session() as session:
        assert session.scalar(select(func.count()).select_from(AlertOutboxRow)) == 1


def _as_child_input(name: str) -> ra.ChildInput | None:
    """The corpus file's bad row as the ChildInput a system would send, or None when no system could build
    one (an unknown or mistyped field, a line that is not JSON, two rows)."""
    rows = [row.value for row in read_rows(CORPUS / name) if isinstance(row.value, dict)]
    bad = [r for r in rows if r.get("record_id") != "GOOD-1"]
    if len(bad) != 1:
        return None
    try:
        return wire.child_input(bad[0])
    except json_format.ParseError:
        return None


EXPRESSIBLE = sorted(n for n in EXPECTED if n.endswith(".jsonl") and _as_child_input(n) is not None)


def test_most_of_the_corpus_can_be_sent_as_a_child_input() -> None:
    assert len(EXPRESSIBLE) >= 15


@pytest.mark.parametrize("name", EXPRESSIBLE)
def test_bad_input_corpus_through_the_records_api(api: Api, name: str) -> None:
    """Each corpus row a system could send is refused with the import's field and reason, writing nothing."""
    message = _as_child_input(name)
    _, field, reason = EXPECTED[name]
    before = dump(api.db)
    error = refused(
        api.stub("mosaic").UpsertChild, ra.UpsertChildRequest(change=change("c-1", 0), child=message)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}: ") and reason in error.details()
    assert dump(api.db) == before


def test_the_example_client_sends_an_import_file_and_a_rerun_changes_nothing(api: Api) -> None:
    examples = Path(__file__).resolve().parents[3] / "examples"
    command = [
        sys.executable, str(examples / "records_api_client.py"), "--target", f"localhost:{api.port}",
        "--ca", str(api.certs / "ca.crt"), "--cert", str(api.certs / "mosaic.crt"),
        "--key", str(api.certs / "mosaic.key"), "upsert", str(examples / "records.jsonl"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["EX-0001: version 1", "EX-0002: version 1", "EX-0003: version 1"]
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert again.stdout.splitlines()[0] == "EX-0001: version 1 (already applied)"


NODE_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "node"


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_CLIENT / "node_modules").is_dir(),
    reason="needs Node.js and `npm ci --prefix tests/clients/node` (.ci/run does both)",
)
def test_a_nodejs_system_loads_the_proto_files_and_calls_the_api(api: Api) -> None:
    command = [
        "node", str(NODE_CLIENT / "client.js"), f"localhost:{api.port}", str(api.certs / "ca.crt"),
        str(api.certs / "mosaic.crt"), str(api.certs / "mosaic.key"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, retry, bad, version = map(json.loads, done.stdout.splitlines())
    assert (first["record_id"], first["version"], first["replayed"]) == ("NODE-1", 1, False)
    assert retry["replayed"] is True
    assert (bad["code"], bad["details"]) == ("INVALID_ARGUMENT", "sex: must be F, M or U")
    assert version["version"] == 1
    assert stored(api.db, "NODE-1").forename == "Zoë"
