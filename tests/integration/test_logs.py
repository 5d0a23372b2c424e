"""A search journey's logs — at the searching council, at the councils answering and at the directory, at
every level — follow the search by its request id and never hold the child's details."""

from __future__ import annotations

import copy
import json
import logging

import pytest

from tests.integration.harness import Federation
from tests.integration.test_federation import (
    LEEDS,
    WAKEFIELD,
    ZOE_SEARCHED,
    federation,  # noqa: F401  (the fixture: Leeds, Bradford, Wakefield)
    involvement,
)
from tests.integration.test_federation import ZOE_LEEDS as ZOE
from tests.wire import search_identity
from whoelse.federation import logs

CHILD_DETAILS = (
    "Zoë",
    "Zoe",
    "O'Neill",
    "ONeil",
    "2015-03-07",
    "LS6 2AB",
    "BD1 1AA",
    "9434765919",
    "High St",
)


def test_a_search_journeys_logs_name_its_request_and_no_child(
    federation: Federation,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(logs.RequestIds())
    client = federation.client(federation.councils[LEEDS], "sw@leeds")
    client.search(search_identity(**ZOE_SEARCHED, postcode="LS6 2AB", nhs_number="9434765919"), "health")
    federation.stop_council(federation.councils[WAKEFIELD])  # a warning or two: a council not answering
    client.search(search_identity(**ZOE_SEARCHED), "safeguarding")
    changed = copy.deepcopy(ZOE)
    changed["involvements"].append(involvement("Kim Ray", "Health visitor", "health_visiting"))
    federation.record_change(federation.councils[LEEDS], [changed])
    federation.councils[LEEDS].runtime.send_alerts()

    formatter = logs.json_formatter()
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    searches = [line for line in lines if line["event"].startswith("search ")]
    assert len(searches) == 2 and all(line.get("request_id") for line in searches)
    assert any(line["event"].startswith("routed a safeguarding query") for line in lines)
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for detail in CHILD_DETAILS:
        assert detail not in text
