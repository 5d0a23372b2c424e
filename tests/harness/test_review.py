"""`whoelse review --tiny`: both architectures run, and the report's tables say what the stores hold.

The review runs once (the real command, as a reviewer would run it); each test reads one table of the
report it wrote, and the HTML is checked with axe-core in headless Chromium (a screenshot is saved).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("WHOELSE_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[1] / "assets" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "review"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("review") / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "whoelse.federation.cli", "review", "--out", str(out), "--tiny"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def table(report: Path, caption_start: str) -> list[dict[str, str]]:
    """The rows of the report.md table whose caption starts with `caption_start`, as header -> cell."""
    lines = (report / "report.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"*{caption_start}"))
    headers = [h.strip() for h in lines[start + 2].strip("|").split(" | ")]
    rows = []
    for line in lines[start + 4 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(headers, (c.strip() for c in line.strip("|").split(" | ")), strict=True)))
    return rows


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


def results(report: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((report / "results.json").read_text(encoding="utf-8"))
    return data


def test_the_directory_stores_no_childs_identifiers(report: Path) -> None:
    stores = {r["party"]: r for r in table(report, "Contents of each party's store")}
    directory = stores["directory"]
    assert [number(directory[k]) for k in ("children's records", "children identifiable", "NHS numbers")] == [
        0,
        0,
        0,
    ]
    assert number(directory["query log entries"]) > 0  # it does see that searches happened
    councils = [r for name, r in stores.items() if name not in ("directory", "central index")]
    assert all(number(c["children identifiable"]) > 0 for c in councils)


def test_a_breach_of_the_central_index_exposes_every_child(report: Path) -> None:
    rows = {r["store"]: r for r in table(report, "Children identifiable from one party's store")}
    children = results(report)["breach"]["children_in_population"]
    assert number(rows["central index"]["children identifiable"]) == children
    assert rows["central index"][f"share of {children}"] == "100%"
    assert number(rows["directory"]["children identifiable"]) == 0
    one_council = [r for name, r in rows.items() if name.startswith("council ")]
    assert one_council and all(number(r["children identifiable"]) < children for r in one_council)


def test_a_non_holding_councils_breach_exposes_none_of_the_searched_childs_details(report: Path) -> None:
    rows = [
        r for r in table(report, "Children identifiable from one party's store") if "non-holder" in r["store"]
    ]
    assert rows and all(number(r["children identifiable"]) == 0 for r in rows)
    flow = {r["party"]: r for r in table(report, "Information flow")}
    non_holders = [r for party, r in flow.items() if "non-holding" in party or "origin" in party]
    assert non_holders and all(r["saw the child's identity"] == "no" for r in non_holders)
    assert flow["directory"]["saw the child's identity"] == "no"
    assert flow["central index"]["saw the child's identity"] == "yes"
    assert flow["central index"]["can link two searches for the same child"] == "yes"


def test_availability_is_zero_without_the_central_node_and_degrades_with_councils_down(report: Path) -> None:
    rows = table(report, "Availability, measured by stopping processes")
    central = {r["stopped"]: r for r in rows if r["mode"] == "central"}
    assert (central["nothing"]["children findable"], central["central index"]["children findable"]) == (
        "100%",
        "0%",
    )
    assert central["central index"]["answered in full"] == "0%"
    steps = [
        s
        for s in results(report)["availability"]["steps"]
        if s["mode"] == "federation" and s["share_down"] is not None
    ]
    assert (
        steps[0]["share_down"] == 0
        and steps[0]["answered_in_full"] == 1
        and steps[0]["children_findable"] == 1
    )
    # With councils down, no search is complete, but every child held at a council still up is found.
    for step in steps[1:]:
        assert step["answered_in_full"] == 0
        assert step["children_findable"] == pytest.approx(step["held_at_councils_up"])
    assert [s["children_findable"] for s in steps] == sorted(
        (s["children_findable"] for s in steps), reverse=True
    )
    assert steps[-1]["children_findable"] < 1


def test_every_figure_names_the_command_that_measures_it(report: Path) -> None:
    md = (report / "report.md").read_text(encoding="utf-8")
    figures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)\n\n\*[^*]+\*\n\n`(whoelse bench review-[a-z]+ [^`]+)`", md)
    assert {f for f, _ in figures} == {"breach.png", "latency-cdf.png", "availability.png", "cost.png"}
    assert all((report / f).stat().st_size > 10_000 for f, _ in figures)
    assert "seed 11" in md and "commit " in md


def test_the_html_is_self_contained_and_passes_axe(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    page_html = (report / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page_html and "http://" not in page_html and "https://" not in page_html
    assert page_html.count("data:image/png;base64,") == 4
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto((report / "report.html").as_uri())
            page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=False)
            page.evaluate(AXE.read_text(encoding="utf-8"))
            found: list[dict[str, Any]] = page.evaluate(
                "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})"
                ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help})))"
            )
        finally:
            browser.close()
    assert [v for v in found if v["impact"] in ("serious", "critical")] == []
    assert (SCREENSHOTS / "report.png").stat().st_size > 10_000


def test_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "whoelse.federation.cli", "review", "--out", str(tmp_path), "--scale", "5"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "whoelse: error: --scale must be above 0 and at most 1 (a share of an average council's children)"
    ]


def test_growth_points_are_tabled_and_plotted_and_check_the_cost_model(report: Path, tmp_path: Path) -> None:
    """The growth sections render every measured point, from a run's results.json (`--from-results`):
    here the tiny run's one speed measurement stands in at two council counts and two sizes."""
    data = results(report)
    point = {k: v for k, v in data["speed"].items() if k != "samples_ms"} | {"setup_and_run_s": 1.0}
    data["growth"] = [point, point | {"councils": 7}]
    data["growth_by_size"] = [point, point | {"children_per_council": 10 * point["children_per_council"]}]
    data["options"]["growth"], data["options"]["sizes"] = [3, 7], [0.0003, 0.003]
    data["cost"]["checks"] = [
        {
            "councils": 7,
            "children_per_council": point["children_per_council"],
            "federation_cpu_ms_measured": 50.0,
            "federation_cpu_ms_predicted": 55.0,
            "federation_error": 0.1,
            "central_cpu_ms_measured": 5.0,
            "central_cpu_ms_predicted": 5.0,
            "central_error": 0.0,
        }
    ]
    source = tmp_path / "results.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "again"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "whoelse.federation.cli",
            "review",
            "--out",
            str(out),
            "--from-results",
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    by_councils = table(out, "Growth with councils.")
    assert [r["councils"] for r in by_councils] == ["3", "7"]
    by_size = table(out, "Growth with children a council.")
    assert [number(r["children a council"]) for r in by_size] == [
        point["children_per_council"],
        10 * point["children_per_council"],
    ]
    checks = table(out, "The model checked against points it was not fitted on")
    assert [(r["councils"], r["federation error"], r["central error"]) for r in checks] == [
        ("7", "10%", "0%")
    ]
    assert (out / "growth.png").stat().st_size > 10_000 and (out / "growth-sizes.png").stat().st_size > 10_000


def test_a_bad_sizes_option_is_a_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "whoelse.federation.cli",
            "review",
            "--out",
            str(tmp_path),
            "--sizes",
            "0.003,lots",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "whoelse: error: --sizes must be scales separated by commas, not '0.003,lots'"
    ]
