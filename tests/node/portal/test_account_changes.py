"""Changing an account from the records team's pages in a real browser: its details and the records team's
role (stored with the account, so it holds at every sign-in, granted and withdrawn with an audit entry), and
new sign-in details for a forgotten password or a lost phone (a one-time hand-over; the old ones and every
session stop working)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.integration.harness import PASSWORD, totp_now
from tests.integration.test_federation import WAKEFIELD
from tests.node.portal.conftest import (
    Portals,
    new_practitioner,
    records_officer,
    screenshot,
    search,
    sign_in,
)
from tests.node.portal.test_accessibility import serious_violations
from tests.node.portal.test_records_team_pages import _audit


def _account_events(portals: Portals) -> list[Mapping[str, Any]]:
    return _audit(portals, "account_event")


def _records_team_link(page: Page) -> Any:
    return page.locator(".govuk-service-navigation").get_by_role("link", name="Records team")


def test_change_details_and_grant_the_records_team_role(
    portals: Portals, page: Page, context: BrowserContext
) -> None:
    url = portals.wakefield.url
    accounts = portals.council(WAKEFIELD).runtime.accounts
    worker = new_practitioner(portals, WAKEFIELD, "Ola Worker", "Social worker")
    officer = records_officer()
    sign_in(page, portals.wakefield, portals, WAKEFIELD, officer)
    page.goto(url + "records-team")
    page.click(f"button[aria-label='Change details {worker}']")
    expect(page.locator("h1")).to_have_text("Change details")
    expect(page.locator("#role")).to_have_value("Social worker")  # filled in with what is recorded
    expect(page.locator("#dbs_checked_on_year")).to_have_value(str(dt.date.today().year))
    expect(page.locator("#records_team-2")).to_be_checked()  # "No"
    screenshot(page, "24-change-details")
    assert serious_violations(page) == []

    page.fill("#role", "")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.click("button:has-text('Save the changes')")
    assert refused.value.status == 400
    summary = page.locator(".govuk-error-summary")
    expect(summary.locator("a[href='#role']")).to_have_text("Enter the practitioner's role")
    assert accounts.get(worker).role == "Social worker"

    renewed = dt.date.today() - dt.timedelta(days=1)
    page.fill("#role", "Senior social worker")
    page.fill("#dbs_checked_on_day", str(renewed.day))
    page.fill("#dbs_checked_on_month", str(renewed.month))
    page.fill("#dbs_checked_on_year", str(renewed.year))
    page.check("#records_team")  # "Yes"
    page.click("button:has-text('Save the changes')")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(f"{worker}'s details saved")
    expect(page.locator("tr", has_text=worker)).to_contain_text("Senior social worker. Records team")
    changed = accounts.get(worker)
    assert (changed.role, changed.dbs_checked_on) == ("Senior social worker", renewed)
    assert changed.records_team
    entry = _account_events(portals)[-1]
    assert (entry["username"], entry["action"], entry["by"]) == (
        worker, "update: records team granted", f"{officer} through the portal"
    )  # fmt: skip

    # the role is the account's: the new member signs in and has the records team's pages
    theirs = context.browser.new_context().new_page()  # type: ignore[union-attr]  # their own cookies
    sign_in(theirs, portals.wakefield, portals, WAKEFIELD, worker)
    expect(_records_team_link(theirs)).to_be_visible()
    theirs.goto(url + "records-team")
    expect(theirs.locator("h1")).to_have_text("Records team")

    # an officer cannot take the role away from themselves (a council must not lock itself out)
    page.click(f"button[aria-label='Change details {officer}']")
    page.check("#records_team-2")  # "No"
    page.click("button:has-text('Save the changes')")
    expect(page.locator("#records_team-error")).to_contain_text("cannot take away your own records team role")
    assert accounts.get(officer).records_team

    # withdrawn by another officer: the pages are refused on the next request, not only at the next sign-in
    page.goto(url + "records-team")
    page.click(f"button[aria-label='Change details {worker}']")
    page.check("#records_team-2")
    page.click("button:has-text('Save the changes')")
    expect(page.locator("tr", has_text=worker)).not_to_contain_text("Records team")
    assert _account_events(portals)[-1]["action"] == "update: records team withdrawn"
    response = theirs.goto(url + "records-team")
    assert response is not None and response.status == 403

    # saving with nothing changed writes no audit entry (an unchanged manager is not authorised anew)
    before = len(_account_events(portals))
    page.click(f"button[aria-label='Change details {worker}']")
    page.click("button:has-text('Save the changes')")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("nothing was different")
    assert len(_account_events(portals)) == before


def test_reset_sign_in_details_hands_over_new_ones_and_ends_the_old(
    portals: Portals, page: Page, context: BrowserContext
) -> None:
    url = portals.wakefield.url
    worker = new_practitioner(portals, WAKEFIELD, "Pat Lostphone")
    theirs = context.browser.new_context().new_page()  # type: ignore[union-attr]
    sign_in(theirs, portals.wakefield, portals, WAKEFIELD, worker)
    expect(theirs.locator("h1")).to_have_text("Search for a child")

    officer = records_officer()
    sign_in(page, portals.wakefield, portals, WAKEFIELD, officer)
    page.goto(url + "records-team")
    page.click(f"button[aria-label='Reset sign-in {worker}']")
    expect(page.locator("h1")).to_have_text("Reset sign-in details")
    expect(page.locator(".govuk-warning-text")).to_contain_text("stop working at once")
    assert serious_violations(page) == []
    assert not any(e["action"] == "reset" and e["username"] == worker for e in _account_events(portals))

    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.click("button:has-text('Reset sign-in details')")
    assert answered.value.headers["cache-control"] == "no-store"
    expect(page.locator(".govuk-panel")).to_contain_text("New sign-in details")
    password = page.inner_text("#handover-password").strip()
    secret = page.inner_text("#handover-totp").strip()
    expect(page.locator("figure svg.portal-qr")).to_be_visible()
    screenshot(page, "25-new-sign-in-details")
    assert serious_violations(page) == []
    entry = _account_events(portals)[-1]
    by = f"{officer} through the portal"
    assert (entry["username"], entry["action"], entry["by"]) == (worker, "reset", by)

    search(theirs, "Zoe", "O'Neill", "2015-03-07")  # the session from before the reset has ended
    expect(theirs.locator("h1")).to_have_text("You have been signed out")
    theirs.goto(url + "sign-in")  # the old password no longer works
    theirs.fill("#username", worker)
    theirs.fill("#password", PASSWORD)
    theirs.fill("#totp_code", totp_now(portals.council(WAKEFIELD).practitioners[worker]))
    theirs.click("button:has-text('Sign in')")
    expect(theirs.locator(".govuk-error-summary")).to_contain_text("Log-in failed")
    theirs.fill("#username", worker)
    theirs.fill("#password", password)
    theirs.fill("#totp_code", totp_now(secret))
    theirs.click("button:has-text('Sign in')")
    expect(theirs.locator("h1")).to_have_text("Search for a child")
