"""The outbox of changes waiting to be sent, and alerts delivered to practitioners involved with a child."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import whoelse.node.storage.schema  # noqa: F401  (registers every node table)
from tests.node.records_factory import TODAY, camhs, child, social_worker
from whoelse.federation.errors import InvalidInput, NotFound
from whoelse.node.alerts import store
from whoelse.node.alerts.events import ChangeEvent, EventType
from whoelse.node.alerts.retry import RetryPolicy
from whoelse.node.records import ChildRecord, RecordId
from whoelse.node.storage.base import Base
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import upsert_records
from whoelse.v1 import federation_pb2

NOON = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
MOVED = ChangeEvent(
    EventType.CHANGE_OF_ADDRESS, TODAY, "The child's address changed at Leeds", "Leeds records team"
)
CONCERN = ChangeEvent(
    EventType.CAUSE_FOR_CONCERN, TODAY, "A cause for concern was raised at Leeds", "Sam Patel, 0113 496 0002"
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(str(tmp_path / "council.sqlite"))
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def from_bradford(
    summary: str = "A school nurse at Bradford School Nursing became involved",
) -> federation_pb2.AlertEvent:
    return federation_pb2.AlertEvent(
        event_type="new_involvement",
        occurred_on="2026-11-20",
        council_code="E08000032",
        council_name="Bradford",
        summary=summary,
        contact="Kim Ray, 01274 000 000",
    )


def held(session: Session, record: ChildRecord) -> None:
    upsert_records(session, [record], lambda _r: [], "local")


# --- outbox ------------------------------------------------------------------------------------------------


def test_queued_changes_wait_in_order_until_sent(db: Database) -> None:
    with db.session() as s:
        assert store.enqueue(s, RecordId("LDS-0001"), [MOVED, CONCERN], now=NOON) == 2
        assert store.enqueue(s, RecordId("LDS-0002"), []) == 0
    with db.session() as s:
        items = store.pending(s)
        assert [(i.record_id, i.event, i.attempts) for i in items] == [
            ("LDS-0001", MOVED, 0),
            ("LDS-0001", CONCERN, 0),
        ]
        assert items[0].created_at == NOON
        assert store.mark_sent(s, [items[0].id], now=NOON) == 1
        assert store.mark_sent(s, [items[0].id]) == 0  # already sent
    with db.session() as s:
        assert [i.event for i in store.pending(s)] == [CONCERN]


POLICY = RetryPolicy(
    first_delay=dt.timedelta(seconds=2),
    max_delay=dt.timedelta(seconds=30),
    give_up_after=dt.timedelta(hours=1),
)


def test_an_unanswered_send_waits_out_a_growing_backoff_behind_fresh_changes(db: Database) -> None:
    with db.session() as s:
        store.enqueue(s, RecordId("LDS-0001"), [MOVED], now=NOON)
        store.enqueue(s, RecordId("LDS-0002"), [CONCERN], now=NOON)
        first = store.pending(s, now=NOON)[0]
        assert store.record_attempt(s, first.id, None, POLICY, error="directory down", now=NOON) is (
            store.Attempt.RETRY
        )
    with db.session() as s:
        assert [i.record_id for i in store.pending(s, now=NOON)] == ["LDS-0002"]  # LDS-0001 backs off
        later = NOON + dt.timedelta(seconds=2)  # the first delay's ceiling
        assert [(i.record_id, i.attempts) for i in store.pending(s, now=later)] == [
            ("LDS-0002", 0),
            ("LDS-0001", 1),
        ]
        assert [i.record_id for i in store.pending(s, limit=1, now=later)] == ["LDS-0002"]


def test_backoff_doubles_with_jitter_up_to_its_ceiling() -> None:
    rng = random.Random(7)
    for attempts, ceiling in ((1, 2), (2, 4), (3, 8), (4, 16), (5, 30), (40, 30)):
        delay = POLICY.delay(attempts, rng).total_seconds()
        assert ceiling / 2 <= delay <= ceiling


def test_only_the_councils_that_answered_are_done_with(db: Database) -> None:
    with db.session() as s:
        store.enqueue(s, RecordId("LDS-0001"), [MOVED], now=NOON)
        [item] = store.pending(s, now=NOON)
        assert store.record_attempt(s, item.id, ["E08000032"], POLICY, now=NOON) is store.Attempt.RETRY
    with db.session() as s:
        [item] = store.pending(s, now=NOON + dt.timedelta(minutes=1))
        assert item.waiting_for == frozenset({"E08000032"})
        assert store.record_attempt(s, item.id, [], POLICY, now=NOON) is store.Attempt.DELIVERED
    with db.session() as s:
        assert store.pending(s, now=NOON + dt.timedelta(days=1)) == []
        assert store.undelivered(s) == []


def test_past_the_bound_an_item_is_undelivered_naming_who_never_answered(db: Database) -> None:
    with db.session() as s:
        store.enqueue(s, RecordId("LDS-0001"), [MOVED], now=NOON)
        [item] = store.pending(s, now=NOON)
        past = NOON + POLICY.give_up_after
        result = store.record_attempt(s, item.id, ["E08000032"], POLICY, error="E08000032: down", now=past)
        assert result is store.Attempt.UNDELIVERED
    with db.session() as s:
        assert store.pending(s, now=past + dt.timedelta(days=1)) == []
        [given_up] = store.undelivered(s)
        assert (given_up.waiting_for, given_up.undelivered_at, given_up.last_error) == (
            frozenset({"E08000032"}),
            past,
            "E08000032: down",
        )


def test_recording_an_attempt_at_an_unknown_outbox_item_is_an_error(db: Database) -> None:
    with db.session() as s, pytest.raises(NotFound, match="no item 99"):
        store.record_attempt(s, 99, [], POLICY)


# --- delivery ----------------------------------------------------------------------------------------------


def test_each_practitioner_involved_today_gets_one_alert(db: Database) -> None:
    ended = social_worker(practitioner="Pat Old", end_date=dt.date(2026, 1, 1))
    second_role = social_worker(role="Team manager", start_date=dt.date(2026, 5, 1))  # Sam Patel again
    record = child(involvements=(social_worker(), second_role, ended, camhs()))
    with db.session() as s:
        held(s, record)
        alerts = store.deliver(s, record, from_bradford(), TODAY, now=NOON)
    assert sorted(a.practitioner_name for a in alerts) == ["Dr Ruth Okafor", "Sam Patel"]
    alert = next(a for a in alerts if a.practitioner_name == "Sam Patel")
    assert (alert.record_id, alert.child_name, alert.event_type, alert.occurred_on) == (
        "LDS-0001",
        "Zoë O'Neill",
        "new_involvement",
        dt.date(2026, 11, 20),
    )
    assert (alert.from_council_code, alert.from_council_name, alert.contact) == (
        "E08000032",
        "Bradford",
        "Kim Ray, 01274 000 000",
    )
    assert len(alert.alert_id) == 32 and not alert.read
    with db.session() as s:
        assert store.list_for(s, "Pat Old") == []
        assert store.list_for(s, "Sam Patel") == [alert]


def test_no_one_is_alerted_when_nobody_here_is_involved_or_the_record_is_past_retention(db: Database) -> None:
    nobody = child(involvements=(social_worker(end_date=dt.date(2026, 1, 1)),))
    adult = child(date_of_birth=dt.date(2007, 1, 1))
    with db.session() as s:
        assert store.deliver(s, nobody, from_bradford(), TODAY) == []
        assert store.deliver(s, adult, from_bradford(), TODAY) == []
        assert store.list_for(s, "Sam Patel") == []


def test_the_same_notification_twice_is_shown_once(db: Database) -> None:
    record = child()
    with db.session() as s:
        assert len(store.deliver(s, record, from_bradford(), TODAY)) == 1
        assert store.deliver(s, record, from_bradford(), TODAY) == []
        assert len(store.deliver(s, record, from_bradford("A change was recorded at Bradford"), TODAY)) == 1
        assert len(store.list_for(s, "Sam Patel")) == 2


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"event_type": "case_notes"}, "unknown event_type"),
        ({"occurred_on": "20/11/2026"}, "occurred_on is not a YYYY-MM-DD date"),
        ({"summary": "x" * 401}, "summary is longer than 400"),
        ({"council_code": ""}, "council_code is empty"),
    ],
)
def test_a_malformed_event_is_refused(db: Database, change: dict[str, str], error: str) -> None:
    event = from_bradford()
    for field, value in change.items():
        setattr(event, field, value)
    with db.session() as s, pytest.raises(InvalidInput, match=error):
        store.deliver(s, child(), event, TODAY)


def test_alerts_list_newest_first_by_display_name(db: Database) -> None:
    record = child()
    with db.session() as s:
        held(s, record)
        for hour, summary in enumerate(["first", "second", "third"]):
            store.deliver(s, record, from_bradford(summary), TODAY, now=NOON + dt.timedelta(hours=hour))
    with db.session() as s:
        assert [a.summary for a in store.list_for(s, "Sam Patel")] == ["third", "second", "first"]
        assert [a.summary for a in store.list_for(s, "  sam   PATEL ")] == ["third", "second", "first"]
        assert [a.summary for a in store.list_for(s, "Sam Patel", limit=1)] == ["third"]


def test_read_alerts_drop_out_of_the_unread_list_and_only_for_their_owner(db: Database) -> None:
    record = child(involvements=(social_worker(), camhs()))
    with db.session() as s:
        held(s, record)
        alerts = store.deliver(s, record, from_bradford(), TODAY, now=NOON)
    sams = next(a for a in alerts if a.practitioner_name == "Sam Patel")
    ruths = next(a for a in alerts if a.practitioner_name == "Dr Ruth Okafor")
    with db.session() as s:
        assert store.mark_read(s, "Sam Patel", [ruths.alert_id]) == 0  # not Sam's to mark
        assert store.mark_read(s, "Sam Patel", [sams.alert_id], now=NOON) == 1
        assert store.mark_read(s, "Sam Patel", [sams.alert_id]) == 0
    with db.session() as s:
        assert store.list_for(s, "Sam Patel", unread_only=True) == []
        (read,) = store.list_for(s, "Sam Patel")
        assert read.read_at == NOON
        assert [a.alert_id for a in store.list_for(s, "Dr Ruth Okafor", unread_only=True)] == [ruths.alert_id]


def test_an_alert_for_a_record_since_removed_still_lists(db: Database) -> None:
    with db.session() as s:
        store.deliver(s, child(), from_bradford(), TODAY)
    with db.session() as s:
        (alert,) = store.list_for(s, "Sam Patel")
    assert alert.child_name == ""


def test_an_alert_as_the_practitioner_service_sends_it(db: Database) -> None:
    record = replace(child(), forename="Amir", surname="Khan")
    with db.session() as s:
        (alert,) = store.deliver(s, record, from_bradford(), TODAY, now=NOON)
    wire = alert.to_proto()
    assert (wire.alert_id, wire.record_id, wire.child_name) == (alert.alert_id, "LDS-0001", "Amir Khan")
    assert (wire.event_type, wire.occurred_on, wire.from_council_code, wire.from_council_name) == (
        "new_involvement",
        "2026-11-20",
        "E08000032",
        "Bradford",
    )
    assert wire.received_at_ms == int(NOON.timestamp() * 1000)
