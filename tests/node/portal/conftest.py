"""The portal in a real browser (Debian's chromium through Playwright) against a real federation on loopback.

One federation and one browser serve every portal test (starting them is most of the cost); each test signs
in its own practitioner, because a TOTP code works only once. Screenshots go to test-output/portal/.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.integration.harness import PASSWORD, Council, Federation, totp_now
from tests.integration.test_federation import (
    BRADFORD,
    LEEDS,
    MIA_LEEDS,
    SHIELDED_WAKEFIELD,
    WAKEFIELD,
    ZOE_BRADFORD,
    ZOE_LEEDS,
    ZOE_SISTER,
)
from whoelse.node.accounts.lockout import LockoutPolicy
from whoelse.node.portal.app import PortalConfig
from whoelse.node.portal.server import PortalServer, start_portal
from whoelse.node.portal.sessions import Lifetime

CHROMIUM = os.environ.get("WHOELSE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-output" / "portal"
expect.set_options(timeout=15_000)  # as for actions: the machine may be shared with other heavy work
RECORDS_TEAM = "records@wakefield"
RECORDS_TEAM_2 = "records2@wakefield"
MORE_OFFICERS = tuple(f"records{n}@wakefield" for n in range(3, 11))
"""Wakefield's records officers: the accounts its portal lets use the records team's pages (several, so
each test signs in with its own within one TOTP step; `records_officer()` hands out the rest)."""
FAST_LOCKOUT = LockoutPolicy(free_failures=2, max_delay=dt.timedelta(0), lock_after=3)
"""Wakefield locks a username after 3 failures with no slow-down in between, so the test need not wait."""


@dataclass
class Portals:
    federation: Federation
    wakefield: PortalServer
    bradford: PortalServer
    leeds: PortalServer
    short_session: PortalServer  # Wakefield again, with a session that ends 121 s after the last request

    def council(self, code: str) -> Council:
        return self.federation.councils[code]


@pytest.fixture(scope="package")
def portals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portals]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    fed = Federation(tmp_path_factory.mktemp("portal-federation"))
    started: list[PortalServer] = []
    try:
        fed.add_council(LEEDS, "Leeds", [ZOE_LEEDS, ZOE_SISTER, MIA_LEEDS])
        fed.add_council(BRADFORD, "Bradford", [ZOE_BRADFORD])
        fed.add_council(WAKEFIELD, "Wakefield", [SHIELDED_WAKEFIELD], lockout=FAST_LOCKOUT)
        fed.run_upkeep()
        officers = (RECORDS_TEAM, RECORDS_TEAM_2, *MORE_OFFICERS)
        for officer in officers:
            fed.add_practitioner(
                fed.councils[WAKEFIELD], officer, "Rae Records", "Records officer", records_team=True
            )
        for code in (WAKEFIELD, BRADFORD, LEEDS):
            council = fed.councils[code]
            started.append(start_portal(council.runtime, council.servers))
        wakefield = fed.councils[WAKEFIELD]
        settings = wakefield.runtime.settings.council
        short = PortalConfig(
            settings.name,
            settings.code,
            lifetime=Lifetime(idle=dt.timedelta(seconds=121), warn_before=dt.timedelta(seconds=120)),
        )
        started.append(start_portal(wakefield.runtime, wakefield.servers, config=short))
        yield Portals(fed, *started)
    finally:
        for portal in started:
            portal.stop()
        fed.stop()


@pytest.fixture(scope="package")
def browser(portals: Portals) -> Iterator[Browser]:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    # Playwright's own HTTP client (page.request) runs in its Node.js driver: it trusts the federation's CA.
    os.environ["NODE_EXTRA_CA_CERTS"] = str(portals.federation.ca_dir / "ca.crt")
    with sync_playwright() as playwright:
        yield _launch(playwright, portals)


def spki_pin(cert_file: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a certificate: what Chromium's SPKI allow-list takes."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _launch(playwright: Playwright, portals: Portals) -> Browser:
    # The portals serve HTTPS with their nodes' certificates, issued by the test federation's own CA. Chromium
    # trusts exactly those keys (pinned), and no other certificate that is not publicly trusted.
    pins = ",".join(spki_pin(c.runtime.config.tls.cert) for c in portals.federation.councils.values())
    args = ["--no-sandbox", f"--ignore-certificate-errors-spki-list={pins}"]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=args)


@pytest.fixture()
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context()
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture()
def page(context: BrowserContext) -> Page:
    return context.new_page()


_numbers = itertools.count(1)
_officers = iter(MORE_OFFICERS)


def records_officer() -> str:
    """A records officer no other test signs in as (a TOTP code works only once)."""
    return next(_officers)


def new_practitioner(portals: Portals, code: str, name: str = "", role: str = "Social worker") -> str:
    """A fresh eligible account at `code` (its own TOTP secret, so sign-ins never reuse a code)."""
    username = f"p{next(_numbers)}@{code.lower()}"
    portals.federation.add_practitioner(portals.council(code), username, name or f"Worker {username}", role)
    return username


def sign_in(page: Page, portal: PortalServer, portals: Portals, code: str, username: str) -> None:
    page.goto(portal.url + "sign-in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.fill("#totp_code", totp_now(portals.council(code).practitioners[username]))
    page.click("button:has-text('Sign in')")


def fail_sign_in(page: Page, portal: PortalServer, username: str, times: int) -> None:
    """Wrong password and code, `times` times: Wakefield (FAST_LOCKOUT) locks a username after 3."""
    for _ in range(times):
        page.goto(portal.url + "sign-in")
        page.fill("#username", username)
        page.fill("#password", "not the password")
        page.fill("#totp_code", "000000")
        page.click("button:has-text('Sign in')")
        expect(page.locator(".govuk-error-summary")).to_contain_text("Log-in failed")


def search(page: Page, forename: str, surname: str, dob: str, sex: str = "F") -> None:
    """Fill and send the search form (dob as YYYY-MM-DD); purpose: the first lawful purpose listed."""
    year, month, day = dob.split("-")
    page.fill("#forename", forename)
    page.fill("#surname", surname)
    page.fill("#dob-day", day)
    page.fill("#dob-month", month)
    page.fill("#dob-year", year)
    page.check(f"input[name=sex][value={sex}]")
    page.check("#purpose")
    page.click("button:has-text('Search every council')")


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
