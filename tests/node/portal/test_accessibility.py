"""axe-core (tests/assets/axe-core) finds no serious or critical accessibility violation on a main page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.integration.harness import PASSWORD, totp_now
from tests.integration.test_federation import WAKEFIELD
from tests.node.portal.conftest import RECORDS_TEAM_2, Portals, new_practitioner, screenshot, search, sign_in

AXE = (Path(__file__).resolve().parents[2] / "assets" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


def serious_violations(page: Page) -> list[str]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE)  # evaluated by the browser's debugger, which the page's CSP does not govern
    found: list[dict[str, Any]] = page.evaluate(
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa',"
        " 'best-practice']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})))"
    )
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in found
            if v["impact"] in ("serious", "critical")]  # fmt: skip


def test_no_serious_or_critical_violations_on_the_main_pages(portals: Portals, page: Page) -> None:
    url = portals.wakefield.url
    checked: dict[str, list[str]] = {}
    page.goto(url + "sign-in")
    checked["sign in"] = serious_violations(page)
    page.click("button:has-text('Sign in')")
    checked["sign in with errors"] = serious_violations(page)
    sign_in(page, portals.wakefield, portals, WAKEFIELD, new_practitioner(portals, WAKEFIELD))
    checked["search"] = serious_violations(page)
    page.click("button:has-text('Search every council')")
    checked["search with errors"] = serious_violations(page)
    search(page, "Mia", "Brooks", "2012-05-05")
    expect(page.locator("h1")).to_have_text("Search results")
    checked["results"] = serious_violations(page)
    page.locator(f"[data-council={WAKEFIELD}] button", has_text="Record my involvement").click()
    checked["record my involvement"] = serious_violations(page)
    page.click("button:has-text('Record my involvement')")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    checked["record my involvement with errors"] = serious_violations(page)
    for name in ("alerts", "searches", "accessibility"):
        page.goto(url + name)
        checked[name] = serious_violations(page)
    page.goto(url + "sign-out")
    sign_in(page, portals.wakefield, portals, WAKEFIELD, RECORDS_TEAM_2)
    page.goto(url + "records-team")
    expect(page.locator("h1")).to_have_text("Records team")
    checked["records team"] = serious_violations(page)
    page.locator("button", has_text="Suspend").first.click()
    checked["suspend"] = serious_violations(page)
    page.goto(url + "sign-out")
    checked["signed out"] = serious_violations(page)
    assert {name: v for name, v in checked.items() if v} == {}


def test_pages_are_small_and_readable_320_pixels_wide(portals: Portals, context: BrowserContext) -> None:
    """For the workforce's old, slow, shared machines: under 100 KB of HTML, and no sideways scrolling."""
    narrow = context.browser.new_context(viewport={"width": 320, "height": 640})  # type: ignore[union-attr]
    try:
        page = narrow.new_page()
        sizes: dict[str, int] = {}
        widths: dict[str, int] = {}
        sizes["sign in"] = len(page.goto(portals.wakefield.url + "sign-in").body())  # type: ignore[union-attr]
        widths["sign in"] = page.evaluate("document.documentElement.scrollWidth")
        sign_in(page, portals.wakefield, portals, WAKEFIELD, new_practitioner(portals, WAKEFIELD))
        widths["search"] = page.evaluate("document.documentElement.scrollWidth")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            search(page, "Zoe", "O'Neill", "2015-03-07")
        sizes["results"] = len(answer.value.body())
        widths["results"] = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, "15-results-320px")
        assert all(size < 100_000 for size in sizes.values()), sizes
        assert all(width <= 320 for width in widths.values()), widths
    finally:
        narrow.close()


def test_sign_in_and_search_with_the_keyboard_only(portals: Portals, page: Page) -> None:
    page.goto(portals.wakefield.url + "sign-in")
    page.keyboard.press("Tab")
    expect(page.locator(".govuk-skip-link")).to_be_focused()
    user = new_practitioner(portals, WAKEFIELD)
    page.locator("#username").focus()
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")  # the password input's "Show" button
    page.keyboard.press("Tab")
    expect(page.locator("#totp_code")).to_be_focused()
    page.keyboard.type(totp_now(portals.council(WAKEFIELD).practitioners[user]))
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Search for a child")
    page.locator("#forename").focus()
    page.keyboard.press("Enter")  # sends the form: the error summary takes focus
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator(".govuk-error-summary a").first).to_be_focused()
    page.keyboard.press("Enter")  # the first problem: no sex chosen (names may be left out)
    expect(page.locator("#sex")).to_be_focused()
