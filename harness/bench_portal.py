"""`whoelse bench portal --json`: the web portal's own cost, measured from outside like a browser.

Runs a real federation of N councils (separate processes, each with its portal), signs in at the first
council's portal over HTTP and measures, in the same run:

- server time per page, without the time spent waiting for the node (the portal's `Server-Timing`, `app`
  − `node`): the sign-in page, the search form, and the results page (so without the federated search);
- a search end to end through the portal (POST /search, response read) against the same search through
  `whoelse search`'s client (PractitionerClient.search, without the command's process start-up), the two
  alternating so both see the same machine. `ratio_p50` = portal p50 / client p50 (target ≤ 1.2).

The portal allows a practitioner 20 searches a minute, so the portal's searches are spread over several of
the council's demo practitioners.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pyotp

from whoelse.federation import closed_sets
from whoelse.federation.errors import InvalidInput, Unavailable
from whoelse.harness.bench import percentile
from whoelse.harness.bench_search import _client, _sample_identity
from whoelse.harness.local_federation import build, choose_councils, start, stop, wait_ready
from whoelse.v1 import records_pb2 as pb

SEARCHES_PER_PRACTITIONER = 18  # under the portal's 20 a minute
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_TIMING = re.compile(r"(\w+);dur=([\d.]+)")


class _Browser:
    """Just enough of a browser for the portal: one keep-alive connection, its session cookie, CSRF tokens.
    (The cookie is Secure; like a browser on loopback, this sends it over plain HTTP to 127.0.0.1.)"""

    def __init__(self, port: int) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self._cookie = ""

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, dict[str, float]]:
        headers = {"Cookie": self._cookie} if self._cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self._conn.request(method, path, body=body, headers=headers)
        response = self._conn.getresponse()
        text = response.read().decode("utf-8")
        for value in response.headers.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            self._cookie = "" if pair.endswith("=") else pair
        timing = {name: float(ms) for name, ms in _TIMING.findall(response.headers.get("Server-Timing", ""))}
        return response.status, text, timing

    def token(self, path: str) -> str:
        _, text, _ = self.request("GET", path)
        found = _CSRF.search(text)
        if found is None:
            raise Unavailable(f"portal: no form on {path}")
        return found.group(1)

    def close(self) -> None:
        self._conn.close()


def _search_form(identity: pb.SearchIdentity, token: str) -> dict[str, str]:
    year, month, day = identity.date_of_birth.split("-")
    return {
        "csrf_token": token,
        "forename": identity.forename,
        "surname": identity.surname,
        "dob_day": day,
        "dob_month": month,
        "dob_year": year,
        "sex": closed_sets.SEX.read(identity) or "U",
        "postcode": identity.postcode,
        "nhs_number": "",
        "purpose": "safeguarding",
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values), 2), "p95_ms": round(percentile(values, 0.95), 2)}


def bench_portal(councils: int, searches: int, pages: int, children: int) -> dict[str, Any]:
    chosen = choose_councils(councils)
    with tempfile.TemporaryDirectory(prefix="whoelse-bench-portal-") as tmp:
        layout = build(
            Path(tmp), chosen, children=children, seed=11, portals=True, upkeep_interval_ms=600_000
        )
        home = layout.councils[0]
        staff = home.practitioners
        needed = -(-searches // SEARCHES_PER_PRACTITIONER) + 1  # and one for the client
        if len(staff) < needed:
            raise InvalidInput(
                f"--searches {searches}: {home.name} has {len(staff)} practitioners; ask fewer"
            )
        pids = start(layout)
        try:
            wait_ready(layout, pids, timeout=600)
            identity = _sample_identity(layout)
            client = _client(layout, len(layout.councils) * (needed - 1))  # the last practitioner needed
            sign_in_page: list[float] = []
            form_page: list[float] = []
            results_page: list[float] = []
            portal_end_to_end: list[float] = []
            client_end_to_end: list[float] = []
            for n in range(needed - 1):
                who = staff[n]
                browser = _Browser(home.portal_port)
                for _ in range(pages):
                    _, _, timing = browser.request("GET", "/sign-in")
                    sign_in_page.append(timing["app"] - timing["node"])
                token = browser.token("/sign-in")
                code = pyotp.TOTP(who["totp_secret"]).now()
                status, _, _ = browser.request(
                    "POST",
                    "/sign-in",
                    {"csrf_token": token, "username": who["username"], "password": who["password"],
                     "totp_code": code},
                )  # fmt: skip
                if status != 302:
                    raise Unavailable(f"portal: sign-in as {who['username']} answered {status}")
                for _ in range(pages):
                    _, _, timing = browser.request("GET", "/search")
                    form_page.append(timing["app"] - timing["node"])
                token = browser.token("/search")
                count = min(SEARCHES_PER_PRACTITIONER, searches - n * SEARCHES_PER_PRACTITIONER)
                for i in range(count + (2 if n == 0 else 0)):  # two warm-up searches first
                    t0 = time.perf_counter()
                    status, text, timing = browser.request("POST", "/search", _search_form(identity, token))
                    portal_ms = (time.perf_counter() - t0) * 1000
                    if status != 200 or "Search results" not in text:
                        raise Unavailable(f"portal: search answered {status}")
                    t0 = time.perf_counter()
                    client.search(identity, "safeguarding")
                    client_ms = (time.perf_counter() - t0) * 1000
                    if n == 0 and i < 2:
                        continue
                    results_page.append(timing["app"] - timing["node"])
                    portal_end_to_end.append(portal_ms)
                    client_end_to_end.append(client_ms)
                browser.close()
            client.close()
        finally:
            stop(pids)
    portal_p50 = statistics.median(portal_end_to_end)
    client_p50 = statistics.median(client_end_to_end)
    return {
        "benchmark": "portal",
        "councils": councils,
        "children_per_council": children,
        "searches": len(portal_end_to_end),
        "server_ms": {
            "sign_in_page": _summary(sign_in_page),
            "search_form": _summary(form_page),
            "results_page_without_federation": _summary(results_page),
        },
        "search_end_to_end": {
            "portal": _summary(portal_end_to_end),
            "whoelse_search_client": _summary(client_end_to_end),
            "ratio_p50": round(portal_p50 / client_p50, 2),
        },
    }


def cmd_bench_portal(args: argparse.Namespace) -> int:
    if args.councils < 2 or args.searches < 1 or args.pages < 1:
        raise InvalidInput("--councils must be at least 2, --searches and --pages at least 1")
    result = bench_portal(args.councils, args.searches, args.pages, args.children)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))  # nested: indented to read
    return 0


def register(benchmarks: Any) -> None:
    p = benchmarks.add_parser("portal", help="the web portal's server time per page and its search overhead")
    p.add_argument("--councils", type=int, default=5)
    p.add_argument(
        "--searches", type=int, default=36, help="searches timed through each of portal and client"
    )
    p.add_argument(
        "--pages", type=int, default=30, help="sign-in and search-form pages timed per practitioner"
    )
    p.add_argument("--children", type=int, default=100, help="children per council")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench_portal)
