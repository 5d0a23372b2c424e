"""Heads kept and checked, over a real federation: the directory keeps every head a council publishes and
refuses one that does not prove it extends the last; an auditor's `whoelse audit collect-heads` saves them,
and `whoelse audit verify --trusted-heads` then catches a council that rewrote its history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from tests.integration.harness import Federation
from tests.integration.test_federation import BRADFORD, LEEDS, ZOE_BRADFORD, ZOE_LEEDS
from whoelse.federation.cli import main
from whoelse.node.audit import AuditLog
from whoelse.v1 import federation_pb2


@pytest.fixture()
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    try:
        leeds = fed.add_council(LEEDS, "Leeds", [ZOE_LEEDS]).runtime
        fed.add_council(BRADFORD, "Bradford", [ZOE_BRADFORD])
        leeds.audit.account_event("sw@leeds", "add", "records.team")  # as `whoelse node practitioner add`
        fed.run_upkeep()
        leeds.audit.account_event("hv@leeds", "add", "records.team")
        fed.run_upkeep()  # a second head for Leeds, with its consistency proof from the first
        yield fed
    finally:
        fed.stop()


def collect(federation: Federation, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    federation.directory_as("auditor")  # issues the auditor's certificate
    ca = federation.ca_dir
    status = main([
        "audit", "collect-heads", "--directory", f"localhost:{federation.directory_port}",
        "--ca", str(ca / "ca.crt"), "--cert", str(ca / "auditor.crt"), "--key", str(ca / "auditor.key"),
        "--directory-key", str(federation.root / "directory-keys" / "directory.pub"), "--out", str(out),
    ])  # fmt: skip
    assert status == 0
    return capsys.readouterr().out


def verify(federation: Federation, heads: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    leeds = federation.councils[LEEDS].runtime
    database = str(federation.root / LEEDS / "node.sqlite")
    key = leeds.settings.signing_key.verify_key_bytes.hex()
    status = main(["audit", "verify", database, "--key", key, "--trusted-heads", str(heads)])
    return status, capsys.readouterr().out


def test_collected_heads_catch_a_council_that_rewrote_its_history(
    federation: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "heads"
    printed = collect(federation, out, capsys)
    assert f"{LEEDS}: 2 head(s) up to size 2, checked" in printed
    assert f"{BRADFORD}: 1 head(s) up to size 0, checked" in printed
    status, report = verify(federation, out / f"{LEEDS}.heads.json", capsys)
    assert status == 0 and "result: OK" in report

    # Leeds hides who was given access: deletes the second entry, writes others, re-signs with its own key.
    leeds = federation.councils[LEEDS].runtime
    with leeds.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE idx >= 1"))
        conn.execute(text("DELETE FROM audit_log_heads"))
    rewritten = AuditLog.of(leeds.db)
    for n in range(3):
        rewritten.account_event(f"cover{n}", "update", "records.team")
    forged = rewritten.checkpoint()
    with leeds.db.session() as session:
        proof = rewritten.log.consistency_proof(session, 2, forged.tree_size)  # over the new history
    larger = federation_pb2.TreeHead(
        log_id=forged.log_id, tree_size=forged.tree_size, root_hash=forged.root_hash,
        timestamp_ms=forged.timestamp_ms, signature=forged.signature, consistency_proof=proof,
    )  # fmt: skip
    with pytest.raises(grpc.RpcError) as refused:
        leeds.directory.PublishTreeHead(larger, timeout=5)
    assert f"tree head for {LEEDS} of size 4 does not prove it extends the head of size 2" in str(
        refused.value.details()
    )

    # Its database is consistent with the heads it holds itself; against the collected heads it is not.
    collect(federation, out, capsys)
    status, report = verify(federation, out / f"{LEEDS}.heads.json", capsys)
    assert status == 1 and "FAILED" in report and "rewritten log" in report
