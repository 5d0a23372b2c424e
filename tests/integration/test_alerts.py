"""Proactive alerts over the federation: a change at one council reaches the practitioners involved
with the same child at another, live and in their list, with the sender's disclosure rules applied."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Federation
from tests.integration.test_federation import (
    BRADFORD,
    LEEDS,
    SHIELDED_WAKEFIELD,
    WAKEFIELD,
    ZOE_BRADFORD,
    ZOE_LEEDS,
    child,
    involvement,
)
from whoelse.node.subject_access import subject_access_report


@pytest.fixture()
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    try:
        fed.add_council(
            LEEDS,
            "Leeds",
            [
                ZOE_LEEDS,
                child(
                    "L-9",
                    "Mia",
                    "Brooks",
                    "2012-05-05",
                    "LS1 1AA",
                    involvements=[involvement("Ann Bell", "Teacher", "education_welfare")],
                ),
            ],
        )
        fed.add_council(BRADFORD, "Bradford", [ZOE_BRADFORD])
        fed.add_council(WAKEFIELD, "Wakefield", [SHIELDED_WAKEFIELD])
        fed.run_upkeep()
        fed.add_practitioner(fed.councils[BRADFORD], "jo@bradford", "Jo Khan", role="School nurse")
        fed.add_practitioner(fed.councils[LEEDS], "ann@leeds", "Ann Bell", role="Teacher")
        yield fed
    finally:
        fed.stop()


def test_new_involvement_at_leeds_alerts_the_school_nurse_at_bradford(federation: Federation) -> None:
    nurse = federation.client(federation.councils[BRADFORD], "jo@bradford")
    received: list[Any] = []
    watching = threading.Event()

    def watch() -> None:
        for alert in nurse.watch(timeout=15):
            received.append(alert)
            return

    watcher = threading.Thread(target=watch)
    watcher.start()
    watching.wait(0.5)  # let the stream open before the change is sent
    changed = copy.deepcopy(ZOE_LEEDS)
    changed["involvements"].append(involvement("Kim Ray", "Health visitor", "health_visiting"))
    federation.record_change(federation.councils[LEEDS], [changed])
    assert federation.councils[LEEDS].runtime.send_alerts() == 1
    watcher.join(20)
    assert [a.summary for a in received] == ["A health visitor at Children's Services became involved"]
    [listed] = nurse.alerts()
    assert (listed.record_id, listed.from_council_code, listed.event_type) == (
        "B-7",
        LEEDS,
        "new_involvement",
    )
    assert listed.child_name.startswith("Zoe")
    assert listed.contact == "Kim Ray, 0300 000 0100"
    # The alert is in Bradford's audit log, so it appears in the child's subject access report there.
    report = subject_access_report(federation.councils[BRADFORD].runtime.db, "B-7")
    assert {p for a in report.alerts for p in a.practitioners} == {"Jo Khan", "Dr Lee"}  # both work with her


def test_shielded_childs_move_is_never_announced(federation: Federation) -> None:
    moved = copy.deepcopy(SHIELDED_WAKEFIELD)
    moved["address"] = {"line1": "9 New Road", "postcode": "WF2 2BB"}
    federation.record_change(federation.councils[WAKEFIELD], [moved])
    assert federation.councils[WAKEFIELD].runtime.send_alerts() == 0
    teacher = federation.client(federation.councils[LEEDS], "ann@leeds")
    assert teacher.alerts() == []


def test_sensitive_service_is_announced_only_as_the_fixed_phrase(federation: Federation) -> None:
    changed = copy.deepcopy(ZOE_LEEDS)
    changed["involvements"].append(
        involvement(
            "Dr Grey",
            "Counsellor",
            "substance_misuse",
            sensitive_basis="override",
            override_reason="risk of significant harm",
        )
    )
    federation.record_change(federation.councils[LEEDS], [changed])
    assert federation.councils[LEEDS].runtime.send_alerts() == 1
    alerts = federation.client(federation.councils[BRADFORD], "jo@bradford").alerts()
    assert [a.summary for a in alerts] == [
        "One or more specialist and targeted services have been recorded at Leeds"
    ]
    assert "Grey" not in alerts[0].contact and "substance" not in str(alerts[0]).lower()
    # The override and its reason are in Leeds's subject access report for the child.
    report = subject_access_report(federation.councils[LEEDS].runtime.db, "L-1")
    assert [(d.reason, d.basis) for d in report.sensitive_services] == [
        ("risk of significant harm", "override")
    ]
