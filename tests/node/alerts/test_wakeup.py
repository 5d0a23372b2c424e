"""The sender is woken by the commit that queues alerts, in this process, from another process (SQLite), and
through LISTEN/NOTIFY (PostgreSQL); a change that rolls back wakes nobody."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.node.records_factory import TODAY
from whoelse.node.alerts import store
from whoelse.node.alerts.events import ChangeEvent, EventType
from whoelse.node.alerts.wakeup import OutboxWaker
from whoelse.node.records import RecordId
from whoelse.node.storage.database import Database

MOVED = ChangeEvent(
    EventType.CHANGE_OF_ADDRESS, TODAY, "The child's address changed at Leeds", "Leeds records team"
)
WOKEN_WITHIN_S = 5.0  # generous for a loaded machine; the poll it replaces is 0.25 s, a missed wake-up never


@pytest.fixture
def waker(db: Database) -> Iterator[OutboxWaker]:
    waker = OutboxWaker(db)
    time.sleep(0.3)  # PostgreSQL: LISTEN is issued on the listener's own connection
    waker.wait(0)  # the listener's first "look now"
    yield waker
    waker.close()


def queue_one(db: Database) -> None:
    with db.session() as session:
        store.enqueue(session, RecordId("LDS-0001"), [MOVED])


def test_a_commit_that_queues_alerts_wakes_the_sender(db: Database, waker: OutboxWaker) -> None:
    assert not waker.wait(0.2)  # nothing queued: the wait runs its course
    queue_one(db)
    started = time.monotonic()
    assert waker.wait(WOKEN_WITHIN_S)
    assert time.monotonic() - started < WOKEN_WITHIN_S
    with db.session() as session:
        assert [i.record_id for i in store.pending(session)] == ["LDS-0001"]  # the outbox holds it


def test_a_change_that_rolls_back_wakes_nobody(db: Database, waker: OutboxWaker) -> None:
    class Refused(Exception):
        pass

    with pytest.raises(Refused), db.session() as session:
        store.enqueue(session, RecordId("LDS-0001"), [MOVED])
        raise Refused
    assert not waker.wait(0.5)
    with db.session() as session:
        assert store.pending(session) == []


def test_an_import_in_another_process_wakes_the_node(db: Database, waker: OutboxWaker) -> None:
    """`whoelse node import` runs beside the node: a datagram (SQLite) or NOTIFY (PostgreSQL) reaches it."""
    script = (
        "import sys\n"
        "from whoelse.node.alerts import store\n"
        "from whoelse.node.storage.database import Database\n"
        "from tests.node.alerts.test_wakeup import queue_one\n"
        "db = Database(sys.argv[1])\n"
        "queue_one(db)\n"
        "db.dispose()\n"
    )
    url = db.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script, url], env=env, check=True, timeout=120)
    assert waker.wait(WOKEN_WITHIN_S)


def test_a_node_killed_leaves_a_socket_the_next_one_replaces(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "council.sqlite"))
    db.migrate()
    stale = tmp_path / "council.sqlite.alerts-wake"
    stale.write_text("")  # what a killed node leaves
    waker = OutboxWaker(db)
    try:
        queue_one(db)
        assert waker.wait(WOKEN_WITHIN_S)
    finally:
        waker.close()
        db.dispose()
    assert not stale.exists()
