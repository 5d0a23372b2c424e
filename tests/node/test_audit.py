"""The node's audit log: what each kind of entry records for an auditor, that no entry holds a child's
identity, that entries commit with the action they record, and `whoelse audit verify` on a node database."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from tests.node.records_factory import TODAY, camhs, child, shielded_child
from tests.node.records_factory import born as record_born
from whoelse.federation import audit_cli
from whoelse.federation.errors import InvalidInput, NotFound
from whoelse.federation.merkle import SignedTreeHead
from whoelse.federation.signing import SigningKey
from whoelse.federation.transparency_log import ProblemKind
from whoelse.node.audit import AUDIT_LOG, AuditLog, DeliveredAlert, DisclosureSummary
from whoelse.node.audit_cli import add_audit_commands
from whoelse.node.disclosure import HoldingCouncil, disclose
from whoelse.node.records import SensitiveBasis, ServiceType
from whoelse.node.settings import initialise, load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import upsert_records

LEEDS = HoldingCouncil("E08000035", "Leeds", "Leeds records team, 0113 496 0999")
AT = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)


def with_audit_tables(db: Database) -> Database:
    """Until the lead's migration adds them, create the audit tables the way it will."""
    for table in (AUDIT_LOG.entries, AUDIT_LOG.heads):
        table.create(db.engine, checkfirst=True)
    return db


@pytest.fixture
def leeds(tmp_path: Path) -> Iterator[Database]:
    """A migrated, initialised Leeds node on SQLite holding child() (LDS-0001)."""
    db = Database(str(tmp_path / "leeds.sqlite"))
    db.migrate()
    with_audit_tables(db)
    with db.session() as session:
        initialise(session, LEEDS.code, LEEDS.name, LEEDS.records_team_contact)
        upsert_records(session, [child(involvements=(camhs(),))], lambda _record: [], "local")
    yield db
    db.dispose()


def stored_entries(db: Database) -> list[Mapping[str, Any]]:
    with db.session() as session:
        return [e.entry for e in AuditLog.of(db).log.entries(session)]


def fill(audit: AuditLog) -> None:
    """One entry of each kind, as the node writes them in a working day."""
    disclosed = disclose(child(), LEEDS, TODAY)
    assert disclosed is not None
    audit.search_sent("q-1", "sam.patel", "safeguarding", ["E08000032", "E08000035"], ["E08000035"], AT)
    audit.search_received("q-0", "E08000032", "amy.li", "health", 0, AT)  # held nothing: still one entry
    audit.search_received(
        "q-2", "E08000003", "jo.bloggs", "education", 1, AT,
        disclosures=[("LDS-0001", DisclosureSummary.of(disclosed))], origin_council_name="Manchester",
    )  # fmt: skip
    audit.sensitive_recorded(
        "LDS-0001", ServiceType.CAMHS_TIER3, SensitiveBasis.CONSENT, "", "records.team", AT
    )
    audit.account_event("jo.bloggs", "suspend", "records.team", AT)
    audit.search_received(
        "q-3", "E08000032", "records-system", "notification", 0, AT,
        alerts=[DeliveredAlert("a-1", "change_of_address", "LDS-0001", ("sam.patel",))],
    )  # fmt: skip


def test_each_entry_records_who_where_why_and_when(leeds: Database) -> None:
    fill(AuditLog.of(leeds))
    sent, quiet, received, sensitive, account, notified = stored_entries(leeds)
    assert sent == {
        "v": 1, "kind": "search_sent", "council": "E08000035", "at": "2026-11-23T09:30:00.000Z",
        "query_id": "q-1", "practitioner": "sam.patel", "purpose": "safeguarding",
        "councils_asked": ["E08000032", "E08000035"], "councils_answered": ["E08000035"],
        "councils_unanswered": ["E08000032"],
    }  # fmt: skip
    assert (quiet["kind"], quiet["candidates"], quiet["disclosures"], quiet["alerts"]) == (
        "search_received",
        0,
        [],
        [],
    )
    assert (received["origin_council"], received["candidates"]) == ("E08000003", 1)
    [disclosure] = received["disclosures"]
    assert disclosure["record_id"] == "LDS-0001"
    assert disclosure["disclosed"] == {
        "fields": [
            "forename", "surname", "date_of_birth", "sex", "nhs_number", "address", "education", "gp",
            "carers", "involvements", "concerns",
        ],
        "shielded": False, "sensitive_note": False, "services": 1, "concerns": 1,
    }  # fmt: skip
    assert (sensitive["service_type"], sensitive["basis"]) == ("camhs_tier3", "consent")
    assert (account["username"], account["action"], account["by"]) == ("jo.bloggs", "suspend", "records.team")
    assert notified["alerts"] == [
        {"alert_id": "a-1", "event_type": "change_of_address", "record_id": "LDS-0001",
         "practitioners": ["sam.patel"]}
    ]  # fmt: skip
    # A subject access report reads each disclosure and alert as its own event about the record.
    views = AuditLog.of(leeds).entries_about("LDS-0001")
    assert [(v.index, v.entry["kind"]) for v in views] == [
        (2, "disclosure"), (3, "sensitive_recorded"), (5, "alert_delivered"),
    ]  # fmt: skip
    assert (views[0].entry["practitioner"], views[0].entry["origin_council_name"]) == (
        "jo.bloggs", "Manchester"
    )  # fmt: skip


def test_a_shielded_disclosure_is_summarised_as_identity_only() -> None:
    disclosed = disclose(shielded_child(), LEEDS, TODAY)
    assert disclosed is not None
    summary = DisclosureSummary.of(disclosed)
    assert summary.shielded and not summary.sensitive_note
    assert summary.fields == (
        "forename",
        "surname",
        "date_of_birth",
        "sex",
        "nhs_number",
        "records_team_contact",
    )


def test_no_entry_holds_a_childs_identity(leeds: Database) -> None:
    audit = AuditLog.of(leeds)
    fill(audit)
    audit.checkpoint()
    record = child()
    with leeds.session() as session:
        rows = [*session.execute(select(AUDIT_LOG.entries)), *session.execute(select(AUDIT_LOG.heads))]
    stored = b"".join(
        value if isinstance(value, bytes) else str(value).encode() for row in rows for value in row
    ).lower()
    born = record_born(record)
    forbidden = [
        record.forename, record.surname, "zoe", "o'neill", "oneill", record.nhs_number, "943 476 5919",
        record.address.postcode, record.address.postcode.replace(" ", ""), record.address.line1,
        born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%Y%m%d"), "hillside", "ann o'neill",
    ]  # fmt: skip
    for value in forbidden:
        assert value.lower().encode() not in stored, value
    assert b"lds-0001" in stored  # the council's own record id is what the entries use instead


def test_an_override_must_give_its_reason_and_only_sensitive_services_are_logged_as_such(
    leeds: Database,
) -> None:
    audit = AuditLog.of(leeds)
    with pytest.raises(InvalidInput, match="override of consent must record its reason"):
        audit.sensitive_recorded("LDS-0001", "sexual_health", "override", "  ", "records.team", AT)
    with pytest.raises(InvalidInput, match="social_care is not a sensitive service"):
        audit.sensitive_recorded("LDS-0001", "social_care", "consent", "", "records.team", AT)
    with pytest.raises(InvalidInput, match="without a timezone"):
        audit.account_event("jo", "add", "records.team", dt.datetime(2026, 1, 1))
    assert stored_entries(leeds) == []


def test_an_entry_written_in_the_callers_transaction_is_rolled_back_with_it(leeds: Database) -> None:
    audit = AuditLog.of(leeds)
    with pytest.raises(RuntimeError), leeds.session() as session:
        audit.search_received("q-9", "E08000003", "jo.bloggs", "health", 0, AT, session=session)
        raise RuntimeError("the search failed after logging")
    audit.search_received("q-10", "E08000003", "jo.bloggs", "health", 0, AT)
    assert [e["query_id"] for e in stored_entries(leeds)] == ["q-10"]


def test_entries_about_a_record_match_its_id_exactly(leeds: Database) -> None:
    audit = AuditLog.of(leeds)
    summary = DisclosureSummary(("forename",), False, False)
    for record_id in ("LDS-1", "LDS-10", "LDS_1", "LDS%1"):
        audit.search_received("q", "E08000003", "jo", "health", 1, AT, disclosures=[(record_id, summary)])
    assert [e.entry["record_id"] for e in audit.entries_about("LDS-1")] == ["LDS-1"]
    assert [e.entry["record_id"] for e in audit.entries_about("LDS%1")] == ["LDS%1"]


def test_the_node_log_verifies_and_a_tampered_disclosure_is_named(leeds: Database) -> None:
    audit = AuditLog.of(leeds)
    fill(audit)
    head = audit.checkpoint()
    assert (head.log_id, head.tree_size) == ("E08000035", 6)
    with leeds.session() as session:
        verify_key = load(session).signing_key.verify_key_bytes
    assert audit.verify(verify_key, [head]).ok
    with leeds.engine.begin() as conn:  # hide who was shown the record
        conn.execute(text("UPDATE audit_log SET entry = replace(entry, 'jo.bloggs', 'nobody') WHERE idx = 2"))
    report = audit.verify(verify_key, [head])
    assert [(p.kind, p.index) for p in report.problems if p.index is not None] == [(ProblemKind.EDITED, 2)]


# ------------------------------------------------------------------------------------------------------ CLI


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="whoelse")
    commands = parser.add_subparsers(dest="command", required=True)
    node = commands.add_parser("node")
    node.add_argument("--db", default=None)
    add_audit_commands(node.add_subparsers(dest="node_command", required=True), lambda a: opened(a.db))
    audit_cli.register(commands, None)
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


def opened(path: str) -> Database:
    db = Database(path)
    db.migrate()
    return with_audit_tables(db)


def test_cli_checkpoint_heads_and_verify(
    leeds: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(leeds.url.database)
    fill(AuditLog.of(leeds))
    assert run(["node", "audit", "checkpoint", "--db", path]) == 0
    assert "signed audit log E08000035 at 6 entries" in capsys.readouterr().out
    assert run(["node", "audit", "heads", "--db", path]) == 0
    heads_file = tmp_path / "published.json"
    heads_file.write_text(capsys.readouterr().out)
    with leeds.session() as session:
        key_hex = load(session).signing_key.verify_key_bytes.hex()

    assert run(["audit", "verify", path, "--key", key_hex, "--trusted-heads", str(heads_file)]) == 0
    assert "result: OK" in capsys.readouterr().out

    # Truncate and re-sign: the database alone looks fine, the published head does not.
    with leeds.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE idx >= 3"))
        conn.execute(text("DELETE FROM audit_log_heads"))
    AuditLog.of(leeds).account_event("mallory", "add", "mallory", AT)
    AuditLog.of(leeds).checkpoint()
    key_file = tmp_path / "leeds.pub"
    key_file.write_text(key_hex + "\n")
    assert run(["audit", "verify", path, "--key", str(key_file), "--trusted-heads", str(heads_file)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "truncated log" in out and "covers 6 entries but the log holds only 4" in out
    assert run(["audit", "verify", path, "--key", key_hex, "--json", "--trusted-heads", str(heads_file)]) == 1
    assert json.loads(capsys.readouterr().out)["problems"][0]["kind"] == "truncated log"


def test_cli_verify_names_a_missing_table_and_a_bad_key(leeds: Database, tmp_path: Path) -> None:
    path = str(leeds.url.database)
    with pytest.raises(NotFound, match="has no table 'routing_log'"):
        run(["audit", "verify", path, "--key", "00" * 32, "--table", "routing_log"])
    with pytest.raises(InvalidInput, match="neither 64 hex characters nor a readable file"):
        run(["audit", "verify", path, "--key", "abc"])
    with pytest.raises(NotFound, match="no such database file"):
        run(["audit", "verify", str(tmp_path / "missing.sqlite"), "--key", "00" * 32])


def test_trusted_heads_are_the_ones_published(leeds: Database) -> None:
    audit = AuditLog.of(leeds)
    fill(audit)
    first = audit.checkpoint()
    audit.account_event("jo.bloggs", "reinstate", "records.team", AT)
    second = audit.checkpoint()
    assert audit.heads() == [first, second]
    assert audit.latest_head() == second
    assert isinstance(second, SignedTreeHead) and second.tree_size == 7


def test_an_idle_log_signs_no_new_head(leeds: Database) -> None:
    # A node publishes its head every upkeep (2 s): an unchanged log must not gain 40,000 heads a day.
    audit = AuditLog.of(leeds)
    assert audit.checkpoint_if_grown() is not None  # the first head, even of an empty log
    fill(audit)
    grown = audit.checkpoint_if_grown()
    assert grown is not None and grown.tree_size == 6
    assert audit.checkpoint_if_grown() == grown
    assert audit.checkpoint_if_grown() == grown
    assert len(audit.heads()) == 2


def test_verifying_with_the_wrong_key_says_so_once(
    leeds: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = AuditLog.of(leeds)
    for _ in range(5):
        fill(audit)
        audit.checkpoint()
    wrong = SigningKey.generate().verify_key_bytes.hex()
    assert run(["audit", "verify", str(leeds.url.database), "--key", wrong]) == 1
    out = capsys.readouterr().out
    assert out.count("  - ") == 1  # one problem line, not one per head
    assert f"none of the 5 signed heads verifies with key {wrong[:16]}…: wrong key?" in out
