"""Availability, measured by stopping processes: councils one by one, then the directory; the central index.

At each step every sampled child is searched for (as the first council holding it recorded it), from a
council that stays up. *Answered in full*: every council asked answered (the federation lists any that did
not; never silently incomplete). *Findable*: a record of the child is among the results. This runs last:
it stops what it measures.
"""

from __future__ import annotations

import random
from typing import Any

from whoelse.federation import closed_sets
from whoelse.federation.errors import WhoElseError
from whoelse.federation.practitioner_client import PractitionerClient
from whoelse.harness.local_federation import stop
from whoelse.harness.review.environment import Environment
from whoelse.harness.review.flows import identity_of_row
from whoelse.harness.review.stores import Truth

FOUND_BANDS = ("match", "possible")


def _round(
    env: Environment, client: PractitionerClient, truth: Truth, people: list[str]
) -> tuple[float, float]:
    full = found = 0
    for person in people:
        refs = set(truth.copies[person])
        try:
            response = client.search(identity_of_row(truth.rows[truth.copies[person][0]]), "safeguarding")
        except WhoElseError:
            continue  # no answer at all: neither in full nor found
        full += not response.unanswered
        found += any(
            (r.council_code, c.disclosure.record_id) in refs
            for r in response.results
            for c in r.candidates
            if closed_sets.BAND.read(c) in FOUND_BANDS
        )
    return full / len(people), found / len(people)


def measure_availability(env: Environment, truth: Truth, samples: int = 20) -> dict[str, Any]:
    rng = random.Random(env.seed)
    people = rng.sample(sorted(truth.copies), min(samples, len(truth.copies)))
    councils = env.layout.councils
    steps: list[dict[str, Any]] = []
    # Stopping a process that hosts several councils stops them all: count what is really down.
    host_of = {c.code: c.code if c.code in env.pids else "" for c in councils}
    fed = env.federation_client()
    central = env.central_client()
    try:
        full, found = _round(env, central, truth, people)
        steps.append(
            {
                "mode": "central",
                "down": "nothing",
                "share_down": 0.0,
                "answered_in_full": full,
                "children_findable": found,
            }
        )
        stop({"central": env.central_pid})
        full, found = _round(env, central, truth, people)
        steps.append(
            {
                "mode": "central",
                "down": "central index",
                "share_down": 1.0,
                "answered_in_full": full,
                "children_findable": found,
            }
        )
        down: list[str] = []
        for setup in [None, *councils[1:]]:
            if setup is not None:
                if not host_of[setup.code]:
                    continue  # hosted with others: cannot be stopped alone
                stop({setup.code: env.pids[setup.code]})
                down.append(setup.code)
            full, found = _round(env, fed, truth, people)
            # What a complete search could still find: children with a record at a council still up.
            up = sum(1 for p in people if truth.held_by(p) - set(down)) / len(people)
            steps.append(
                {
                    "mode": "federation",
                    "held_at_councils_up": up,
                    "down": f"{len(down)} of {len(councils)} councils",
                    "share_down": len(down) / len(councils),
                    "answered_in_full": full,
                    "children_findable": found,
                    "councils_down": list(down),
                }
            )
        stop({"directory": env.pids["directory"]})
        full, found = _round(env, fed, truth, people)
        steps.append(
            {
                "mode": "federation",
                "down": "directory",
                "share_down": None,
                "answered_in_full": full,
                "children_findable": found,
            }
        )
    finally:
        fed.close()
        central.close()
    return {"children_sampled": len(people), "searching_council": councils[0].code, "steps": steps}
