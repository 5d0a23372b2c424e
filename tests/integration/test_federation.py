"""Searches across a real federation: the right councils answer, the rules hold, silence is named."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Council, Federation
from tests.wire import search_identity
from whoelse.federation import closed_sets
from whoelse.federation.errors import PermissionDenied, Unavailable
from whoelse.node.subject_access import subject_access_report
from whoelse.v1 import records_pb2 as pb

LEEDS, BRADFORD, WAKEFIELD = "E08000035", "E08000032", "E08000036"


def involvement(practitioner: str, role: str, service: str, **extra: Any) -> dict[str, Any]:
    return {
        "practitioner": practitioner,
        "organisation": "Children's Services",
        "role": role,
        "contact": "0300 000 0100",
        "service_type": service,
        "start_date": "2025-09-01",
        **extra,
    }


def child(
    record_id: str, forename: str, surname: str, dob: str, postcode: str, **extra: Any
) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "forename": forename,
        "surname": surname,
        "date_of_birth": dob,
        "sex": "F",
        "address": {"line1": "1 High Street", "postcode": postcode},
        **extra,
    }


ZOE_LEEDS = child(
    "L-1",
    "Zoë",
    "O'Neill",
    "2015-03-07",
    "LS6 2AB",
    nhs_number="9434765919",
    involvements=[involvement("Sam Patel", "Social worker", "social_care")],
)
ZOE_SISTER = child("L-2", "Ava", "O'Neill", "2013-01-20", "LS6 2AB")
ZOE_BRADFORD = child(  # moved, typo in the surname, known by the other council's copy
    "B-7",
    "Zoe",
    "ONeil",
    "2015-03-07",
    "BD1 1AA",
    involvements=[
        involvement("Jo Khan", "School nurse", "school_nursing"),
        involvement("Dr Lee", "Psychologist", "camhs_tier3", sensitive_basis="consent"),
    ],
)
SHIELDED_WAKEFIELD = child(
    "W-3",
    "Mia",
    "Brooks",
    "2012-05-05",
    "WF1 1AA",
    shielding={"reason": "risk of harm", "shielded_by": "Records Team", "shielded_on": "2026-01-01"},
    involvements=[involvement("Pat Wood", "Youth worker", "youth_service")],
)
MIA_LEEDS = child("L-9", "Mia", "Brooks", "2012-05-05", "LS1 1AA")


@pytest.fixture()
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    try:
        fed.add_council(LEEDS, "Leeds", [ZOE_LEEDS, ZOE_SISTER, MIA_LEEDS])
        fed.add_council(BRADFORD, "Bradford", [ZOE_BRADFORD])
        fed.add_council(WAKEFIELD, "Wakefield", [SHIELDED_WAKEFIELD])
        fed.run_upkeep()
        fed.add_practitioner(fed.councils[WAKEFIELD], "sw@wakefield", "Wakefield Worker")
        fed.add_practitioner(fed.councils[LEEDS], "sw@leeds", "Sam Patel")
        yield fed
    finally:
        fed.stop()


ZOE_SEARCHED = {"forename": "Zoe", "surname": "O'Neill", "date_of_birth": "2015-03-07", "sex": "F"}
"""How a practitioner searches for Zoe (Leeds and Bradford hold her)."""


def search(fed: Federation, council: Council, username: str, **identity: str) -> Any:
    return fed.client(council, username).search(search_identity(**identity), "safeguarding")


def by_council(response: Any) -> dict[str, Any]:
    return {r.council_code: r for r in response.results}


def test_search_finds_child_at_every_council_that_holds_her(federation: Federation) -> None:
    wakefield = federation.councils[WAKEFIELD]
    response = search(federation, wakefield, "sw@wakefield", **ZOE_SEARCHED)
    found = by_council(response)
    assert set(found) == {LEEDS, BRADFORD}
    assert (response.councils_asked, response.councils_answered, list(response.unanswered)) == (3, 3, [])
    leeds = found[LEEDS].candidates
    assert [c.disclosure.record_id for c in leeds] == ["L-1"]  # not her sister
    assert [i.practitioner for i in leeds[0].disclosure.involvements] == ["Sam Patel"]
    bradford = found[BRADFORD].candidates[0].disclosure
    assert bradford.address.postcode == "BD1 1AA"
    assert [i.role for i in bradford.involvements] == ["School nurse"]
    assert bradford.specialist_services_note.startswith("One or more specialist")


def test_councils_rule_out_a_child_from_memory_and_still_find_the_ones_they_hold(
    federation: Federation,
) -> None:
    """Each node's held-tag filter is built by its upkeep (node/federation/held_filter.py). A council
    holding nothing about the child is turned away from memory; one holding her is not."""
    wakefield = federation.councils[WAKEFIELD]
    key_id = wakefield.runtime.councils.require().oprf_key_id
    nobody = [bytes([n]) * 16 for n in range(16)]
    for council in federation.councils.values():
        assert not council.runtime.held_tags.may_hold(key_id, nobody), council.code
    response = search(federation, wakefield, "sw@wakefield", **ZOE_SEARCHED)
    assert set(by_council(response)) == {LEEDS, BRADFORD}


def test_shielded_record_reveals_no_whereabouts_across_the_federation(federation: Federation) -> None:
    leeds = federation.councils[LEEDS]
    response = search(
        federation, leeds, "sw@leeds", forename="Mia", surname="Brooks", date_of_birth="2012-05-05", sex="F"
    )
    wakefield = by_council(response)[WAKEFIELD].candidates[0]
    assert wakefield.disclosure.shielded
    assert wakefield.disclosure.records_team_contact.startswith("Wakefield records team")
    assert b"WF1" not in wakefield.SerializeToString() and b"Pat Wood" not in wakefield.SerializeToString()


def test_stopped_council_is_named_within_the_deadline(federation: Federation) -> None:
    bradford = federation.councils[BRADFORD]
    bradford.runtime.stop(bradford.servers)
    del federation.councils[BRADFORD]
    started = time.monotonic()
    response = search(federation, federation.councils[LEEDS], "sw@leeds", **ZOE_SEARCHED)
    elapsed = time.monotonic() - started
    unanswered = [
        (u.council_code, u.council_name, closed_sets.UNANSWERED_REASON.read(u)) for u in response.unanswered
    ]
    assert unanswered == [(BRADFORD, "Bradford", "unavailable")]
    assert LEEDS in by_council(response)
    assert elapsed < 3.0 + 2.0  # the search deadline plus slack, not a hang


def test_nodes_carry_on_after_the_directory_restarts(federation: Federation) -> None:
    federation.stop_directory()
    leeds = federation.councils[LEEDS]
    with pytest.raises(Unavailable) as down:
        search(federation, leeds, "sw@leeds", forename="Zoe", surname="O'Neill", date_of_birth="2015-03-07")
    # Leeds's node answered: the message names the directory, not the node, as what is down.
    assert str(down.value).startswith("your council's node could not complete this: directory unreachable")
    assert "home node unreachable" not in str(down.value)
    federation.start_directory()  # same port, same keys: no manual step at any node
    deadline = time.monotonic() + 20
    while True:
        try:
            response = search(federation, leeds, "sw@leeds", **ZOE_SEARCHED)
            break
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert set(by_council(response)) == {LEEDS, BRADFORD}


def test_a_stopped_home_node_is_named_as_unreachable(federation: Federation) -> None:
    leeds = federation.councils[LEEDS]
    client = federation.client(leeds, "sw@leeds")
    client.login()
    federation.stop_council(leeds)
    with pytest.raises(Unavailable, match=r"^home node unreachable: "):
        client.search(search_identity(**ZOE_SEARCHED), "safeguarding", timeout=3)


def test_subject_access_report_names_the_search_from_another_council(federation: Federation) -> None:
    search(federation, federation.councils[WAKEFIELD], "sw@wakefield", **ZOE_SEARCHED)
    report = subject_access_report(federation.councils[LEEDS].runtime.db, "L-1")
    text = report.to_text()
    assert "Wakefield" in text and "Wakefield Worker" in text and "safeguarding" in text
    [lookup] = report.lookups
    assert (lookup.council_code, lookup.council_name, lookup.purpose) == (
        WAKEFIELD,
        "Wakefield",
        "safeguarding",
    )
    assert "address" in lookup.disclosed.fields and not lookup.disclosed.shielded


def test_practitioner_whose_check_expired_cannot_search(federation: Federation) -> None:
    leeds = federation.councils[LEEDS]
    client = federation.client(leeds, "sw@leeds")
    client.login()
    leeds.runtime.accounts.update(
        "sw@leeds", dbs_checked_on=dt.date(2020, 1, 1)
    )  # check now over 3 years old
    with pytest.raises(PermissionDenied, match=r"criminal-records \(DBS\) check of 2020-01-01 expired"):
        client.search(
            pb.SearchIdentity(forename="Zoe", surname="O'Neill", date_of_birth="2015-03-07"), "safeguarding"
        )


def test_revoked_council_is_refused_and_dropped_from_searches(federation: Federation) -> None:
    federation.registry.revoke(BRADFORD)
    federation.run_upkeep()  # nodes refresh the signed council list
    response = search(federation, federation.councils[LEEDS], "sw@leeds", **ZOE_SEARCHED)
    assert response.councils_asked == 2
    assert BRADFORD not in by_council(response)
