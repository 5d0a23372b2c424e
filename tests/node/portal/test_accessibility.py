"""axe-core (tests/assets/axe-core) finds no serious or critical accessibility violation on a main page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.integration.test_federation import WAKEFIELD
from tests.node.portal.conftest import Portals, new_practitioner, search, sign_in

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
    for name in ("alerts", "searches", "accessibility"):
        page.goto(url + name)
        checked[name] = serious_violations(page)
    page.goto(url + "sign-out")
    checked["signed out"] = serious_violations(page)
    assert {name: v for name, v in checked.items() if v} == {}
