"""The records team's page: unlock a locked-out practitioner at once, suspend one with a reason (both
audited), and the audit log's signed head and verification; no one else may use it."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, expect

from tests.integration.test_federation import WAKEFIELD
from tests.node.portal.conftest import (
    RECORDS_TEAM,
    Portals,
    fail_sign_in,
    new_practitioner,
    screenshot,
    search,
    sign_in,
)


def test_unlock_and_suspend_from_the_records_team_page(
    portals: Portals, page: Page, context: BrowserContext
) -> None:
    locked = new_practitioner(portals, WAKEFIELD)
    worker = context.browser.new_context()  # type: ignore[union-attr]
    try:
        theirs = worker.new_page()
        fail_sign_in(theirs, portals.wakefield, locked, 3)
        sign_in(page, portals.wakefield, portals, WAKEFIELD, RECORDS_TEAM)
        page.click(".govuk-service-navigation >> text=Records team")
        expect(page.locator("h1")).to_have_text("Records team")
        expect(page.locator(".govuk-summary-list")).to_contain_text("Verified")
        row = page.locator("tr", has_text=locked)
        expect(row).to_contain_text("Locked until")
        screenshot(page, "18-records-team")
        row.locator("button", has_text="Unlock").click()
        expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
            f"{locked} has been unlocked"
        )
        expect(page.locator("tr", has_text=locked)).not_to_contain_text("Locked until")
        sign_in(theirs, portals.wakefield, portals, WAKEFIELD, locked)
        expect(theirs.locator("h1")).to_have_text("Search for a child")

        page.locator("tr", has_text=locked).locator("button", has_text="Suspend").click()
        page.click("button:has-text('Suspend account')")  # no reason given
        expect(page.locator("#reason-error")).to_contain_text("Say why you are suspending this account")
        page.fill("#reason", "left the team")
        page.click("button:has-text('Suspend account')")
        expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
            f"{locked} has been suspended"
        )
        expect(page.locator("tr", has_text=locked)).to_contain_text("Suspended: left the team")
        # the suspended practitioner's open session ends at their next search
        search(theirs, "Zoe", "O'Neill", "2015-03-07")
        expect(theirs.locator("h1")).to_have_text("You have been signed out")
        expect(theirs.locator("main")).to_contain_text("ask your council's records team")

        audit = portals.council(WAKEFIELD).runtime.audit
        with audit.db.session() as session:
            entries = [e.entry for e in audit.log.entries(session)]
        changes = [(e["username"], e["action"], e["by"]) for e in entries if e["kind"] == "account_event"]
        by = f"{RECORDS_TEAM} through the portal"
        assert changes[-2:] == [(locked, "unlock", by), (locked, "suspend", by)]
    finally:
        worker.close()


def test_only_the_records_team_may_use_it(portals: Portals, page: Page) -> None:
    sign_in(page, portals.wakefield, portals, WAKEFIELD, new_practitioner(portals, WAKEFIELD))
    expect(page.locator(".govuk-service-navigation")).not_to_contain_text("Records team")
    response = page.goto(portals.wakefield.url + "records-team")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("This page is for the council's records team")
    page.goto(portals.wakefield.url + "search")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    forged = page.request.post(  # a valid form from a practitioner who is not in the records team
        portals.wakefield.url + "records-team/account",
        form={"username": RECORDS_TEAM, "action": "suspend", "reason": "x", "csrf_token": token},
    )
    assert forged.status == 403
    assert portals.council(WAKEFIELD).runtime.accounts.get(RECORDS_TEAM).status.value == "active"
