"""Councils witness the directory's routing log, over a real federation: each co-signs a routing-log head
only once it has checked the head extends the last one it saw; an auditor gets the largest co-signed head
with every cosignature; a directory that rewrites its routing log gets no cosignature."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.integration.harness import Federation
from tests.integration.test_federation import (
    BRADFORD,
    LEEDS,
    ZOE_BRADFORD,
    ZOE_LEEDS,
    ZOE_SEARCHED,
    search,
)
from tests.integration.test_heads import collect
from whoelse.directory.routing_log import RoutingEntry, RoutingLog
from whoelse.directory.setup import key_directory
from whoelse.federation.cli import main
from whoelse.federation.errors import Refused
from whoelse.federation.tree_head_wire import head_from_wire
from whoelse.federation.witness import verify_cosignature
from whoelse.v1 import federation_pb2


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


def witness_all(fed: Federation) -> None:
    for council in fed.councils.values():
        council.runtime.witness_routing_log()


def cosigned(fed: Federation) -> federation_pb2.TreeHead:
    response = fed.directory_as("auditor").GetTreeHeads(federation_pb2.TreeHeadsRequest(), timeout=5)
    assert response.HasField("cosigned_routing_head")
    head: federation_pb2.TreeHead = response.cosigned_routing_head
    return head


def test_both_councils_cosign_each_new_routing_head_and_an_auditor_can_check_every_cosignature(
    federation: Federation,
) -> None:
    search(federation, federation.councils[LEEDS], "sw@leeds", **ZOE_SEARCHED)
    witness_all(federation)
    first = cosigned(federation)
    assert first.tree_size >= 1
    search(federation, federation.councils[LEEDS], "sw@leeds", **ZOE_SEARCHED)
    witness_all(federation)  # the second time through the consistency proof from the first head
    head = cosigned(federation)
    assert head.tree_size == first.tree_size + 1
    assert sorted(c.witness for c in head.cosignatures) == sorted([LEEDS, BRADFORD])
    keys = {
        code: council.runtime.settings.signing_key.verify_key_bytes
        for code, council in federation.councils.items()
    }
    for cosignature in head.cosignatures:
        verify_cosignature(head_from_wire(head), keys[cosignature.witness], bytes(cosignature.signature))
    [by_leeds] = [c for c in head.cosignatures if c.witness == LEEDS]
    with pytest.raises(Refused):  # a cosignature is the witness's own: it does not pass for Bradford's
        verify_cosignature(head_from_wire(head), keys[BRADFORD], bytes(by_leeds.signature))
    assert federation.councils[LEEDS].runtime.routing_witness.last_witnessed() == head_from_wire(head)


def test_collect_heads_saves_the_cosigned_routing_head_for_audit_verify(
    federation: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    search(federation, federation.councils[LEEDS], "sw@leeds", **ZOE_SEARCHED)
    witness_all(federation)
    size = cosigned(federation).tree_size
    printed = collect(federation, tmp_path / "heads", capsys)
    assert (
        f"directory: head at size {size} co-signed by 2 council(s), checked: {BRADFORD}, {LEEDS}" in printed
    )
    saved = json.loads((tmp_path / "heads" / "directory.heads.json").read_text(encoding="utf-8"))
    assert size in [h["tree_size"] for h in saved]
    status = main([
        "audit", "verify", str(federation.root / "directory.sqlite"), "--table", "routing_log",
        "--key", str(federation.root / "directory-keys" / "directory.pub"),
        "--trusted-heads", str(tmp_path / "heads" / "directory.heads.json"),
    ])  # fmt: skip
    assert status == 0 and "result: OK" in capsys.readouterr().out


def test_a_directory_that_rewrites_its_routing_log_gets_no_cosignature(federation: Federation) -> None:
    search(federation, federation.councils[LEEDS], "sw@leeds", **ZOE_SEARCHED)
    witness_all(federation)
    witnessed = cosigned(federation)

    # The directory's operator hides that Leeds searched: it empties the routing log, writes other entries
    # and signs a larger head over them with its own key.
    with federation.directory_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM routing_log"))
        conn.execute(text("DELETE FROM routing_log_heads"))
    forger = RoutingLog(federation.directory_db, key_directory(federation.directory_db).signing_key())
    for n in range(witnessed.tree_size + 2):
        forger.record(RoutingEntry(f"{n:032x}", BRADFORD, "safeguarding", n, n, 2, (LEEDS,), ()))
    assert forger.head().tree_size > witnessed.tree_size

    leeds = federation.councils[LEEDS].runtime
    with pytest.raises(Refused, match=f"does not extend the one witnessed at size {witnessed.tree_size}"):
        leeds.routing_witness.witness()
    refusals = leeds.metrics.routing_witness_refusals._value.get()
    leeds.witness_routing_log()  # in upkeep: logged and counted, and the node goes on serving
    assert leeds.metrics.routing_witness_refusals._value.get() == refusals + 1
    assert leeds.routing_witness.last_witnessed() == head_from_wire(witnessed)
    with federation.directory_db.engine.begin() as conn:  # nobody vouched for the forgery
        sizes = conn.execute(text("SELECT DISTINCT tree_size FROM routing_cosignatures")).scalars().all()
    assert max(sizes) == witnessed.tree_size


def test_the_newest_routing_head_carries_its_own_cosignatures_and_none_before_it_is_witnessed(
    federation: Federation,
) -> None:
    search(federation, federation.councils[LEEDS], "sw@leeds", **ZOE_SEARCHED)
    witness_all(federation)
    auditor = federation.directory_as("auditor")
    response = auditor.GetTreeHeads(federation_pb2.TreeHeadsRequest(), timeout=5)
    newest = response.heads[-1]
    assert newest.tree_size == response.cosigned_routing_head.tree_size  # the newest is the co-signed one
    assert sorted(c.witness for c in newest.cosignatures) == sorted([LEEDS, BRADFORD])

    search(federation, federation.councils[LEEDS], "sw@leeds", **ZOE_SEARCHED)  # a head nobody witnessed
    response = auditor.GetTreeHeads(federation_pb2.TreeHeadsRequest(), timeout=5)
    assert response.heads[-1].tree_size == newest.tree_size + 1
    assert list(response.heads[-1].cosignatures) == []
    assert response.cosigned_routing_head.tree_size == newest.tree_size
    assert sorted(c.witness for c in response.cosigned_routing_head.cosignatures) == sorted([LEEDS, BRADFORD])
