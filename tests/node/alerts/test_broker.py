"""Live alerts reach the watching practitioner they are for, and nobody else; closed streams leave nothing."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from whoelse.node.alerts.broker import AlertBroker
from whoelse.node.alerts.store import StoredAlert
from whoelse.node.records import RecordId


def alert(practitioner: str, summary: str = "A school nurse at Bradford became involved") -> StoredAlert:
    return StoredAlert(
        alert_id=f"{abs(hash((practitioner, summary))):032x}"[:32],
        record_id=RecordId("LDS-0001"),
        child_name="Zoë O'Neill",
        practitioner_name=practitioner,
        event_type="new_involvement",
        occurred_on=dt.date(2026, 11, 20),
        from_council_code="E08000032",
        from_council_name="Bradford",
        summary=summary,
        contact="Kim Ray, 01274 000 000",
        received_at=dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC),
    )


def test_an_alert_reaches_only_its_practitioners_streams() -> None:
    broker = AlertBroker()
    with broker.subscribe("Sam Patel") as sam, broker.subscribe("sam patel") as sam_phone:
        with broker.subscribe("Dr Ruth Okafor") as ruth:
            assert broker.publish(alert("Sam Patel")) == 2
            assert sam.get(timeout=1) == alert("Sam Patel")
            assert sam_phone.get(timeout=1) == alert("Sam Patel")
            assert ruth.get(timeout=0.05) is None
        assert broker.publish(alert("Nobody Watching")) == 0


def test_a_waiting_stream_wakes_when_an_alert_is_published() -> None:
    broker = AlertBroker()
    got: list[StoredAlert | None] = []
    with broker.subscribe("Sam Patel") as sam:
        waiter = threading.Thread(target=lambda: got.append(sam.get(timeout=5)))
        waiter.start()
        time.sleep(0.05)
        broker.publish(alert("Sam Patel"))
        waiter.join(timeout=5)
    assert got == [alert("Sam Patel")]


def test_leaving_a_stream_unsubscribes_even_when_the_client_vanishes_mid_stream() -> None:
    broker = AlertBroker()
    with pytest.raises(ConnectionError), broker.subscribe("Sam Patel"):
        assert broker.subscriber_count("Sam Patel") == 1
        raise ConnectionError("client went away")
    assert broker.subscriber_count() == 0
    assert broker._subscribers == {}  # no empty entry left per practitioner who ever watched
    assert broker.publish(alert("Sam Patel")) == 0


def test_a_stalled_stream_keeps_only_the_newest_alerts() -> None:
    broker = AlertBroker(queue_size=2)
    with broker.subscribe("Sam Patel") as sam:
        for n in range(5):
            broker.publish(alert("Sam Patel", f"alert {n}"))
        assert sam.dropped == 3
        assert [a.summary for a in (sam.get(0), sam.get(0))] == ["alert 3", "alert 4"]  # type: ignore[union-attr]
        assert sam.get(0) is None


def test_closing_the_broker_releases_every_waiting_stream() -> None:
    broker = AlertBroker()
    sam = broker.subscribe("Sam Patel")
    started = time.monotonic()
    threading.Timer(0.05, broker.close).start()
    assert sam.get(timeout=5) is None
    assert time.monotonic() - started < 2
    assert sam.closed and broker.subscriber_count() == 0
    assert broker.publish(alert("Sam Patel")) == 0


def test_publishing_from_many_threads_loses_nothing() -> None:
    broker = AlertBroker(queue_size=1000)
    with broker.subscribe("Sam Patel") as sam:
        threads = [
            threading.Thread(
                target=lambda t=t: [broker.publish(alert("Sam Patel", f"{t}-{n}")) for n in range(50)]
            )
            for t in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        received = set()
        while (next_alert := sam.get(0)) is not None:
            received.add(next_alert.summary)
    assert len(received) == 400
