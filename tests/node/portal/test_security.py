"""The portal's defences, seen from a browser: CSRF tokens, cookie flags, the CSP, no caching, quiet logs."""

from __future__ import annotations

import http.client
import logging
import socket
import ssl

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.integration.test_federation import WAKEFIELD
from tests.node.portal.conftest import Portals, new_practitioner, search, sign_in
from whoelse.node.portal.sessions import cookie_name


def test_a_form_sent_without_its_csrf_token_is_refused(portals: Portals, page: Page) -> None:
    page.goto(portals.wakefield.url + "sign-in")
    refused = page.request.post(
        portals.wakefield.url + "sign-in",
        form={"username": "anyone", "password": "x", "totp_code": "123456"},
        max_redirects=0,
    )
    assert refused.status == 400
    assert "Your form could not be sent" in refused.text()

    user = new_practitioner(portals, WAKEFIELD)
    sign_in(page, portals.wakefield, portals, WAKEFIELD, user)
    expect(page.locator("h1")).to_have_text("Search for a child")
    forged = page.request.post(
        portals.wakefield.url + "search",
        form={"forename": "Zoe", "surname": "O'Neill", "dob_day": "7", "dob_month": "3", "dob_year": "2015",
              "sex": "F", "purpose": "safeguarding"},
        max_redirects=0,
    )  # fmt: skip
    assert forged.status == 400
    assert "Search results" not in forged.text()


def test_cookies_csp_and_no_inline_script(portals: Portals, context: BrowserContext, page: Page) -> None:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    first = page.goto(portals.wakefield.url + "sign-in")
    assert first is not None
    csp = first.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert first.headers["x-content-type-options"] == "nosniff"
    user = new_practitioner(portals, WAKEFIELD)
    sign_in(page, portals.wakefield, portals, WAKEFIELD, user)
    [cookie] = [c for c in context.cookies() if c["name"] == cookie_name(WAKEFIELD)]
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
    for path in ("search", "alerts", "searches", "accessibility"):
        response = page.goto(portals.wakefield.url + path)
        assert response is not None and response.headers["content-security-policy"] == csp
        assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
        assert page.evaluate("[...document.querySelectorAll('*')].some(e => [...e.attributes]"
                             ".some(a => a.name.startsWith('on')))") is False  # fmt: skip
        # GOV.UK Frontend's JavaScript ran from its file: the error summary and buttons are initialised
        assert page.evaluate("document.body.classList.contains('govuk-frontend-supported')")
    assert violations == []


def test_results_are_not_cached_and_the_logs_hold_no_child_details(
    portals: Portals, page: Page, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    user = new_practitioner(portals, WAKEFIELD)
    sign_in(page, portals.wakefield, portals, WAKEFIELD, user)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/search")) as answer:
        search(page, "Zoe", "O'Neill", "2015-03-07")
    assert answer.value.headers["cache-control"] == "no-store"
    expect(page.locator("h1")).to_have_text("Search results")
    access = [r.getMessage() for r in caplog.records if r.name == "whoelse.portal.access"]
    assert "POST /search 200" in access and "POST /sign-in 302" in access
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for detail in ("Zoe", "Zoë", "O'Neill", "ONeil", "2015", "LS6", "BD1", "9434765919", "Sam Patel"):
        assert detail not in everything


def test_the_portal_serves_https_with_the_nodes_certificate(portals: Portals) -> None:
    """Checked as a browser checks it, against the federation's CA and the name localhost; and the same
    certificate the node's own gRPC ports present. Plain HTTP is not answered."""
    node = portals.council(WAKEFIELD).runtime.config
    trust = ssl.create_default_context(cafile=str(portals.federation.ca_dir / "ca.crt"))
    port = portals.wakefield.port
    assert portals.wakefield.url == f"https://localhost:{port}/"
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        trust.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        served = tls.getpeercert(binary_form=True)
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        tls.sendall(b"GET /sign-in HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert tls.recv(64).startswith(b"HTTP/1.1 200")
    assert served == ssl.PEM_cert_to_DER_cert(node.tls.cert.read_text(encoding="ascii"))
    plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        plain.request("GET", "/sign-in")
        answered = plain.getresponse().status
    except (OSError, http.client.HTTPException):
        answered = 0
    finally:
        plain.close()
    assert answered != 200  # no page over plain HTTP (cheroot answers 400, or drops the connection)
