"""The judgement half of the report, kept apart from the measurements and tied to them.

LINDDUN rows name the file that mitigates each threat (checked to exist when the report is written) and
quote the run's own figure where there is one; ratings are derived from measured shares by the rules stated
here, so a different run can change them. Likelihood is a judgement and is labelled as one.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

LINDDUN = (
    "Linking",
    "Identifying",
    "Non-repudiation",
    "Detecting",
    "Data disclosure",
    "Unawareness",
    "Non-compliance",
)
ROOT = Path(__file__).resolve().parents[2]


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _party(flows: dict[str, Any], role: str) -> dict[str, Any]:
    return next(p for p in flows["parties"] if p["role"] == role)


def linddun(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """(mode, flow, category, mitigation, file, residual risk) for every flow of both modes, from
    linddun.csv with this run's figures filled in."""
    f, b = results["flows"], results["breach"]
    none: dict[str, Any] = {}
    non = next((p for p in f["parties"] if p["role"] == "non-holding council"), none)
    holder = next((p for p in f["parties"] if p["role"] == "holding council"), none)
    central = _party(f, "central index")
    evidence = {
        "directory_links": _yes(_party(f, "directory")["can_link_repeat_searches"]),
        "directory_children": b["directory"],
        "holder_links": _yes(bool(holder.get("can_link_repeat_searches"))),
        "non_holder_links": _yes(bool(non.get("can_link_repeat_searches"))),
        "non_holder_saw": _yes(bool(non.get("saw_search"))),
        "near_holders": f["near_holder"]["opened_by_non_holders_per_search"],
        "central_links": _yes(central["can_link_repeat_searches"]),
        "central_saw": _yes(central["saw_identity"]),
        "central_children": b["central_index"],
        "children": b["children_in_population"],
        "central_unlogged": b["insider_direct_read"].get("central index", {}).get("log_entries_added", "?"),
    }
    with (Path(__file__).parent / "linddun.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [tuple(cell.format(**evidence) for cell in row) for row in rows]


def missing_files(rows: list[tuple[str, ...]]) -> list[str]:
    return sorted({r[4] for r in rows if not (ROOT / r[4]).exists()})


def _rate_share(share: float) -> str:
    """Red when one party can read most children (50%+), amber from 10%, else green."""
    return "red" if share >= 0.5 else ("amber" if share >= 0.1 else "green")


def database_state(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(criterion, central, federation, evidence) for the criticisms the 2009 report made of ContactPoint,
    as the seed (seeds/002) summarises them; paraphrased, not quoted."""
    b = results["breach"]
    n = b["children_in_population"]
    worst_council = max(b["one_council"].values())
    reach = results["reach"]
    f = results["flows"]
    non = next((p for p in f["parties"] if p["role"] == "non-holding council"), {"saw_identity": False})
    ins = b["insider_direct_read"]
    central_unlogged = ins.get("central index", {}).get("log_entries_added", 0) == 0
    return [
        (
            "Proportionality: a register of every child, not of those in need",
            _rate_share(b["central_index"] / n),
            _rate_share(max(worst_council, b["directory"]) / n),
            f"one party identifies {b['central_index']}/{n} children centrally; at most {worst_council}/{n} "
            f"at one council, {b['directory']} at the directory",
        ),
        (
            "Security designed in, not added after",
            "red" if central_unlogged else "amber",
            "green" if b["directory"] == 0 and not non["saw_identity"] else "amber",
            "a direct read of the central database adds "
            f"{ins.get('central index', {}).get('log_entries_added', '?')} log entries; non-holder saw the "
            f"identity: {_yes(non['saw_identity'])}",
        ),
        (
            "Sensitive data with no effective opt-out",
            "red",
            "amber",
            "both hold sensitive services only with consent or a recorded override and disclose only their "
            "existence (node/disclosure.py); neither offers an opt-out of being held, but the federation "
            "holds records only where a service already does",
        ),
        (
            "Access by very many users (human rights: necessary in a democratic society)",
            "amber",
            "amber",
            "accounts able to search any child: central "
            f"{reach['central']['accounts_able_to_search_any_child']}, federation "
            f"{reach['federation']['accounts_able_to_search_any_child']} (the same practitioners); one "
            f"database operator reads {reach['central']['children_one_operator_can_read']} vs "
            f"{reach['federation']['children_one_operator_can_read']} children",
        ),
        (
            "Accountability: every access recorded and reviewable by the subject",
            "amber",
            "green",
            "both log every search with purpose and disclosures; only the federation logs at both ends with "
            "signed, published heads, and a direct database read is unlogged in both",
        ),
    ]


def _severity(share: float) -> str:
    return "severe" if share >= 0.5 else ("significant" if share >= 0.05 else "minimal")


def dpia_risks(results: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(risk, mode, likelihood (judged), severity (from the measured share), overall, measure)."""
    b = results["breach"]
    n = b["children_in_population"]
    worst = max(b["one_council"].values())
    avail = results["availability"]["steps"]
    central_down = next(s for s in avail if s["down"] == "central index")
    dir_down = next(s for s in avail if s["down"] == "directory")
    rows = [
        (
            "Breach of one operator's database",
            "central",
            "possible",
            _severity(b["central_index"] / n),
            "node/central.py holds all",
        ),
        (
            "Breach of one operator's database",
            "federation",
            "possible",
            _severity(worst / n),
            "records stay with their council (P1)",
        ),
        (
            "Breach of the directory",
            "federation",
            "possible",
            _severity(b["directory"] / n),
            "blind directory (P2)",
        ),
        (
            "Insider browses children without a search",
            "central",
            "probable",
            _severity(b["central_index"] / n),
            "none in software: database access unlogged",
        ),
        (
            "Insider browses children without a search",
            "federation",
            "possible",
            _severity(worst / n),
            "only own council's children",
        ),
        (
            "Service down: children cannot be found",
            "central",
            "possible",
            "severe" if central_down["children_findable"] == 0 else "significant",
            "one server: no fallback",
        ),
        (
            "Service down: children cannot be found",
            "federation",
            "possible",
            "severe" if dir_down["children_findable"] == 0 else "significant",
            "councils fail alone; the directory is a single point of failure",
        ),
    ]
    score = {"remote": 1, "possible": 2, "probable": 3, "minimal": 1, "significant": 2, "severe": 3}
    out = []
    for risk, mode, likelihood, severity, measure in rows:
        product = score[likelihood] * score[severity]
        overall = "high" if product >= 6 else ("medium" if product >= 3 else "low")
        out.append((risk, mode, likelihood, severity, overall, measure))
    return out
