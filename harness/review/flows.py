"""What each party learns from a search, read from what each party recorded during the run.

Three searches from one council go to each architecture: child X, child X again (another practitioner),
and child Y, whom no council holds. Afterwards every party's store is read for the entries naming each
query id:

- *saw the search*: the party holds an entry naming the query;
- *saw the child's identity*: the entries for the query name a record of X, or hold X's details;
- *saw the result*: the entries say which records (or how many) were found;
- *can link the two searches for X*: the party's entries for the two searches of X are alike once query
  ids, times and practitioners are set aside, and unlike its entry for Y (found nowhere) — so it can
  tell they were the same child.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from whoelse.federation import closed_sets
from whoelse.federation.practitioner_client import PractitionerClient
from whoelse.harness.review.environment import Environment
from whoelse.harness.review.stores import Truth, log_entry
from whoelse.node.central import source_of
from whoelse.v1 import records_pb2 as pb

IGNORED = {"query_id", "at", "issued_at_ms", "routed_at_ms", "practitioner", "index"}
FLUSH_WAIT_S = 6.0  # councils group-commit entries that disclose nothing every alert_poll_ms (5 s here)


NOTES = {
    "origin council": "opens every answer for its practitioner, in memory; records only who answered",
    "holding council": "matches its own record, so knows the child; records what it disclosed",
    "non-holding council": "opens nothing; records one entry like every other query's",
    "directory": "routes sealed deliveries; records origin, purpose, time and who answered",
    "central index": "reads the searched identity and every answer; records what it disclosed",
}


def identity_of_row(row: dict[str, Any]) -> pb.SearchIdentity:
    """What a practitioner would type for this child: the holding council's own record of them."""
    return pb.SearchIdentity(
        forename=row["forename"],
        surname=row["surname"],
        date_of_birth=row["date_of_birth"] or "",
        **closed_sets.SEX.fields(row["sex"]),
        postcode=row["address"]["postcode"],
    )


def entries(path: Path) -> list[dict[str, Any]]:
    """Every log entry (audit or routing log) in a party's store."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out: list[dict[str, Any]] = []
    try:
        for table in ("audit_log", "routing_log"):
            with contextlib.suppress(sqlite3.OperationalError):  # a party without this log
                out += [log_entry(e) for (e,) in con.execute(f"SELECT entry FROM {table}")]
    finally:
        con.close()
    return out


def _signature(found: list[dict[str, Any]]) -> str:
    return json.dumps([{k: v for k, v in e.items() if k not in IGNORED} for e in found], sort_keys=True)


def pick_child(truth: Truth, origin: str) -> str:
    """A child held by councils other than `origin` (at two or more when there is one), so that the
    origin, the holders and the non-holders are different councils."""
    away = [p for p, refs in truth.copies.items() if origin not in {c for c, _ in refs}]
    return ([p for p in truth.shared() if p in away] or away)[0]


NOBODY = pb.SearchIdentity(
    forename="Nobody",
    surname="Heldanywhere",
    date_of_birth="2014-02-02",
    **closed_sets.SEX.fields("F"),
    postcode="LS1 1AA",
)
"""Child Y: a child no council holds, so every party's entry for Y is its entry for a search that found
nothing there — the baseline the two searches for X are compared with."""


def _record_refs(entry: dict[str, Any], council: str) -> Iterable[tuple[str, str]]:
    for d in entry.get("disclosures", []):
        rid = d["record_id"]
        yield source_of(rid) if ":" in rid else (council, rid)


def learned(
    party: str, path: Path, council: str, qids: tuple[str, str, str], truth: Truth, x: str
) -> dict[str, Any]:
    """What one party's store shows about three queries (X, X again, Y)."""
    log = entries(path)
    per_query = [[e for e in log if e.get("query_id") == q] for q in qids]
    first = per_query[0]
    x_records = set(truth.copies[x])
    text = json.dumps(first).lower()
    row = truth.rows[truth.copies[x][0]]
    named = any(ref in x_records for e in first for ref in _record_refs(e, council))
    details = bool(row.get("nhs_number")) and row["nhs_number"] in text
    sig = [_signature(found) for found in per_query]
    return {
        "party": party,
        "saw_search": bool(first),
        "saw_identity": named or details,
        "saw_result": any(e.get("candidates", 0) or e.get("disclosures") for e in first),
        "can_link_repeat_searches": bool(first) and sig[0] == sig[1] and sig[0] != sig[2],
        "entries_for_search": len(first),
    }


def _search_three(
    clients: list[PractitionerClient], x: pb.SearchIdentity, y: pb.SearchIdentity
) -> tuple[str, str, str]:
    ids = [c.search(i, "safeguarding").query_id for c, i in zip(clients, (x, x, y), strict=True)]
    return ids[0], ids[1], ids[2]


def information_flow(env: Environment, truth: Truth) -> dict[str, Any]:
    """The information-flow table for one search in each architecture."""
    origin = env.layout.councils[0]
    x = pick_child(truth, origin.code)
    x_id, y_id = identity_of_row(truth.rows[truth.copies[x][0]]), NOBODY
    fed_clients = [env.federation_client() for _ in range(3)]
    central_clients = [env.central_client() for _ in range(3)]
    try:
        fed = _search_three(fed_clients, x_id, y_id)
        central = _search_three(central_clients, x_id, y_id)
    finally:
        for c in (*fed_clients, *central_clients):
            c.close()
    time.sleep(FLUSH_WAIT_S)
    holders = truth.held_by(x)
    rows = []
    for setup in env.layout.councils:
        role = (
            "origin council"
            if setup.code == origin.code
            else ("holding council" if setup.code in holders else "non-holding council")
        )
        rows.append(
            {
                **learned(f"{setup.name} ({role})", setup.database, setup.code, fed, truth, x),
                "mode": "federation",
                "role": role,
                "council": setup.code,
            }
        )
    rows.append(
        {
            **learned("directory", env.layout.directory_db, "", fed, truth, x),
            "mode": "federation",
            "role": "directory",
            "council": "",
        }
    )
    rows.append(
        {
            **learned("central index", env.central_db, "", central, truth, x),
            "mode": "central",
            "role": "central index",
            "council": "",
        }
    )
    for row in rows:
        row["note"] = NOTES[row["role"]]
    return {"searched_child_held_by": sorted(holders), "origin": origin.code, "parties": rows}


def insider_unlogged(paths: dict[str, Path], read: Callable[[Path], int]) -> dict[str, dict[str, int]]:
    """Audit entries a direct read of a party's database adds (an insider with the file, not the API)."""
    out = {}
    for party, path in paths.items():
        before = len(entries(path))
        rows = read(path)
        out[party] = {"rows_read": rows, "log_entries_added": len(entries(path)) - before}
    return out


def read_children(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        try:
            return len(con.execute("SELECT * FROM children").fetchall())
        except sqlite3.OperationalError:
            return len(con.execute("SELECT * FROM routing_log").fetchall())
    finally:
        con.close()
