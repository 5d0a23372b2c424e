"""The review written out twice from one list of blocks: report.md (PNG files beside it) and report.html
(self-contained: PNGs inline as base64, no JavaScript, no network), structured as the ICO's DPIA steps."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoelse.harness.review import assessment, plots


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    command: str = ""


@dataclass(frozen=True)
class Figure:
    file: str
    alt: str
    caption: str
    command: str


Block = Heading | Para | Table | Figure


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _near_holders(near: dict[str, Any], councils: int, seed: int) -> str:
    now, old = near, near["old_design"]

    def figure(d: dict[str, Any]) -> str:
        low, high = d["opened_by_non_holders_per_search_95"]
        counted = d["openings_counted"]
        return f"{d['opened_by_non_holders_per_search']} (95% interval {low}–{high}; {counted} openings)"

    return (
        "Near-holders (`whoelse bench match`'s measure, harness/bench_exposure.py): councils that do not "
        "hold the searched child but hold a record that would open its search. Counted over "
        f"{near['exposure_searches']:,} searches of a population of {near['exposure_population']:,} records "
        f"({near.get('exposure_children_per_council', 0):,} children in each of the {councils} councils, "
        f"seed {seed}, realistic recording errors) and scaled linearly to 12 million children in 153 "
        f"councils: {figure(now)} councils a search, against {figure(old)} for the design before issue #8. "
        "Openings are rare, so the interval is wide; the review's own smaller population is not used for "
        "this figure."
    )


def _unmeasured(failed: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{f['councils']} councils of {f['children_per_council']:,} children ({f['error']})" for f in failed
    )


def _federation_cpu(point: dict[str, Any]) -> float:
    cpu = point["federation"]["cpu_ms_per_search"]
    return float(round(cpu["origin_council"] + cpu["directory"] + cpu["other_councils_total"], 1))


def _growth_blocks(r: dict[str, Any], figures: dict[str, str], command: str, by: str) -> list[Block]:
    """How both modes grow with councils (children a council fixed) or with children a council."""
    o = r["options"]
    councils = by == "councils"
    points = r["growth"] if councils else r.get("growth_by_size", [])
    failed = r.get("growth_not_measured" if councils else "growth_by_size_not_measured", [])
    what = "councils" if councils else "children a council"
    if not points:
        if not failed:
            return [Para(f"Growth with {what}: not measured in this run (see --growth and --sizes).")]
        return [
            Para(
                f"Growth with {what}: could not be measured on this machine in this run: "
                + _unmeasured(failed)
                + "."
            )
        ]
    fixed = (
        f"{points[0]['children_per_council']:,} children a council, so the central index grows with them"
        if councils
        else f"{o['councils']} councils"
    )
    missing = "; not measured: " + _unmeasured(failed) if failed else ""
    return [
        Figure(
            figures["growth" if councils else "sizes"],
            f"Latency against {what} for both modes, log axis.",
            f"p50 and p95 latency at {', '.join(f'{g[by]:,}' for g in points)} {what}, both modes built "
            f"afresh at each ({fixed}){missing}.",
            command,
        ),
        Table(
            f"Growth with {what}.",
            (
                "councils",
                "children a council",
                "federation p50 ms",
                "federation p95 ms",
                "federation searches/s",
                "federation CPU ms a search",
                "central p50 ms",
                "central p95 ms",
                "central searches/s",
                "central CPU ms a search",
                "build and run s",
                "load average",
            ),
            [
                (
                    g["councils"],
                    f"{g['children_per_council']:,}",
                    g["federation"]["p50_ms"],
                    g["federation"]["p95_ms"],
                    g["federation"]["searches_per_s"],
                    _federation_cpu(g),
                    g["central"]["p50_ms"],
                    g["central"]["p95_ms"],
                    g["central"]["searches_per_s"],
                    g["central"]["cpu_ms_per_search"]["central"],
                    g["setup_and_run_s"],
                    g.get("load_average", "—"),
                )
                for g in points
            ],
            command,
        ),
    ]


def blocks(r: dict[str, Any], figures: dict[str, str]) -> list[Block]:
    """Every section of the report, from the results of one run."""
    o = r["options"]
    base = f"--councils {o['councils']} --scale {o['scale']} --seed {o['seed']} --json"
    cmd = {
        k: f"whoelse bench review-{k} {base}"
        for k in ("stores", "flows", "breach", "reach", "speed", "availability", "cost")
    }
    cmd["growth"] = (
        f"whoelse bench review-speed --councils N --scale {o.get('growth_scale', o['scale'])} "
        f"--seed {o['seed']} --json  (N = "
        f"{', '.join(map(str, o['growth']))})"
    )
    scales = sorted({o.get("growth_scale", o["scale"]), o["scale"], *o.get("sizes", [])})
    cmd["sizes"] = (
        f"whoelse bench review-speed --councils {o['councils']} --scale S --seed {o['seed']} --json  (S = "
        f"{', '.join(map(str, scales))})"
    )

    def derived(*pieces: str) -> str:
        return "derived from " + "; ".join(cmd[p] for p in pieces)

    s, b, f, reach, sp = r["stores"], r["breach"], r["flows"], r["reach"], r["speed"]
    m = r["machine"]
    n = b["children_in_population"]
    out: list[Block] = [
        Heading(1, "WhoElse: the federation and ContactPoint mode, measured side by side"),
        Para(
            f"Generated by `{r['command']}` in {r['elapsed_s']:.0f} s on {m['cores']} cores "
            f"({m['cpu'] or 'unknown CPU'}, "
            f"{m['memory_mb']:,} MB, load average {m['load_average']:.1f} at the start; {m['system']}, "
            f"Python {m['python']}), "
            f"commit {m['commit']}, seed {o['seed']}, scale {o['scale']} ({o['children_per_council']} "
            "children a council), "
            f"{o['councils']} councils: {', '.join(o['council_names'])}. Every number below was measured by "
            "this run "
            "on a synthetic population (node/synth); none is typed in. The command beside each table or "
            "figure "
            "re-measures it alone and prints JSON."
        ),
        Para(
            "Structure: the ICO's DPIA steps — the need, the processing, necessity and proportionality, "
            "risks "
            "as likelihood × severity, and measures. Likelihoods are judgements (marked as such); "
            "severities and "
            "ratings are derived from the measured shares by rules stated beside them."
        ),
        Heading(2, "1. The need"),
        Para(
            "Practitioners need to find who else is working with a child, in any council in England. "
            "ContactPoint "
            "(2009–2010) did it with one national index of every child; WhoElse does it with a node per "
            "council "
            "and a blind directory. Both run here as the same node software: ContactPoint mode is one "
            "central "
            "node holding every council's records (`whoelse central`), answering the same "
            "`Practitioner.Search`."
        ),
        Heading(2, "2. The processing: what each party stores"),
        Table(
            "Contents of each party's store after the run, counted from its database file. Children "
            "identifiable: rows holding a child's NHS number, or forename, surname and date of birth "
            "together.",
            (
                "party",
                "children's records",
                "children identifiable",
                "NHS numbers",
                "match tags",
                "involvements",
                "practitioner accounts",
                "query log entries",
                "token-use rows",
                "keys",
                "bytes",
            ),
            [
                (
                    name,
                    p["children_records"],
                    p["children_identifiable"],
                    p["nhs_numbers"],
                    p["match_tags"],
                    p["involvements"],
                    p["practitioner_accounts"],
                    p["query_log_entries"],
                    p["token_usage_rows"],
                    p["keys"],
                    p["bytes"],
                )
                for name, p in s["parties"].items()
            ],
            cmd["stores"],
        ),
        Heading(2, "3. What each party learns from one search"),
        Para(
            f"Three searches from {f['origin']} to each architecture: child X (held by "
            f"{', '.join(f['searched_child_held_by'])}), "
            "X again by another practitioner, and a child Y whom no council holds. Each party's store is "
            "then read for "
            "the "
            "entries naming each query."
        ),
        Table(
            "Information flow, from each party's own records of the three searches. 'Can link': its entries "
            "for "
            "the two searches of X are alike (ignoring ids, times and practitioner) and differ from Y's.",
            (
                "mode",
                "party",
                "saw that a search happened",
                "saw the child's identity",
                "saw the result",
                "can link two searches for the same child",
                "entries for the search",
                "note",
            ),
            [
                (
                    p["mode"],
                    p["party"],
                    p["saw_search"],
                    p["saw_identity"],
                    p["saw_result"],
                    p["can_link_repeat_searches"],
                    p["entries_for_search"],
                    p["note"],
                )
                for p in f["parties"]
            ],
            cmd["flows"],
        ),
        Para(_near_holders(f["near_holder"], o["councils"], o["seed"])),
        Heading(2, "4. Necessity and proportionality"),
        Heading(3, "What a breach exposes"),
        Figure(
            figures["breach"],
            "Line chart, log scale: children identifiable against the number of council databases breached, "
            "rising towards the central index's dashed line, which one breach reaches.",
            "Children identifiable by an attacker holding k councils' database files (mean, and range over "
            "30 random sets of k), "
            f"against one breach of the central index ({b['central_index']} of {n}). The directory's store "
            f"identifies {b['directory']}.",
            cmd["breach"],
        ),
        Table(
            "Children identifiable from one party's store, and the searched child's details at each council "
            "that does not hold the child.",
            ("store", "children identifiable", f"share of {n}"),
            [
                ("central index", b["central_index"], _pct(b["central_index"] / n)),
                ("directory", b["directory"], _pct(b["directory"] / n)),
            ]
            + [(f"council {c}", v, _pct(v / n)) for c, v in b["one_council"].items()]
            + [
                (f"non-holder {c}: searched child's details", v, "")
                for c, v in b["searched_child_at_non_holders"].items()
            ],
            cmd["breach"],
        ),
        Table(
            "What an insider with the database file can do unlogged: rows read directly, and audit entries "
            "that added.",
            ("party", "rows read", "log entries added"),
            [(name, v["rows_read"], v["log_entries_added"]) for name, v in b["insider_direct_read"].items()],
            cmd["breach"],
        ),
        Heading(3, "Who can look up any child"),
        Table(
            "Accounts able to reach each child's record, and how concentrated the records are.",
            (
                "mode",
                "practitioner accounts able to search any child",
                "databases holding a child (mean)",
                "children one database operator can read",
            ),
            [
                (
                    mode,
                    v["accounts_able_to_search_any_child"],
                    v["databases_holding_a_child"],
                    v["children_one_operator_can_read"],
                )
                for mode, v in ((k, reach[k]) for k in ("central", "federation"))
            ],
            cmd["reach"],
        ),
        Heading(3, "The 2009 Database State criteria"),
        Para(
            "Anderson et al., Database State (Joseph Rowntree Reform Trust, 2009) rated 46 public-sector "
            "databases in three colours: red where a database was almost certainly unlawful under "
            "human-rights or data-protection law and should be scrapped or substantially redesigned, amber "
            "where it had significant problems and might be unlawful, green where its intrusion on privacy "
            "was broadly justifiable. ContactPoint was red. The rows below are its criticisms of "
            "ContactPoint as the project's source material summarises them (seeds/002: not compliant with "
            "the European Convention on Human Rights without substantial redesign; sensitive data with no "
            "effective opt-out; security an afterthought; disproportionate, a register of all children). "
            "The report is paraphrased, not quoted. The first two rows' colours follow from figures measured "
            "in this run (first row: red where one party's store identifies 50% or more of children, amber "
            "where 10% or more; second: red where a direct read of the central store leaves no log entry); "
            "the other rows are this project's judgement, with the evidence beside them."
        ),
        Table(
            "Each criticism, how each mode fares, and the evidence from this run.",
            ("criterion", "central", "federation", "evidence"),
            list(assessment.database_state(r)),
            derived("breach", "flows", "reach"),
        ),
        Heading(2, "5. Risks: likelihood × severity"),
        Table(
            "Likelihood is judged; severity is the measured share of children exposed (severe 50%+, "
            "significant 5%+); overall = product.",
            ("risk", "mode", "likelihood (judged)", "severity (measured)", "overall", "measure"),
            list(assessment.dpia_risks(r)),
            derived("breach", "availability"),
        ),
        Heading(3, "LINDDUN threats, per data flow"),
    ]
    rows = assessment.linddun(r)
    missing = assessment.missing_files(rows)
    out += [
        Para(
            "Seven categories for every data flow of both modes, the mitigation in the code (file named) "
            "and the "
            "residual risk; figures in it are this run's. "
            + (
                f"Files not found: {', '.join(missing)}."
                if missing
                else "Every named file exists in this commit."
            )
        ),
        Table(
            "LINDDUN per data flow.",
            ("mode", "flow", "category", "mitigation", "file", "residual risk"),
            list(rows),
            derived("flows", "breach"),
        ),
        Heading(2, "6. Measures: speed, availability and cost"),
        Heading(3, "Speed"),
        Figure(
            figures["latency"],
            "Cumulative distribution of search latency for both modes; the central index's curve lies to "
            "the left.",
            f"Latency of {sp['searches']} searches each through Practitioner.Search, alternating between "
            f"the modes, {sp['councils']} councils.",
            cmd["speed"],
        ),
        Table(
            "Latency and throughput.",
            ("mode", "p50 ms", "p95 ms", "p99 ms", f"searches/s ({sp['concurrent_clients']} clients)"),
            [
                (mode, sp[mode]["p50_ms"], sp[mode]["p95_ms"], sp[mode]["p99_ms"], sp[mode]["searches_per_s"])
                for mode in ("federation", "central")
            ],
            cmd["speed"],
        ),
    ]
    out += _growth_blocks(r, figures, cmd["growth"], by="councils")
    out += _growth_blocks(r, figures, cmd["sizes"], by="children_per_council")
    a = r["availability"]
    c = r["cost"]
    out += [
        Heading(3, "Availability"),
        Figure(
            figures["availability"],
            "Share of searches answered in full and of children findable, falling as councils are stopped; "
            "the central index falls from 100% to 0%.",
            f"Processes stopped one by one; {a['children_sampled']} sampled children searched at each step "
            f"from {a['searching_council']}.",
            cmd["availability"],
        ),
        Table(
            "Availability, measured by stopping processes.",
            ("mode", "stopped", "answered in full", "children findable"),
            [
                (st["mode"], st["down"], _pct(st["answered_in_full"]), _pct(st["children_findable"]))
                for st in a["steps"]
            ],
            cmd["availability"],
        ),
        Heading(3, "Cost"),
        Figure(
            figures["cost"],
            "CPU per search against councils on a log axis: the federation's model line rises linearly, the "
            "central line is flat; measured points sit near the lines.",
            "CPU time per search summed over every process, measured (points) and the model (lines) fitted "
            "on the main run only.",
            cmd["cost"],
        ),
        Table(
            "Measured cost.",
            ("figure", "value"),
            [(k.replace("_", " "), v) for k, v in c["measured"].items()],
            cmd["cost"],
        ),
        Table(
            f"National extrapolation ({c['national']['children']:,} children, {c['national']['councils']} "
            "councils, "
            f"{c['national']['peak_searches_per_s']} searches/s at peak — BRIEF.md's 'a few per second'). "
            "Model: federation "
            "CPU = (origin + directory) + per-council × (N − 1); central CPU flat; storage = bytes per "
            "child × children.",
            ("figure", "value"),
            [(k.replace("_", " "), v) for k, v in c["national"].items()],
            cmd["cost"],
        ),
        Table(
            "The model checked against points it was not fitted on."
            + (
                ""
                if c["checks"]
                else " None was measured in this run (see growth above): the model is unchecked."
            ),
            (
                "councils",
                "children a council",
                "federation CPU ms measured",
                "federation predicted",
                "federation error",
                "central CPU ms measured",
                "central predicted",
                "central error",
            ),
            [
                (
                    x["councils"],
                    f"{x.get('children_per_council', o['children_per_council']):,}",
                    x["federation_cpu_ms_measured"],
                    x["federation_cpu_ms_predicted"],
                    _pct(x["federation_error"]),
                    x["central_cpu_ms_measured"],
                    x["central_cpu_ms_predicted"],
                    _pct(x.get("central_error")),
                )
                for x in c["checks"]
            ],
            cmd["cost"],
        ),
        Heading(2, "7. Outcome"),
        Para(
            "For the data protection officer to sign: the measured differences are where each party's store "
            "and "
            "logs put the children's data. The federation's residual weaknesses, measured above, are that "
            "every "
            "council learns a search happened (detecting), that a holding council can link repeat searches "
            "for "
            "its own child, and that the directory, though blind, is a single point of failure for "
            "availability."
        ),
    ]
    return out


def _md_cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(items: list[Block]) -> str:
    lines: list[str] = []
    for item in items:
        if isinstance(item, Heading):
            lines += ["#" * item.level + " " + item.text, ""]
        elif isinstance(item, Para):
            lines += [item.text, ""]
        elif isinstance(item, Table):
            lines += [
                f"*{item.caption}*",
                "",
                "| " + " | ".join(item.headers) + " |",
                "|" + "---|" * len(item.headers),
            ]
            lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in item.rows]
            lines += [""] + ([f"`{item.command}`", ""] if item.command else [])
        else:
            lines += [f"![{item.alt}]({item.file})", "", f"*{item.caption}*", "", f"`{item.command}`", ""]
    return "\n".join(lines)


CSS = """
body{font-family:Arial,sans-serif;color:#0b0c0c;max-width:76rem;margin:0 auto;padding:1rem;line-height:1.4}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #b1b4b6;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#f3f2f1}caption{text-align:left;font-style:italic;padding:.3rem 0}
code{background:#f3f2f1;padding:0 .2rem;word-break:break-all}figure{margin:1rem 0}
img{max-width:100%;height:auto}.table{overflow-x:auto}
"""


def _inline(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def to_html(items: list[Block], out_dir: Path) -> str:
    body: list[str] = []
    for item in items:
        if isinstance(item, Heading):
            body.append(f"<h{item.level}>{html.escape(item.text)}</h{item.level}>")
        elif isinstance(item, Para):
            body.append(f"<p>{_inline(item.text)}</p>")
        elif isinstance(item, Table):
            head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in item.headers)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
                for row in item.rows
            )
            command = f"<p>Command: <code>{html.escape(item.command)}</code></p>" if item.command else ""
            body.append(
                f'<div class="table" role="region" aria-label="{html.escape(item.caption[:60])}" '
                'tabindex="0">'
                f"<table><caption>{html.escape(item.caption)}</caption><thead><tr>{head}</tr></thead>"
                f"<tbody>{rows}</tbody></table></div>{command}"
            )
        else:
            data = base64.b64encode((out_dir / item.file).read_bytes()).decode("ascii")
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(item.alt)}">'
                f"<figcaption>{html.escape(item.caption)}<br>Command: "
                f"<code>{html.escape(item.command)}</code>"
                "</figcaption></figure>"
            )
    title = html.escape(next(i.text for i in items if isinstance(i, Heading)))
    return (
        f'<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n"
    )


def write_report(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "breach": plots.breach(results["breach"], out / "breach.png").name,
        "latency": plots.latency_cdf(results["speed"], out / "latency-cdf.png").name,
        "availability": plots.availability(results["availability"], out / "availability.png").name,
        "cost": plots.cost(results["cost"], results["speed"], out / "cost.png").name,
    }
    if results["growth"]:
        figures["growth"] = plots.growth(results["growth"], out / "growth.png").name
    if results.get("growth_by_size"):
        figures["sizes"] = plots.growth(
            results["growth_by_size"], out / "growth-sizes.png", "children_per_council"
        ).name
    items = blocks(results, figures)
    md, page = out / "report.md", out / "report.html"
    md.write_text(to_markdown(items), encoding="utf-8")
    page.write_text(to_html(items, out), encoding="utf-8")
    return md, page
