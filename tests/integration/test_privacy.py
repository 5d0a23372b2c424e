"""P1–P4 over a real federation, and every refusal a node makes of a delivered query.

The byte scans read every file the directory and a council holding nothing wrote (databases, their WAL
files, caches, keys), plus everything logged, and look for the searched child's details in the forms a
careless implementation would store them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from tests.integration.harness import Federation
from tests.integration.test_federation import BRADFORD, LEEDS, WAKEFIELD, ZOE_BRADFORD, ZOE_LEEDS, child
from whoelse.directory.keys import KeyDirectory
from whoelse.federation import ca, closed_sets, oprf
from whoelse.federation.answers import open_answer
from whoelse.federation.errors import Unavailable
from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import match_keys
from whoelse.federation.purposes import Purpose
from whoelse.federation.query import MAX_SEALED_QUERY_BYTES, build_query, seal_deliveries, sign_query
from whoelse.federation.sealing import SealingKey
from whoelse.federation.signing import SigningKey
from whoelse.federation.token_keys import lookup_tag
from whoelse.federation.tokens import tokenise
from whoelse.federation.transport import MtlsIdentity, secure_channel
from whoelse.node.audit import AUDIT_LOG
from whoelse.node.federation.holder import council_lookup
from whoelse.node.federation.searcher import evaluator
from whoelse.node.runtime import NodeRuntime
from whoelse.v1 import federation_pb2, federation_pb2_grpc
from whoelse.v1 import records_pb2 as pb

KIRKLEES = "E08000034"
ZOE_SEARCH = pb.SearchIdentity(
    forename="Zoë",
    surname="O'Neill",
    date_of_birth="2015-03-07",
    **closed_sets.SEX.fields("F"),
    postcode="LS6 2AB",
)
ZOE_DOB = dt.date(2015, 3, 7)
ANSWER_KEY = SealingKey.generate()  # the origin's key for the answers to queries these tests build
SECRETS = [
    b"O'Neill",
    b"ONeill",
    b"oneill",
    b"ONEILL",
    b"2015-03-07",
    b"20150307",
    b"07/03/2015",
    b"LS6 2AB",
    b"LS62AB",
    b"9434765919",
    "Zoë".encode(),
    b"Zoe",
]


class RecordingDirectory:
    """Wraps a node's Directory stub and keeps every request the node sent to the directory."""

    def __init__(self, stub: federation_pb2_grpc.DirectoryStub) -> None:
        self._stub = stub
        self.sent: list[bytes] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)

        def call(request: Any, **kwargs: Any) -> Any:
            self.sent.append(request.SerializeToString())
            return method(request, **kwargs)

        return call


@pytest.fixture()
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    try:
        fed.add_council(LEEDS, "Leeds", [ZOE_LEEDS])
        fed.add_council(BRADFORD, "Bradford", [ZOE_BRADFORD])
        fed.add_council(WAKEFIELD, "Wakefield", [child("W-1", "Oliver", "Twist", "2014-02-02", "WF1 1AA")])
        fed.add_council(KIRKLEES, "Kirklees", [child("K-1", "Amara", "Okoye", "2016-08-08", "HD1 1AA")])
        fed.run_upkeep()
        fed.add_practitioner(fed.councils[WAKEFIELD], "sw@wakefield", "Wakefield Worker")
        yield fed
    finally:
        fed.stop()


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


def test_directory_and_non_holders_persist_nothing_about_the_child(
    federation: Federation, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wakefield = federation.councils[WAKEFIELD]
    recorder = RecordingDirectory(wakefield.runtime.directory)
    wakefield.runtime.search._directory = recorder  # type: ignore[assignment]
    response = federation.client(wakefield, "sw@wakefield").search(
        pb.SearchIdentity(
            forename="Zoë",
            surname="O'Neill",
            date_of_birth="2015-03-07",
            **closed_sets.SEX.fields("F"),
            postcode="LS6 2AB",
            nhs_number="9434765919",
        ),
        "safeguarding",
    )
    assert {r.council_code for r in response.results} == {LEEDS, BRADFORD}  # the search really found her
    federation.run_upkeep()  # audit heads published, logs checkpointed: everything that would be written is
    # P2: the directory's database, WAL, keys and whatever it was sent hold none of the child's details.
    directory_bytes = [p.read_bytes() for p in files_under(tmp_path / "directory-keys")]
    directory_bytes += [p.read_bytes() for p in tmp_path.glob("directory.sqlite*")]
    directory_bytes += recorder.sent
    # P3: Kirklees holds nothing about her and persisted nothing about her (its database, WAL, caches).
    kirklees_bytes = [p.read_bytes() for p in files_under(tmp_path / KIRKLEES)]
    logged = caplog.text.encode()
    for secret in SECRETS:
        for blob in (*directory_bytes, *kirklees_bytes, logged):
            assert secret not in blob, f"{secret!r} leaked"
    # Kirklees did log that a query arrived (accountability), with no candidates.
    kirklees_db = federation.councils[KIRKLEES].runtime.db
    with kirklees_db.session() as session:
        entries = [e for (e,) in session.execute(select(AUDIT_LOG.entries.c.entry))]
    assert any('"search_received"' in e and '"candidates":0' in e for e in entries)
    assert not any('"disclosed"' in e for e in entries)


def test_the_directory_never_sees_a_token_it_could_test_guesses_against(
    federation: Federation, tmp_path: Path
) -> None:
    """The directory holds the OPRF key, so it can compute the tags of any guessed identity; what it
    cannot do is observe one: every tag travels sealed to its recipient council."""
    wakefield = federation.councils[WAKEFIELD]
    recorder = RecordingDirectory(wakefield.runtime.directory)
    wakefield.runtime.search._directory = recorder  # type: ignore[assignment]
    federation.client(wakefield, "sw@wakefield").search(
        pb.SearchIdentity(
            forename="Zoe", surname="O'Neill", date_of_birth="2015-03-07", **closed_sets.SEX.fields("F")
        ),
        "safeguarding",
    )
    councils = wakefield.runtime.councils.require()
    key = KeyDirectory(tmp_path / "directory-keys").oprf_key(councils.oprf_key_id)
    guess = Identity(forename="Zoe", surname="O'Neill", date_of_birth=ZOE_DOB, sex="F")
    guessed_tags = [lookup_tag(oprf.evaluate_direct(key, k.encode())) for k in match_keys(guess)]
    seen = b"".join(recorder.sent) + b"".join(p.read_bytes() for p in tmp_path.glob("directory.sqlite*"))
    assert guessed_tags and not any(tag in seen for tag in guessed_tags)
    # ... while the holders really do store exactly those tags (so the check above could fail).
    leeds_db = (tmp_path / LEEDS / "node.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in (tmp_path / LEEDS).glob("node.sqlite-wal")
    )
    assert any(tag in leeds_db for tag in guessed_tags)


def test_each_guess_costs_a_counted_rate_limited_online_evaluation(federation: Federation) -> None:
    """P4: a council cannot compute tokens itself; the directory counts and limits every evaluation."""
    federation.stop_directory()
    federation.start_directory(per_minute=30)
    runtime = federation.councils[KIRKLEES].runtime
    councils = runtime.councils.require()
    guesses = [
        k
        for d in range(1, 6)
        for k in match_keys(
            Identity(forename="Zoe", surname="O'Neill", date_of_birth=ZOE_DOB.replace(day=d), sex="F")
        )
    ]
    evaluate = evaluator(runtime.directory, councils.oprf_key_id)
    with pytest.raises(Unavailable, match=r"rate-limiting this council"):
        for start in range(0, len(guesses), 10):
            tokenise(guesses[start : start + 10], evaluate, councils.oprf_public_key, councils.oprf_key_id)


# ---- refusals -------------------------------------------------------------------------------------------


def directory_caller(federation: Federation, name: str = "directory") -> Any:
    identity = MtlsIdentity.from_files(
        federation.ca_dir / "ca.crt", federation.ca_dir / f"{name}.crt", federation.ca_dir / f"{name}.key"
    )
    return identity


def deliver(federation: Federation, recipient: str, delivery: Any, as_name: str = "directory") -> Any:
    council = federation.councils[recipient]
    channel = secure_channel(
        f"localhost:{council.servers.federation_port}", directory_caller(federation, as_name)
    )
    try:
        return federation_pb2_grpc.FederationNodeStub(channel).Deliver(delivery, timeout=10)
    finally:
        channel.close()


def make_delivery(
    origin: NodeRuntime,
    recipient: str,
    *,
    signing_key: SigningKey | None = None,
    issued_at_ms: int | None = None,
    origin_code: str | None = None,
) -> federation_pb2.Delivery:
    councils = origin.councils.require()
    keys = sorted(
        match_keys(Identity(forename="Zoe", surname="ONeil", date_of_birth=ZOE_DOB, sex="F")),
        key=lambda k: k.encode(),
    )
    tokens = tokenise(
        keys,
        evaluator(origin.directory, councils.oprf_key_id),
        councils.oprf_public_key,
        councils.oprf_key_id,
    )
    query = build_query(
        origin=origin_code or origin.settings.council.code,
        practitioner="sw",
        practitioner_name="A Worker",
        practitioner_role="Social worker",
        purpose=Purpose.SAFEGUARDING,
        identity=pb.SearchIdentity(
            forename="Zoe", surname="ONeil", date_of_birth="2015-03-07", **closed_sets.SEX.fields("F")
        ),
        tokens=tokens,
        key_id=councils.oprf_key_id,
        now_ms=issued_at_ms or int(time.time() * 1000),
        answer_key=ANSWER_KEY.public_key_bytes,
    )
    signed = sign_query(query, signing_key or origin.settings.signing_key)
    [delivery] = seal_deliveries(signed, [(recipient, councils.entry(recipient).sealing_key)])
    return delivery


def refused(
    federation: Federation, recipient: str, delivery: Any, as_name: str = "directory"
) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        deliver(federation, recipient, delivery, as_name)
    return info.value


def disclosures_logged(federation: Federation, code: str) -> int:
    with federation.councils[code].runtime.db.session() as session:
        return sum(e.count('"disclosed"') for (e,) in session.execute(select(AUDIT_LOG.entries.c.entry)))


def test_a_genuine_delivery_is_answered_then_its_replay_refused(federation: Federation) -> None:
    leeds = federation.councils[LEEDS].runtime
    delivery = make_delivery(leeds, BRADFORD)
    answer = deliver(federation, BRADFORD, delivery)
    assert answer.responder == BRADFORD and answer.sealed
    assert disclosures_logged(federation, BRADFORD) == 1
    error = refused(federation, BRADFORD, delivery)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and "replayed query" in error.details()
    assert disclosures_logged(federation, BRADFORD) == 1


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("misrouted", grpc.StatusCode.PERMISSION_DENIED, "not addressed to this council"),
        (
            "relabelled recipient",
            grpc.StatusCode.PERMISSION_DENIED,
            "cannot open: not sealed to this council",
        ),
        ("bad signature", grpc.StatusCode.PERMISSION_DENIED, "bad signature from E08000035"),
        ("stale", grpc.StatusCode.PERMISSION_DENIED, "stale query"),
        ("unknown council", grpc.StatusCode.PERMISSION_DENIED, "unknown council E09000033"),
        ("revoked council", grpc.StatusCode.PERMISSION_DENIED, "council E08000036 is revoked"),
        ("malformed", grpc.StatusCode.PERMISSION_DENIED, "cannot open"),
        ("oversized", grpc.StatusCode.INVALID_ARGUMENT, "sealed:"),
        ("caller is not the directory", grpc.StatusCode.PERMISSION_DENIED, "only directory may call"),
        (
            "second directory certificate",  # issued by the CA in the directory's name (issue #13)
            grpc.StatusCode.PERMISSION_DENIED,
            "the caller's certificate is not the directory's registered one",
        ),
    ],
)
def test_each_refusal_is_a_clear_status_and_discloses_nothing(
    federation: Federation, case: str, status: grpc.StatusCode, message: str
) -> None:
    leeds = federation.councils[LEEDS].runtime
    as_name = "directory"
    if case in ("misrouted", "relabelled recipient"):
        delivery = make_delivery(leeds, BRADFORD)
        if case == "relabelled recipient":
            delivery.recipient = KIRKLEES  # a directory that relabels a delivery still cannot make it open
        target = KIRKLEES
    else:
        target = BRADFORD
        if case == "bad signature":
            delivery = make_delivery(leeds, BRADFORD, signing_key=SigningKey.generate())
        elif case == "stale":
            delivery = make_delivery(leeds, BRADFORD, issued_at_ms=int(time.time() * 1000) - 10 * 60_000)
        elif case == "unknown council":
            delivery = make_delivery(leeds, BRADFORD, origin_code="E09000033")
            delivery.origin = "E09000033"
        elif case == "revoked council":
            delivery = make_delivery(federation.councils[WAKEFIELD].runtime, BRADFORD)
            federation.registry.revoke(WAKEFIELD)
            federation.councils[BRADFORD].runtime.upkeep()  # Bradford refreshes its signed council list
        elif case == "malformed":
            delivery = make_delivery(leeds, BRADFORD)
            delivery.sealed = b"\x00" * 200
        elif case == "oversized":
            delivery = make_delivery(leeds, BRADFORD)
            delivery.sealed = b"\x00" * (MAX_SEALED_QUERY_BYTES + 1)
        elif case == "second directory certificate":
            delivery = make_delivery(leeds, BRADFORD)
            key, cert = ca.issue(*federation._ca, "directory", dns_names=("localhost",))
            (federation.ca_dir / "rogue.key").write_bytes(key)
            (federation.ca_dir / "rogue.crt").write_bytes(cert)
            as_name = "rogue"
        else:
            delivery = make_delivery(leeds, BRADFORD)
            as_name = LEEDS  # a council calling another council's federation port directly
    error = refused(federation, target, delivery, as_name)
    assert error.code() == status
    assert message in (error.details() or "")
    assert disclosures_logged(federation, target) == 0


def test_a_council_holding_a_different_child_who_shares_one_detail_cannot_read_the_search(
    federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """P3 with a near miss: Kirklees holds another Zoe born the same day. One shared match key is not
    enough to open the searched identity; Kirklees answers with a referral carrying no child data."""
    kirklees = federation.councils[KIRKLEES]
    other_zoe = child("K-2", "Zoe", "Smith", "2015-03-07", "HD1 1AA")
    federation.record_change(kirklees, [other_zoe])
    kirklees.runtime.upkeep()  # tokenise the new record
    searched = Identity(forename="Zoe", surname="ONeil", date_of_birth=ZOE_DOB, sex="F")
    held = Identity(forename="Zoe", surname="Smith", date_of_birth=ZOE_DOB, sex="F", postcode="HD1 1AA")
    assert len(match_keys(searched) & match_keys(held)) == 1  # the near miss this test is about

    def must_not_open(self: Any, index: int, dk: bytes) -> Any:
        raise AssertionError("Kirklees opened the searched identity")

    monkeypatch.setattr("whoelse.federation.query.VerifiedQuery.demographics_for", must_not_open)
    leeds = federation.councils[LEEDS].runtime
    delivery = make_delivery(leeds, KIRKLEES)
    sealed = kirklees.runtime.holder.answer(delivery)
    answer = open_answer(
        sealed, leeds.settings.sealing_key, ANSWER_KEY, delivery.query_id, council_lookup(leeds.councils)
    )
    [referral] = answer.candidates
    assert closed_sets.BAND.read(referral) == "referral"
    assert referral.disclosure.records_team_contact.startswith("Kirklees records team")
    assert (
        referral.disclosure.forename,
        referral.disclosure.record_id,
        referral.disclosure.date_of_birth,
    ) == ("", "", "")


# ---- what the published heads give away (issue #13)


def published_sizes(auditor: federation_pb2_grpc.DirectoryStub) -> dict[str, int]:
    heads = auditor.GetTreeHeads(federation_pb2.TreeHeadsRequest(), timeout=5).heads
    return {h.log_id: h.tree_size for h in heads if h.log_id != "directory"}


def test_head_sizes_after_a_search_are_the_same_for_holders_and_non_holders(federation: Federation) -> None:
    auditor = federation.directory_as("auditor")
    federation.run_upkeep()  # the practitioner's account was added since: publish that first
    before = published_sizes(auditor)
    client = federation.client(federation.councils[WAKEFIELD], "sw@wakefield")
    response = client.search(ZOE_SEARCH, "safeguarding")
    assert {r.council_code for r in response.results} == {LEEDS, BRADFORD}  # two holders disclosed
    federation.run_upkeep()
    after = published_sizes(auditor)
    grown = {code: after[code] - before[code] for code in after}
    # Holders (Leeds, Bradford) and the non-holder (Kirklees) each logged one entry; the origin
    # (Wakefield, which also received its own query and held nothing) one more, for the search it sent.
    assert grown == {LEEDS: 1, BRADFORD: 1, KIRKLEES: 1, WAKEFIELD: 2}


def test_a_council_cannot_read_another_councils_head(federation: Federation) -> None:
    kirklees = federation.directory_as(KIRKLEES)
    heads = kirklees.GetTreeHeads(federation_pb2.TreeHeadsRequest(), timeout=5).heads
    assert sorted(h.log_id for h in heads) == sorted([KIRKLEES, "directory"])


def test_an_idle_log_publishes_nothing_new(federation: Federation) -> None:
    auditor = federation.directory_as("auditor")
    federation.run_upkeep()
    heads = auditor.GetTreeHeads(federation_pb2.TreeHeadsRequest(), timeout=5).heads
    federation.run_upkeep()
    again = auditor.GetTreeHeads(federation_pb2.TreeHeadsRequest(), timeout=5).heads
    councils = {h.log_id: (h.tree_size, h.timestamp_ms) for h in heads if h.log_id != "directory"}
    assert {h.log_id: (h.tree_size, h.timestamp_ms) for h in again if h.log_id != "directory"} == councils
