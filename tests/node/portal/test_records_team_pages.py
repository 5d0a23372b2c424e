"""The records team's pages in a real browser: add a practitioner (a one-time hand-over with a TOTP QR code)
and end the account, shield and unshield a record, a subject access report (HTML and JSON), imports and
retention. Each refuses bad input with the GOV.UK error summary, writes the CLI's audit entries, passes axe,
and works without JavaScript; no one outside the records team may use them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.integration.harness import totp_now
from tests.integration.test_federation import BRADFORD, WAKEFIELD, child
from tests.node.portal.conftest import (
    Portals,
    new_practitioner,
    records_officer,
    screenshot,
    search,
    sign_in,
)
from tests.node.portal.test_accessibility import serious_violations
from whoelse.federation import closed_sets
from whoelse.federation.cli import main as whoelse
from whoelse.v1 import records_pb2 as pb


def _audit(portals: Portals, kind: str) -> list[Mapping[str, Any]]:
    audit = portals.council(WAKEFIELD).runtime.audit
    with audit.db.session() as session:
        return [e.entry for e in audit.log.entries(session) if e.entry["kind"] == kind]


def _hold(portals: Portals, record: dict[str, Any]) -> None:
    """Wakefield's case-management system sends a record, and the node tokenises it for searches."""
    wakefield = portals.council(WAKEFIELD)
    portals.federation.record_change(wakefield, [record])
    wakefield.runtime.upkeep()


def _fill_date(page: Page, name: str, day: dt.date) -> None:
    page.fill(f"#{name}_day", str(day.day))
    page.fill(f"#{name}_month", str(day.month))
    page.fill(f"#{name}_year", str(day.year))


def test_add_a_practitioner_hand_over_once_then_end_the_account(
    portals: Portals, page: Page, context: BrowserContext
) -> None:
    url = portals.wakefield.url
    officer = records_officer()
    sign_in(page, portals.wakefield, portals, WAKEFIELD, officer)
    page.click(".govuk-service-navigation >> text=Records team")
    page.click("text=Add a practitioner")
    expect(page.locator("h1")).to_have_text("Add a practitioner")
    assert serious_violations(page) == []

    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.click("button:has-text('Add the practitioner')")
    assert refused.value.status == 400
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.locator("a[href='#username']")).to_have_text("Enter a username")
    expect(summary).to_contain_text("Select whether the organisation is accredited")
    expect(page.locator("#username-error")).to_contain_text("Enter a username")
    screenshot(page, "19-add-practitioner-errors")
    assert serious_violations(page) == []

    today = dt.date.today()
    page.fill("#username", "no spaces allowed")  # the account service's rule, beside its field
    page.fill("#display_name", "Nia Okafor")
    page.fill("#role", "School nurse")
    page.fill("#organisation", "Wakefield School Nursing")
    page.fill("#contact", "0300 000 0199")
    page.fill("#manager_authorised_by", "Ann Manager")
    page.check("#organisation_accredited")
    _fill_date(page, "dbs_checked_on", today + dt.timedelta(days=3))  # in the future: refused
    _fill_date(page, "training_completed_on", today - dt.timedelta(days=7))
    page.fill("#agreement_signed_on_day", "31")
    page.fill("#agreement_signed_on_month", "2")  # 31 February
    page.fill("#agreement_signed_on_year", str(today.year))
    page.click("button:has-text('Add the practitioner')")
    expect(page.locator("#agreement_signed_on-error")).to_contain_text("must be a real date")
    _fill_date(page, "agreement_signed_on", today - dt.timedelta(days=7))
    page.click("button:has-text('Add the practitioner')")
    expect(summary.locator("a[href='#username']")).to_contain_text("must be 3-64 characters")
    page.fill("#username", "nia.okafor@wakefield")
    page.click("button:has-text('Add the practitioner')")
    expect(summary.locator("a[href='#dbs_checked_on_day']")).to_have_text(
        "Date of the enhanced criminal records (DBS) check must be today or in the past"
    )
    assert not any(e["username"] == "nia.okafor@wakefield" for e in _audit(portals, "account_event"))

    _fill_date(page, "dbs_checked_on", today - dt.timedelta(days=30))
    with page.expect_response(lambda r: r.request.method == "POST") as added:
        page.click("button:has-text('Add the practitioner')")
    assert added.value.headers["cache-control"] == "no-store"
    expect(page.locator(".govuk-panel")).to_contain_text("Account added")
    password = page.inner_text("#handover-password").strip()
    secret = page.inner_text("#handover-totp").strip()
    qr = page.locator("figure svg.portal-qr")
    expect(qr).to_be_visible()
    assert "authenticator app" in (qr.locator("title").text_content() or "")
    expect(page.locator("#ineligible")).to_contain_text("can search as soon as they sign in")
    screenshot(page, "20-one-time-hand-over")
    assert serious_violations(page) == []
    by = f"{officer} through the portal"
    added_entry = _audit(portals, "account_event")[-1]
    assert (added_entry["username"], added_entry["action"], added_entry["by"]) == (
        "nia.okafor@wakefield", "add", by
    )  # fmt: skip
    page.goto(url + "records-team/practitioners/add")  # the secrets are never shown again
    assert password not in page.content() and secret not in page.content()

    # the practitioner signs in with what was handed over, in their own browser
    theirs = context.browser.new_context().new_page()  # type: ignore[union-attr]  # their own cookies
    theirs.goto(url + "sign-in")
    theirs.fill("#username", "nia.okafor@wakefield")
    theirs.fill("#password", password)
    theirs.fill("#totp_code", totp_now(secret))
    theirs.click("button:has-text('Sign in')")
    expect(theirs.locator("h1")).to_have_text("Search for a child")

    page.goto(url + "records-team")
    page.click("button[aria-label='End nia.okafor@wakefield']")
    expect(page.locator("h1")).to_have_text("End nia.okafor@wakefield")
    expect(page.locator(".govuk-warning-text")).to_contain_text("cannot be undone")
    assert serious_violations(page) == []
    page.fill("#reason", "left the council")
    page.click("button:has-text('End account')")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "nia.okafor@wakefield has been ended"
    )
    expect(page.locator("tr", has_text="nia.okafor@wakefield")).to_contain_text("Ended: left the council")
    search(theirs, "Zoe", "O'Neill", "2015-03-07")  # their open session ended with the account
    expect(theirs.locator("h1")).to_have_text("You have been signed out")
    assert _audit(portals, "account_event")[-1]["action"] == "end"
    assert portals.council(WAKEFIELD).runtime.accounts.get("nia.okafor@wakefield").status.value == "ended"
    theirs.context.close()


def test_shield_and_unshield_a_record(portals: Portals, page: Page) -> None:
    fed, wakefield = portals.federation, portals.council(WAKEFIELD)
    _hold(portals, child("W-50", "Ivy", "Marsh", "2016-02-02", "WF2 2BB"))
    searcher = new_practitioner(portals, BRADFORD)
    ivy = pb.SearchIdentity(
        forename="Ivy", surname="Marsh", date_of_birth="2016-02-02", **closed_sets.SEX.fields("F")
    )

    def wakefield_shows_address() -> bool:
        wakefield.runtime.upkeep()  # the node tokenises a changed record for searches in its upkeep
        response = fed.client(portals.council(BRADFORD), searcher).search(ivy, "safeguarding")
        found = [c for r in response.results if r.council_code == WAKEFIELD for c in r.candidates]
        assert found, "Wakefield holds Ivy"
        return bool(found[0].disclosure.address.postcode)

    assert wakefield_shows_address()
    sign_in(page, portals.wakefield, portals, WAKEFIELD, records_officer())
    page.goto(portals.wakefield.url + "records-team")
    page.click("button:has-text('Find the record')")  # no ID given
    summary = page.locator(".govuk-error-summary")
    expect(summary.locator("a[href='#record_id']")).to_have_text("Enter the child's record ID")
    page.fill("#record_id", "W-404")
    page.click("button:has-text('Find the record')")
    expect(page.locator("#record_id-error")).to_contain_text("This council holds no record with that ID")
    assert serious_violations(page) == []
    page.fill("#record_id", "W-50")
    page.click("button:has-text('Find the record')")
    expect(page.locator("h1")).to_have_text("Record W-50")
    assert "W-50" not in page.url  # a child's record ID never goes in an address
    expect(page.locator(".govuk-summary-list")).to_contain_text("Ivy Marsh")
    assert serious_violations(page) == []

    page.click("button:has-text('Shield the record')")  # no reason
    expect(page.locator(".govuk-error-summary a[href='#reason']")).to_have_text(
        "Say why this record is being shielded"
    )
    assert serious_violations(page) == []
    _hold(portals, child("W-50", "Ivy", "Marsh", "2016-02-02", "WF2 3CC"))  # changed meanwhile
    page.fill("#reason", "risk from a former partner")
    page.click("button:has-text('Shield the record')")
    expect(page.locator(".govuk-error-summary")).to_contain_text("changed while you were looking at it")
    page.fill("#reason", "risk from a former partner")
    page.click("button:has-text('Shield the record')")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Record W-50 is shielded")
    expect(page.locator(".govuk-summary-list")).to_contain_text("by Rae Records: risk from a former partner")
    screenshot(page, "21-record-shielded")
    assert not wakefield_shows_address()
    shielded = [e for e in _audit(portals, "record_changed") if e["record_id"] == "W-50"]
    assert shielded[-1]["change"] == "shield" and shielded[-1]["system"].startswith("portal:records")

    page.click("button:has-text('End the shielding')")
    expect(page.locator("#reason-error")).to_contain_text("Say why this record no longer needs shielding")
    page.fill("#reason", "the risk has passed")
    page.click("button:has-text('End the shielding')")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("no longer shielded")
    assert wakefield_shows_address()
    changes = [e["change"] for e in _audit(portals, "record_changed") if e["record_id"] == "W-50"]
    assert changes[-1] == "unshield: the risk has passed"


def test_subject_access_report_printable_and_as_json(portals: Portals, page: Page, tmp_path: Path) -> None:
    fed = portals.federation
    _hold(portals, child("W-51", "Rosa", "Quill", "2014-04-04", "WF3 3DD"))
    searcher = new_practitioner(portals, BRADFORD, name="Dev Sharma")
    rosa = pb.SearchIdentity(
        forename="Rosa", surname="Quill", date_of_birth="2014-04-04", **closed_sets.SEX.fields("F")
    )
    fed.client(portals.council(BRADFORD), searcher).search(rosa, "child_in_need")

    sign_in(page, portals.wakefield, portals, WAKEFIELD, records_officer())
    page.goto(portals.wakefield.url + "records-team")
    page.fill("#record_id", "W-999")
    page.click("button:has-text('Subject access report')")
    expect(page.locator("#record_id-error")).to_contain_text("no audit entry names it")
    page.fill("#record_id", "W-51")
    page.click("button:has-text('Subject access report')")
    expect(page.locator("h1")).to_have_text("Subject access report")
    lookups = page.locator("#lookups")
    expect(lookups).to_contain_text(f"Dev Sharma (Social worker), {searcher} at Bradford")
    expect(lookups).to_contain_text("to assess or support a child in need")
    expect(lookups).to_contain_text("address")
    screenshot(page, "22-subject-access-report")
    assert serious_violations(page) == []
    page.emulate_media(media="print")  # printable: without the header, navigation and buttons
    expect(page.locator(".govuk-service-navigation")).to_be_hidden()
    expect(page.locator("button:has-text('Download as JSON')")).to_be_hidden()
    page.emulate_media(media="screen")

    with page.expect_download() as download:
        page.click("button:has-text('Download as JSON')")
    saved = tmp_path / "sar.json"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "subject-access-W-51.json"
    report = json.loads(saved.read_text(encoding="utf-8"))
    assert report["record_id"] == "W-51"
    assert [(x["practitioner"], x["purpose"]) for x in report["lookups"]] == [
        (f"Dev Sharma (Social worker), {searcher}", "child_in_need")
    ]


def _import(portals: Portals, rows: list[dict[str, Any] | str], folder: Path, *options: str) -> int:
    """`whoelse node import` against Wakefield's database, as its operator runs it."""
    path = folder / "export.jsonl"
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    database = portals.council(WAKEFIELD).runtime.config.database
    return whoelse(["node", "import", str(path), "--db", database, "--quiet", *options])


def test_import_status_and_the_last_imports_problems(portals: Portals, page: Page, tmp_path: Path) -> None:
    good = child("W-60", "Ada", "Pike", "2013-06-06", "WF4 4EE")
    bad = child("W-61", "Bo", "Pike", "2013-02-30", "WF4 4EE")  # 30 February
    notes = {**child("W-62", "Cy", "Pike", "2013-06-06", "WF4 4EE"), "case_notes": "not allowed here"}
    assert _import(portals, [good, bad, notes], tmp_path, "--on-error", "quarantine") == 3

    sign_in(page, portals.wakefield, portals, WAKEFIELD, records_officer())
    page.goto(portals.wakefield.url + "records-team")
    page.click("text=Imports and retention")
    expect(page.locator("h1")).to_have_text("Imports and retention")
    last = page.locator(".portal-last-import")
    expect(last).to_contain_text("export.jsonl")
    expect(last).to_contain_text("Imported, 2 rows left out")
    problems = page.locator("#problems")
    expect(problems.locator("tr", has_text="W-61")).to_contain_text("date_of_birth")
    expect(problems.locator("tr", has_text="W-62")).to_contain_text("case_notes")
    expect(page.locator(".portal-retention")).to_contain_text("Due to be archived")
    screenshot(page, "23-imports")
    assert serious_violations(page) == []

    assert _import(portals, [good], tmp_path) == 0
    page.reload()
    expect(last).to_contain_text("Imported")
    expect(last).not_to_contain_text("left out")
    expect(page.locator(".portal-imports tbody tr")).to_have_count(2)


def test_the_records_team_pages_refuse_everyone_else(portals: Portals, page: Page) -> None:
    url = portals.wakefield.url
    sign_in(page, portals.wakefield, portals, WAKEFIELD, new_practitioner(portals, WAKEFIELD))
    expect(page.locator("h1")).to_have_text("Search for a child")
    for path in ("records-team/practitioners/add", "records-team/imports", "records-team/record"):
        response = page.goto(url + path)
        assert response is not None and response.status == 403, path
        expect(page.locator("main")).to_contain_text("This page is for the council's records team")
    page.goto(url + "search")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    forged = {  # valid forms from a practitioner who is not in the records team
        "records-team/practitioners/add": {"username": "mole@wakefield", "display_name": "M", "role": "R",
            "organisation": "O", "contact": "C", "manager_authorised_by": "A",
            "organisation_accredited": "yes"},
        "records-team/record": {"record_id": "W-3", "action": "find"},
        "records-team/record/shielding": {"record_id": "W-3", "version": "1", "action": "unshield",
            "reason": "x"},
        "records-team/subject-access": {"record_id": "W-3", "format": "json"},
    }  # fmt: skip
    for path, form in forged.items():
        answer = page.request.post(url + path, form={**form, "csrf_token": token})
        assert answer.status == 403, path
        assert "W-3" not in answer.text() and "Mia" not in answer.text()
    runtime = portals.council(WAKEFIELD).runtime
    assert "mole@wakefield" not in [p.username for p in runtime.accounts.list()]
    with runtime.db.session() as session:
        from whoelse.node.storage.record_store import records_by_record_id

        assert records_by_record_id(session, ["W-3"])["W-3"].shielded


def test_the_records_team_tasks_work_without_javascript(portals: Portals, browser: Browser) -> None:
    _hold(portals, child("W-70", "Una", "Vale", "2017-07-07", "WF5 5FF"))
    no_js = browser.new_context(java_script_enabled=False)
    try:
        page = no_js.new_page()
        sign_in(page, portals.wakefield, portals, WAKEFIELD, records_officer())
        page.click(".govuk-service-navigation >> text=Records team")
        page.click("text=Add a practitioner")
        page.click("button:has-text('Add the practitioner')")
        expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a username")
        answers = {
            "username": "una.worker@wakefield",
            "display_name": "Una Worker",
            "role": "Youth worker",
            "organisation": "Wakefield Youth Service",
            "contact": "0300 000 0177",
            "manager_authorised_by": "Ann Manager",
        }
        for field, value in answers.items():
            page.fill(f"#{field}", value)
        page.check("#organisation_accredited-2")  # not accredited: the account may not search yet
        page.click("button:has-text('Add the practitioner')")
        expect(page.locator(".govuk-panel")).to_contain_text("Account added")
        expect(page.locator("figure svg.portal-qr")).to_be_visible()
        expect(page.locator("#ineligible")).to_contain_text("accredited")

        page.click("text=Back to the records team page")
        page.fill("#record_id", "W-70")
        page.click("button:has-text('Find the record')")
        page.fill("#reason", "court order")
        page.click("button:has-text('Shield the record')")
        expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Record W-70 is shielded")
        page.click("button:has-text('Subject access report')")
        expect(page.locator("#lookups")).to_contain_text("Nobody has been shown this record")
        page.click("text=Back to the records team page")
        page.click("text=Imports and retention")
        expect(page.locator(".portal-retention")).to_contain_text("Purge schedule")
    finally:
        no_js.close()
