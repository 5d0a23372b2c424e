"""A practitioner is shown every kind of detail that the holding council's subject access report says they
were shown — in `whoelse search --json` and in its table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Federation
from tests.integration.test_federation import BRADFORD, LEEDS, ZOE_LEEDS, ZOE_SEARCHED
from tests.wire import search_identity
from whoelse.federation.client_cli import _print_search
from whoelse.federation.practitioner_client import search_to_json
from whoelse.node.subject_access import subject_access_report

ZOE_IN_FULL = {
    **ZOE_LEEDS,
    "education": {"institution": "Hillside Primary", "contact": "0113 496 0000"},
    "gp": {"practice": "Mill Lane Surgery", "contact": "0113 496 0001"},
    "carers": [{"name": "Ann O'Neill", "relationship": "mother", "contact": "07700 900123"}],
}
# How each kind of detail in a subject access report appears in the search's JSON.
JSON_KEY = {"address": "address", "education": "school_contact", "gp": "gp_contact", "carers": "carers",
            "involvements": "involvements"}  # fmt: skip


@pytest.fixture()
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    try:
        fed.add_council(LEEDS, "Leeds", [ZOE_IN_FULL])
        fed.add_council(BRADFORD, "Bradford", [])
        fed.run_upkeep()
        fed.add_practitioner(fed.councils[BRADFORD], "jo@bradford", "Jo Khan", role="School nurse")
        yield fed
    finally:
        fed.stop()


def test_the_search_shows_all_that_the_subject_access_report_says_was_shown(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    response = federation.client(federation.councils[BRADFORD], "jo@bradford").search(
        search_identity(**ZOE_SEARCHED), "health"
    )
    [shown] = search_to_json(response)["results"]
    [lookup] = subject_access_report(federation.councils[LEEDS].runtime.db, "L-1").lookups
    for field in lookup.disclosed.fields:
        if field in JSON_KEY:
            assert shown[JSON_KEY[field]], f"the report says {field} was shown; the search does not show it"
    assert shown["address"]["line1"] == "1 High Street"
    assert shown["carers"] == [{"name": "Ann O'Neill", "role": "mother", "contact": "07700 900123"}]

    _print_search(search_to_json(response))
    table = capsys.readouterr().out
    for text in ("1 High Street", "Hillside Primary", "Mill Lane Surgery", "Ann O'Neill, mother"):
        assert text in table
