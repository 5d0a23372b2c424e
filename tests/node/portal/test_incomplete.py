"""Answers that need the practitioner's judgement: a possible match, a referral to a records team, and a
council that did not answer (its node is down) — in a federation of its own, since one council is stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration import test_federation as records
from tests.integration.harness import Federation
from tests.integration.test_federation import BRADFORD, LEEDS, WAKEFIELD
from tests.node.portal.conftest import Portals, new_practitioner, screenshot, search, sign_in
from whoelse.node.portal.server import PortalServer, start_portal


@pytest.fixture()
def bradford_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portals]:
    fed = Federation(tmp_path_factory.mktemp("portal-bradford-down"))
    portal: PortalServer | None = None
    try:
        fed.add_council(LEEDS, "Leeds", [records.ZOE_LEEDS])
        fed.add_council(BRADFORD, "Bradford", [records.ZOE_BRADFORD])
        fed.add_council(WAKEFIELD, "Wakefield", [records.SHIELDED_WAKEFIELD])
        fed.run_upkeep()
        bradford = fed.councils.pop(BRADFORD)
        bradford.runtime.stop(bradford.servers)
        wakefield = fed.councils[WAKEFIELD]
        # plain HTTP on loopback: the package's browser trusts only the main federation's certificates
        portal = start_portal(wakefield.runtime, wakefield.servers, plain_http=True)
        yield Portals(fed, portal, portal, portal, portal)
    finally:
        if portal is not None:
            portal.stop()
        fed.stop()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_possible_match_referral_and_a_council_that_did_not_answer(
    bradford_down: Portals, page: Page
) -> None:
    portals = bradford_down
    sign_in(page, portals.wakefield, portals, WAKEFIELD, new_practitioner(portals, WAKEFIELD))
    search(page, "Zoe", "O'Neill", "2015-03-07", sex="M")  # the wrong sex: Leeds calls it a possible match
    expect(page.locator(".portal-child h2 .govuk-tag")).to_have_text("Possible match")
    expect(page.locator(".govuk-warning-text")).to_contain_text("Check the name and date of birth")
    banner = page.locator(".govuk-notification-banner")
    expect(banner).to_contain_text("These results may be incomplete: 1 council did not answer")
    expect(page.locator("#unanswered")).to_contain_text("Bradford")
    assert "2 of 3 councils answered" in page.inner_text("main")
    screenshot(page, "16-results-possible-and-unanswered")

    page.goto(portals.wakefield.url + "search")
    search(page, "Zoe", "Smith", "2015-03-07")  # one detail in common with Leeds's record: ask its team
    expect(page.locator(".portal-child")).to_have_count(0)
    expect(page.locator("#referrals")).to_have_text("Leeds: Leeds records team, 0300 000 0000")
    for hidden in ("L-1", "O'Neill", "LS6", "Sam Patel"):
        assert hidden not in page.inner_text("main")
    expect(page.locator("#unanswered")).to_contain_text("Bradford")
    screenshot(page, "17-results-referral")
