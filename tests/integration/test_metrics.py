"""Prometheus /metrics at a running council and at the directory: what an operator would graph and alert
on after practitioners search, a council goes down and a stranger guesses a password — and no child's
details in any of it."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Federation
from tests.integration.test_federation import BRADFORD, LEEDS, ZOE_LEEDS, ZOE_SEARCHED
from tests.integration.test_federation import ZOE_BRADFORD as ZOE_AT_BRADFORD
from tests.wire import search_identity
from whoelse.federation.errors import Unauthenticated
from whoelse.federation.metrics_endpoint import serve_metrics


@pytest.fixture()
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    try:
        fed.add_council(LEEDS, "Leeds", [ZOE_LEEDS], listen_metrics="127.0.0.1:0")
        fed.add_council(BRADFORD, "Bradford", [ZOE_AT_BRADFORD])
        fed.run_upkeep()
        fed.add_practitioner(fed.councils[LEEDS], "sam@leeds", "Sam Patel")
        yield fed
    finally:
        fed.stop()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return str(reply.read().decode("utf-8"))


def value(text: str, sample: str) -> float:
    """The value of one sample line, e.g. 'whoelse_searches_total{purpose="safeguarding"}'."""
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"no {sample} in the metrics"
    return float(match.group(1))


def test_a_councils_metrics_show_searches_answers_and_lockouts(federation: Federation) -> None:
    leeds = federation.councils[LEEDS]
    client = federation.client(leeds, "sam@leeds")
    client.search(search_identity(**ZOE_SEARCHED), "safeguarding")
    federation.stop_council(federation.councils[BRADFORD])
    client.search(search_identity(**ZOE_SEARCHED), "child_in_need")
    for _ in range(4):  # a stranger's guesses: three free, then a slow-down
        with pytest.raises(Unauthenticated):
            leeds.runtime.accounts.login("sam@leeds", "wrong password!!", "000000", source="ipv4:192.0.2.9")

    text = scrape(leeds.runtime.metrics_port)
    assert value(text, 'whoelse_searches_total{purpose="safeguarding"}') == 1
    assert value(text, 'whoelse_searches_total{purpose="child_in_need"}') == 1
    assert value(text, "whoelse_search_seconds_count") == 2
    answered = 'whoelse_answers_total{council="E08000032",kind="search",outcome="answered"}'
    assert value(text, answered) == 1
    down = 'whoelse_answers_total{council="E08000032",kind="search",outcome="unavailable"}'
    assert value(text, down) == 1
    assert value(text, 'whoelse_login_refusals_total{kind="slowed"}') == 1
    assert value(text, "whoelse_queries_received_total") == 2  # Leeds asks itself too
    assert value(text, "whoelse_audit_log_entries") > 0
    assert value(text, "whoelse_alerts_queued") == 0
    for detail in ("Zoe", "Zoë", "O'Neill", "2015-03-07", "LS6", "9434765919", "sam@leeds"):
        assert detail not in text


def test_the_directorys_metrics_show_routes_unanswered_councils_and_token_evaluations(
    federation: Federation,
) -> None:
    server, port = serve_metrics("127.0.0.1:0", federation.directory_metrics.registry, "test")
    try:
        federation.stop_council(federation.councils[BRADFORD])
        client = federation.client(federation.councils[LEEDS], "sam@leeds")
        client.search(search_identity(**ZOE_SEARCHED), "safeguarding")
        text = scrape(port)
    finally:
        server.shutdown()
        server.server_close()
    assert value(text, 'whoelse_routes_total{purpose="safeguarding"}') == 1
    assert value(text, 'whoelse_route_unanswered_total{council="E08000032",reason="unavailable"}') == 1
    assert value(text, f'whoelse_token_evaluations_total{{council="{LEEDS}"}}') > 0
    assert "Zoe" not in text and "2015-03-07" not in text
