"""An alert reaches every council exactly once or is reported: a council that is down when a change is
recorded gets it when it is back, and one that never comes back within the bound is listed for the sending
council's records team."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Council, Federation
from tests.integration.test_federation import BRADFORD, LEEDS, WAKEFIELD, ZOE_LEEDS, involvement
from tests.integration.test_federation import SHIELDED_WAKEFIELD as MIA_WAKEFIELD
from tests.integration.test_federation import ZOE_BRADFORD as ZOE_AT_BRADFORD
from whoelse.federation.cli import main
from whoelse.node.alerts import store as alert_store
from whoelse.node.alerts.store import OutboxItem

LATER = dt.timedelta(minutes=1)  # past any backoff of these tests (first retry after 10-20 ms)


@pytest.fixture()
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    retry: dict[str, Any] = {
        "alert_retry_first_ms": 10,
        "alert_retry_max_ms": 20,
        "alert_give_up_after_s": 90,
    }
    try:
        fed.add_council(LEEDS, "Leeds", [ZOE_LEEDS], **retry)
        fed.add_council(BRADFORD, "Bradford", [ZOE_AT_BRADFORD], **retry)
        fed.add_council(WAKEFIELD, "Wakefield", [MIA_WAKEFIELD], **retry)
        fed.run_upkeep()
        yield fed
    finally:
        fed.stop()


def record_new_involvement(federation: Federation) -> None:
    changed = copy.deepcopy(ZOE_LEEDS)
    changed["involvements"].append(involvement("Kim Ray", "Health visitor", "health_visiting"))
    federation.record_change(federation.councils[LEEDS], [changed])


def alerts_at(council: Council, practitioner: str) -> list[str]:
    with council.runtime.db.session() as session:
        return [a.summary for a in alert_store.list_for(session, practitioner)]


def outbox(council: Council) -> list[OutboxItem]:
    """Every item still waiting at `council`, due or not."""
    with council.runtime.db.session() as session:
        return alert_store.pending(session, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=365))


def retry_until_delivered(council: Council) -> int:
    """Run the sender's retries as its alert loop would (these tests' backoff is at most 20 ms), until one
    delivers or a generous bound passes: the directory redials a restarted node only after its reconnect
    backoff (half a second or more)."""
    for _ in range(100):
        time.sleep(0.1)
        delivered = council.runtime.send_alerts()
        if delivered or not outbox(council):
            return delivered
    return 0


def test_an_alert_to_a_council_that_was_down_arrives_once_it_is_back(federation: Federation) -> None:
    leeds, bradford = federation.councils[LEEDS], federation.councils[BRADFORD]
    federation.stop_council(bradford)
    record_new_involvement(federation)

    assert leeds.runtime.send_alerts() == 0  # Wakefield answered, Bradford did not: not delivered
    [waiting] = outbox(leeds)
    assert waiting.waiting_for == frozenset({BRADFORD}) and waiting.attempts == 1
    assert "unavailable" in (waiting.last_error or "")

    federation.restart_council(bradford)
    assert alerts_at(bradford, "Jo Khan") == []
    assert retry_until_delivered(leeds) == 1
    assert alerts_at(bradford, "Jo Khan") == ["A health visitor at Children's Services became involved"]
    assert outbox(leeds) == []
    assert leeds.runtime.send_alerts(now=dt.datetime.now(dt.UTC) + 2 * LATER) == 0  # sent exactly once
    assert len(alerts_at(bradford, "Jo Khan")) == 1


def test_an_alert_a_council_never_answers_is_listed_as_undelivered(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    leeds = federation.councils[LEEDS]
    federation.stop_council(federation.councils[BRADFORD])
    record_new_involvement(federation)
    now = dt.datetime.now(dt.UTC)
    assert leeds.runtime.send_alerts(now=now) == 0
    assert leeds.runtime.send_alerts(now=now + LATER) == 0  # still within the 90 s bound: retried
    assert leeds.runtime.send_alerts(now=now + 2 * LATER) == 0  # past it: given up
    assert outbox(leeds) == []

    assert main(["node", "alerts", "undelivered", "--db", leeds.runtime.config.database]) == 0
    out = capsys.readouterr().out
    assert "new_involvement" in out and "given up" in out and "after 3 attempts" in out
    assert f"not received by: {BRADFORD}\n" in out  # Wakefield answered the first time
    assert main(["node", "alerts", "undelivered", "--json", "--db", leeds.runtime.config.database]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["record_id"], listed["not_received_by"]) == ("L-1", [BRADFORD])


def test_with_the_directory_down_an_alert_waits_out_its_backoff(federation: Federation) -> None:
    leeds = federation.councils[LEEDS]
    federation.stop_directory()
    record_new_involvement(federation)
    now = dt.datetime.now(dt.UTC)
    assert leeds.runtime.send_alerts(now=now) == 0
    assert leeds.runtime.send_alerts(now=now) == 0  # not due yet: no second attempt in a tight loop
    [waiting] = outbox(leeds)
    assert waiting.attempts == 1 and waiting.waiting_for is None  # no council was asked
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > now
    assert "directory unreachable" in (waiting.last_error or "")

    federation.start_directory()
    assert retry_until_delivered(leeds) == 1
    assert alerts_at(federation.councils[BRADFORD], "Jo Khan") != []
