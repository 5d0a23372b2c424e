"""Subject access reports (P7): a parent can be told who looked their child up, from which council, when,
why and what they were shown — and under what consent a sensitive service was recorded."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.node.records_factory import TODAY, camhs, child, shielded_child
from tests.node.test_audit import with_audit_tables
from whoelse.federation.errors import NotFound
from whoelse.node.audit import AuditLog, DisclosureSummary
from whoelse.node.audit_cli import add_audit_commands
from whoelse.node.disclosure import HoldingCouncil, disclose
from whoelse.node.records import SensitiveBasis, ServiceType
from whoelse.node.settings import initialise
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import upsert_records
from whoelse.node.subject_access import subject_access_report

LEEDS = HoldingCouncil("E08000035", "Leeds", "Leeds records team, 0113 496 0999")
MONDAY = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
TUESDAY = dt.datetime(2026, 11, 24, 14, 5, tzinfo=dt.UTC)


@pytest.fixture
def leeds(tmp_path: Path) -> Iterator[Database]:
    db = Database(str(tmp_path / "leeds.sqlite"))
    db.migrate()
    with_audit_tables(db)
    with db.session() as session:
        initialise(session, LEEDS.code, LEEDS.name, LEEDS.records_team_contact)
        upsert_records(
            session,
            [child(involvements=(camhs(),)), child(record_id="LDS-0002", forename="Other")],
            lambda _record: [],
            "local",
        )
    yield db
    db.dispose()


def looked_up_from_two_councils(db: Database) -> None:
    audit = AuditLog.of(db)
    full = disclose(child(involvements=(camhs(),)), LEEDS, TODAY)
    assert full is not None
    audit.search_received("q-none", "E08000032", "ali.khan", "safeguarding", 0, MONDAY)
    audit.search_received(
        "q-bradford", "E08000032", "Ali Khan (ali.khan)", "safeguarding", 1, MONDAY,
        disclosures=[("LDS-0001", DisclosureSummary.of(full))], origin_council_name="Bradford",
    )  # fmt: skip
    audit.search_received(
        "q-manchester", "E08000003", "Jo Bloggs (jo.bloggs)", "education", 1, TUESDAY,
        disclosures=[("LDS-0001", DisclosureSummary.of(full))],
    )  # fmt: skip
    audit.search_received(  # another child: must not appear
        "q-other", "E08000036", "Pat Doe", "health", 1, TUESDAY,
        disclosures=[("LDS-0002", DisclosureSummary.of(full))],
    )  # fmt: skip
    audit.sensitive_recorded(
        "LDS-0001", ServiceType.CAMHS_TIER3, SensitiveBasis.CONSENT, "", "records.team", MONDAY
    )
    audit.sensitive_recorded(
        "LDS-0001", ServiceType.SEXUAL_HEALTH, SensitiveBasis.OVERRIDE, "risk of significant harm",
        "team.manager", TUESDAY,
    )  # fmt: skip
    audit.checkpoint()


def test_the_report_names_each_practitioner_their_council_the_purpose_and_the_time(leeds: Database) -> None:
    looked_up_from_two_councils(leeds)
    report = subject_access_report(leeds, "LDS-0001", now=TUESDAY)
    assert [(x.practitioner, x.council_code, x.purpose, x.at) for x in report.lookups] == [
        ("Ali Khan (ali.khan)", "E08000032", "safeguarding", MONDAY),
        ("Jo Bloggs (jo.bloggs)", "E08000003", "education", TUESDAY),
    ]
    assert report.lookups[0].disclosed.sensitive_note

    letter = report.to_text()
    assert "This record was shown to practitioners 2 time(s)" in letter
    assert "23 November 2026 at 09:30 UTC: Ali Khan (ali.khan) at Bradford (E08000032)" in letter
    assert "Reason given: to keep a child safe from harm (safeguarding / child protection)" in letter
    assert "24 November 2026 at 14:05 UTC: Jo Bloggs (jo.bloggs) at E08000003" in letter
    assert "Reason given: about the child's education or school attendance" in letter
    assert "that specialist services are involved (not which ones)" in letter
    assert (
        "a mental health service (CAMHS tier 3) recorded by records.team with the child's consent" in letter
    )
    assert (
        "a sexual health service recorded by team.manager without consent, because: risk of significant harm"
        in letter
    )
    assert "Pat Doe" not in letter
    assert "signed state at 6 entries" in letter

    data = json.loads(report.to_json())
    assert [(x["council_code"], x["purpose"], x["at"]) for x in data["lookups"]] == [
        ("E08000032", "safeguarding", "2026-11-23T09:30:00Z"),
        ("E08000003", "education", "2026-11-24T14:05:00Z"),
    ]
    assert [d["basis"] for d in data["sensitive_services"]] == ["consent", "override"]
    assert data["audit_log"]["signed_tree_size"] == 6


def test_a_shielded_record_report_says_only_identity_was_shown(leeds: Database) -> None:
    disclosed = disclose(shielded_child(), LEEDS, TODAY)
    assert disclosed is not None
    AuditLog.of(leeds).search_received(
        "q-1", "E08000032", "Ali Khan", "child_in_need", 1, MONDAY,
        disclosures=[("LDS-0001", DisclosureSummary.of(disclosed))],
    )  # fmt: skip
    letter = subject_access_report(leeds, "LDS-0001").to_text()
    assert "the record is protected (shielded), so only the child's name, date of birth" in letter
    assert "address" not in letter.split("What they were shown:")[1].split("\n")[0]


def test_a_record_nobody_looked_up_says_so(leeds: Database) -> None:
    report = subject_access_report(leeds, "LDS-0002")
    assert report.lookups == ()
    assert "Nobody has been shown this record through WhoElse." in report.to_text()
    assert "not yet signed" in report.to_text()


def test_an_unknown_record_id_is_not_found(leeds: Database) -> None:
    with pytest.raises(NotFound, match="record 'LDS-9999' is not held by Leeds"):
        subject_access_report(leeds, "LDS-9999")


def test_whoelse_node_sar_prints_text_or_json(leeds: Database, capsys: pytest.CaptureFixture[str]) -> None:
    looked_up_from_two_councils(leeds)

    def run(argv: list[str]) -> int:
        parser = argparse.ArgumentParser(prog="whoelse node")
        add_audit_commands(parser.add_subparsers(dest="node_command", required=True), lambda a: leeds)
        args = parser.parse_args(argv)
        status: int = args.handler(args)
        return status

    assert run(["sar", "LDS-0001", "--db", "unused"]) == 0
    assert "Ali Khan (ali.khan) at Bradford (E08000032)" in capsys.readouterr().out
    assert run(["sar", "LDS-0001", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["lookups"]) == 2
    with pytest.raises(NotFound, match="LDS-0404"):
        run(["sar", "LDS-0404"])
