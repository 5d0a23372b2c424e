"""The import's validation pass makes exactly what it made before it was made faster (issue #11, item 4):
the same rows refused with the same problems, the same stored columns and the same lookup tags, which are
what other councils look up, so a changed byte would break federated matching.

The expected results in tests/assets/import_golden were made by the code before the speed-up (commit
7d5997d); make_golden.py there says when they may be regenerated.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from tests.assets.import_golden.make_golden import KEY, outcomes
from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import match_keys
from whoelse.node.tags import LocalTagger, identity_tags

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "import_golden"


def golden_lines() -> list[str]:
    return (GOLDEN / "rows.jsonl").read_text(encoding="utf-8").splitlines()


def expected() -> list[dict[str, Any]]:
    text = (GOLDEN / "expected.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_the_golden_rows_cover_both_outcomes() -> None:
    results = expected()
    assert sum("tags" in o for o in results) >= 80
    assert sum("problems" in o for o in results) >= 30


def test_each_row_is_refused_or_tagged_exactly_as_before() -> None:
    assert outcomes(golden_lines(), LocalTagger(KEY)) == expected()


def test_warm_caches_change_nothing() -> None:
    """Cached checks depend only on the value checked: the rows again, in reverse order, after the others."""
    lines = golden_lines()
    outcomes(lines, LocalTagger(KEY))
    backwards = outcomes(lines[::-1], LocalTagger(KEY))
    count = len(lines)
    assert [{**o, "line": count + 1 - o["line"]} for o in reversed(backwards)] == expected()


def test_a_tagger_sent_to_a_worker_makes_the_same_tags() -> None:
    identity = Identity("Zoë", "O'Neill", None, "F", "LS6 2AB")
    tagger = LocalTagger(KEY)
    assert identity_tags(pickle.loads(pickle.dumps(tagger)), identity) == identity_tags(tagger, identity)


@pytest.mark.parametrize("size", [32, 63, 64, 65, 100, 200])
def test_local_tags_are_hmac_sha256_truncated(size: int) -> None:
    key = bytes((7 * n + 3) % 256 for n in range(size))
    identity = Identity("Oliver", "Smith-Jones", None, "U", "LS6 2AB", "9434765919", known_as="Ollie")
    tags = identity_tags(LocalTagger(key), identity)
    messages = sorted(k.encode() for k in match_keys(identity))
    assert [tag for tag, _ in tags] == [hmac.digest(key, m, hashlib.sha256)[:16] for m in messages]
