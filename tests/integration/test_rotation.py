"""Rotating the match-token key (docs/rotation.md): nodes re-tokenise with no manual step, searches keep
finding the child throughout, and tags under the retired key are dropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.integration.harness import Federation
from tests.integration.test_federation import BRADFORD, LEEDS, ZOE_BRADFORD, ZOE_LEEDS
from whoelse.directory.setup import key_directory
from whoelse.directory.token_service import retire, rotate
from whoelse.federation import closed_sets
from whoelse.node.storage.tables import MatchTag
from whoelse.v1 import records_pb2 as pb


@pytest.fixture()
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    try:
        fed.add_council(LEEDS, "Leeds", [ZOE_LEEDS])
        fed.add_council(BRADFORD, "Bradford", [ZOE_BRADFORD])
        fed.run_upkeep()
        fed.add_practitioner(fed.councils[LEEDS], "sw@leeds", "Sam Patel")
        yield fed
    finally:
        fed.stop()


def schemes(federation: Federation, code: str) -> dict[str, int]:
    with federation.councils[code].runtime.db.session() as session:
        rows = session.execute(select(MatchTag.scheme, func.count()).group_by(MatchTag.scheme))
        return {scheme: n for scheme, n in rows if scheme != "local"}


def found_at(federation: Federation) -> set[str]:
    response = federation.client(federation.councils[LEEDS], "sw@leeds").search(
        pb.SearchIdentity(
            forename="Zoe", surname="O'Neill", date_of_birth="2015-03-07", **closed_sets.SEX.fields("F")
        ),
        "safeguarding",
    )
    return {r.council_code for r in response.results}


def test_rotation_retokenises_and_retirement_drops_old_tags(federation: Federation) -> None:
    [old] = schemes(federation, BRADFORD)
    assert found_at(federation) == {LEEDS, BRADFORD}
    keys = key_directory(federation.directory_db)
    new = rotate(federation.directory_db, keys).key_id
    federation.run_upkeep()  # every node sees the new key in the signed list and re-tokenises
    assert set(schemes(federation, BRADFORD)) == {old, new}  # both answer during the rotation
    assert found_at(federation) == {LEEDS, BRADFORD}
    retire(federation.directory_db, keys, old)
    federation.run_upkeep()
    assert set(schemes(federation, BRADFORD)) == {new}
    assert found_at(federation) == {LEEDS, BRADFORD}
