"""A practitioner's own involvement or concern, recorded on this council's record as an import would."""

from __future__ import annotations

import pytest

from tests.node.records_factory import TODAY, child
from whoelse.federation.errors import NotFound
from whoelse.harness.demo_accounts import add_eligible
from whoelse.node.accounts.credentials import Passwords
from whoelse.node.accounts.service import AccountService, Practitioner
from whoelse.node.alerts import store as alert_store
from whoelse.node.audit import AuditLog
from whoelse.node.matching import record_tags
from whoelse.node.recording import Recorder, RecordingRejected
from whoelse.node.records import SensitiveBasis, ServiceType
from whoelse.node.settings import load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import records_by_record_id, upsert_records
from whoelse.node.tags import LocalTagger


def _setup(db: Database) -> tuple[Recorder, Practitioner]:
    with db.session() as session:
        settings = load(session)
        tagger = LocalTagger(settings.tag_key)
        upsert_records(session, [child()], lambda r: record_tags(tagger, r), tagger.scheme)
    accounts = AccountService(db, passwords=Passwords.named("light"))
    add_eligible(
        accounts,
        username="kim@leeds",
        name="Kim Ray",
        role="Mental health worker",
        organisation="Leeds CAMHS",
        contact="0113 496 0100",
        password="correct horse battery staple",
    )
    return Recorder(db, settings), accounts.get("kim@leeds")


def _stored(db: Database) -> object:
    with db.session() as session:
        return records_by_record_id(session, ["LDS-0001"])["LDS-0001"]


def test_a_sensitive_involvement_with_consent_is_recorded_audited_and_alerted(db: Database) -> None:
    recorder, kim = _setup(db)
    new = recorder.record_involvement(kim, "LDS-0001", "camhs_tier2", sensitive_basis="consent", today=TODAY)
    added = new.involvements[-1]
    assert (added.practitioner, added.role, added.organisation, added.contact) == (
        "Kim Ray",
        "Mental health worker",
        "Leeds CAMHS",
        "0113 496 0100",
    )  # from the account, never the form
    assert (added.service_type, added.sensitive_basis, added.start_date) == (
        ServiceType.CAMHS_TIER2,
        SensitiveBasis.CONSENT,
        TODAY,
    )
    assert _stored(db) == new
    entries = [e.entry for e in AuditLog.of(db).entries_about("LDS-0001")]
    assert [(e["kind"], e["basis"]) for e in entries if e["kind"] == "sensitive_recorded"] == [
        ("sensitive_recorded", "consent")
    ]
    with db.session() as session:
        assert [i.record_id for i in alert_store.pending(session)] == ["LDS-0001"]


def test_a_sensitive_service_without_consent_or_override_is_refused_and_nothing_changes(db: Database) -> None:
    recorder, kim = _setup(db)
    before = _stored(db)
    with pytest.raises(RecordingRejected, match="sensitive service") as refused:
        recorder.record_involvement(kim, "LDS-0001", "sexual_health", today=TODAY)
    assert [p.field for p in refused.value.problems] == ["involvement.sensitive_basis"]
    with pytest.raises(RecordingRejected, match="an override needs a recorded reason"):
        recorder.record_involvement(kim, "LDS-0001", "sexual_health", sensitive_basis="override", today=TODAY)
    assert _stored(db) == before


def test_a_concern_names_only_who_raised_it_and_an_unknown_record_is_not_found(db: Database) -> None:
    recorder, kim = _setup(db)
    new = recorder.raise_concern(kim, "LDS-0001", today=TODAY)
    assert (new.concerns[-1].raised_by, new.concerns[-1].contact) == ("Kim Ray", "0113 496 0100")
    with pytest.raises(NotFound, match="this council holds no such record"):
        recorder.raise_concern(kim, "LDS-9999", today=TODAY)
