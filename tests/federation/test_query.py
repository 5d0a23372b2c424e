"""A federated query end to end without servers: the origin builds, signs and seals it; each recipient opens
and checks it; only a council holding the child's tokens can read the searched demographics; every refusal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from whoelse.federation import closed_sets, oprf
from whoelse.federation.errors import InvalidInput, NotFound, Refused
from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import MAX_KEYS, match_keys
from whoelse.federation.purposes import Purpose
from whoelse.federation.query import (
    FRESHNESS_MS,
    MAX_SEALED_QUERY_BYTES,
    MAX_TAGS,
    QUERY_BUCKETS,
    OriginKeys,
    VerifiedQuery,
    build_query,
    delivery_associated_data,
    open_delivery,
    seal_deliveries,
    sign_query,
)
from whoelse.federation.replay import ReplayCache
from whoelse.federation.sealing import OVERHEAD as SEAL_OVERHEAD
from whoelse.federation.sealing import SealingKey, pad, seal
from whoelse.federation.signing import SigningKey
from whoelse.federation.tokens import TokenMaterial, tokenise
from whoelse.v1 import closed_sets_pb2 as cs
from whoelse.v1 import federation_pb2, records_pb2

NOW = 1_750_000_000_000
OPRF_KEY = oprf.OprfServerKey.from_bytes((4242).to_bytes(32, "little"))


@dataclass
class Council:
    code: str
    signing: SigningKey
    sealing: SealingKey


LEEDS, WESTMINSTER, HARTLEPOOL, KENT = (
    Council(code, SigningKey.generate(), SealingKey.generate())
    for code in ("E08000035", "E09000033", "E06000001", "E10000016")
)
ACTIVE = {
    c.code: OriginKeys(c.signing.verify_key_bytes, True, "active") for c in (LEEDS, WESTMINSTER, HARTLEPOOL)
}

ZOE = Identity(
    forename="Zoë",
    surname="O'Neill",
    date_of_birth=dt.date(2015, 3, 7),
    sex="F",
    postcode="LS6 2AB",
    nhs_number="943 476 5919",
)
OTHER_CHILD = Identity(
    forename="Mohammed", surname="Rahman", date_of_birth=dt.date(2012, 11, 23), sex="M", postcode="TS24 7AA"
)
ZOE_PB = records_pb2.SearchIdentity(
    forename="Zoë",
    surname="O'Neill",
    date_of_birth="2015-03-07",
    **closed_sets.SEX.fields("F"),
    postcode="LS6 2AB",
    nhs_number="9434765919",
)


def _tokens(identity: Identity) -> list[TokenMaterial]:
    keys = sorted(match_keys(identity), key=lambda k: k.encode())
    return tokenise(keys, OPRF_KEY.evaluate_batch_with_proof, OPRF_KEY.public_key, OPRF_KEY.key_id)


ZOE_TOKENS = _tokens(ZOE)
N = len(ZOE_TOKENS)


ANSWER_KEY = SealingKey.generate()


def _query(**overrides: object) -> federation_pb2.Query:
    fields: dict[str, object] = {
        "origin": LEEDS.code,
        "practitioner": "spatel",
        "practitioner_name": "Sam Patel",
        "practitioner_role": "Social worker",
        "purpose": Purpose.SAFEGUARDING,
        "identity": ZOE_PB,
        "tokens": ZOE_TOKENS,
        "key_id": OPRF_KEY.key_id,
        "now_ms": NOW,
        "answer_key": ANSWER_KEY.public_key_bytes,
    }
    fields.update(overrides)
    return build_query(**fields)  # type: ignore[arg-type]


def _deliver(
    query: federation_pb2.Query, to: Council = WESTMINSTER, signer: Council = LEEDS
) -> federation_pb2.Delivery:
    (delivery,) = seal_deliveries(sign_query(query, signer.signing), [(to.code, to.sealing.public_key_bytes)])
    return delivery


def _open(
    delivery: federation_pb2.Delivery,
    at: Council = WESTMINSTER,
    *,
    lookup: Callable[[str], OriginKeys | None] = ACTIVE.get,
    replay: ReplayCache | None = None,
    now_ms: int = NOW,
) -> VerifiedQuery:
    return open_delivery(
        delivery,
        at.code,
        at.sealing,
        lookup_origin=lookup,
        replay=replay if replay is not None else ReplayCache(),
        now_ms=now_ms,
    )


# ---- the happy path --------------------------------------------------------------------------------------


def test_a_delivery_is_the_same_size_whoever_searched_and_however_many_keys() -> None:
    # What the directory sees of a query is its size: it must not tell practitioners apart, nor a full
    # identity (NHS number, postcode: many keys) from a partial one ("Baby Smith", a year of birth).
    baby = Identity(forename="", surname="Smith", date_of_birth=dt.date(2026, 1, 1), sex="M", postcode="")
    few, many = _tokens(baby), ZOE_TOKENS
    assert len(few) < len(many) == len(match_keys(ZOE))
    longest = "x" * 200
    queries = [
        _query(),
        _query(practitioner="a", practitioner_name="Al", practitioner_role="GP"),
        _query(practitioner=longest, practitioner_name="é" * 200, practitioner_role=longest),
        _query(tokens=few, identity=records_pb2.SearchIdentity(surname="Smith", date_of_birth="2026-01-01")),
        _query(tokens=ZOE_TOKENS[:1]),
        # As many keys as an identity can yield (a search uses the current key id only), longest names.
        _query(
            tokens=[replace(ZOE_TOKENS[0], tag=bytes([n]) * 16) for n in range(MAX_KEYS)],
            practitioner=longest,
            practitioner_name="é" * 200,
            practitioner_role=longest,
        ),
    ]
    sizes = {len(_deliver(q).sealed) for q in queries}
    assert sizes == {QUERY_BUCKETS[0] + SEAL_OVERHEAD}
    assert _open(_deliver(queries[2])).practitioner == longest  # the padding comes off at the recipient


def test_a_holding_council_reads_the_demographics_and_a_non_holder_learns_nothing() -> None:
    query = _query()
    recipients = [(c.code, c.sealing.public_key_bytes) for c in (LEEDS, WESTMINSTER, HARTLEPOOL)]
    deliveries = seal_deliveries(sign_query(query, LEEDS.signing), recipients)
    assert [d.recipient for d in deliveries] == [LEEDS.code, WESTMINSTER.code, HARTLEPOOL.code]
    assert all(d.query_id == query.query_id and d.origin == LEEDS.code for d in deliveries)
    # The directory sees only ciphertext.
    assert all(b"Neill" not in d.sealed and b"2015-03-07" not in d.sealed for d in deliveries)

    # Westminster holds Zoë: it tokenised her record with the same OPRF key at import.
    held = {m.tag: m.demographics_key for m in _tokens(ZOE)}
    verified = _open(deliveries[1], WESTMINSTER)
    assert (verified.origin, verified.practitioner, verified.purpose) == (
        LEEDS.code,
        "spatel",
        Purpose.SAFEGUARDING,
    )
    indexes = verified.indexes_of(held)
    assert len(indexes) == len(ZOE_TOKENS)  # every key matches: same identity
    for index in indexes:
        assert verified.demographics_for(index, held[verified.lookup_tags[index]]) == ZOE_PB

    # Hartlepool holds another child only: no tag in common, and none of its keys opens anything.
    other = {m.tag: m.demographics_key for m in _tokens(OTHER_CHILD)}
    verified = _open(deliveries[2], HARTLEPOOL)
    assert verified.indexes_of(other) == []
    for dk in other.values():
        for index in range(len(verified.lookup_tags)):
            with pytest.raises(Refused, match="cannot be opened"):
                verified.demographics_for(index, dk)

    # The origin searches itself the same way.
    assert _open(deliveries[0], LEEDS).query_id == query.query_id


def test_a_record_sharing_only_some_keys_opens_only_those_entries() -> None:
    moved = Identity(
        forename="Zoe", surname="ONeill", date_of_birth=dt.date(2015, 3, 7), sex="F", postcode="M1 1AE"
    )
    held = {m.tag: m.demographics_key for m in _tokens(moved)}
    verified = _open(_deliver(_query()))
    indexes = verified.indexes_of(held)
    assert 0 < len(indexes) < len(ZOE_TOKENS)
    for index in indexes:
        assert verified.demographics_for(index, held[verified.lookup_tags[index]]).surname == "O'Neill"


def test_each_query_is_new_and_its_tags_are_shuffled() -> None:
    queries = [_query() for _ in range(4)]
    assert len({q.query_id for q in queries}) == 4 and len({q.nonce for q in queries}) == 4
    assert all(len(q.nonce) == 16 and len(q.query_id) == 32 for q in queries)
    orders = {tuple(q.lookup_tags) for q in queries}
    assert len(orders) > 1  # n! orders for n ≥ 8 tags: four equal ones would be a bug, not bad luck
    assert all(sorted(q.lookup_tags) == sorted(m.tag for m in ZOE_TOKENS) for q in queries)


def test_a_notification_carries_an_event_only_holders_can_read() -> None:
    event = federation_pb2.AlertEvent(
        event_type="new_involvement",
        occurred_on="2025-06-01",
        council_code=LEEDS.code,
        council_name="Leeds",
        summary="A school nurse at Leeds became involved",
        contact="0113 496 0000",
    )
    query = _query(kind="notification", purpose=Purpose.NOTIFICATION, event=event)
    verified = _open(_deliver(query))
    assert verified.kind == "notification" and verified.purpose is Purpose.NOTIFICATION
    held = {m.tag: m.demographics_key for m in ZOE_TOKENS}
    index = verified.indexes_of(held)[0]
    assert verified.event_for(index, held[verified.lookup_tags[index]]) == event
    with pytest.raises(Refused):
        verified.event_for(index, _tokens(OTHER_CHILD)[0].demographics_key)


def test_a_search_has_no_event_and_indexes_are_checked() -> None:
    verified = _open(_deliver(_query()))
    with pytest.raises(InvalidInput, match="carries no event"):
        verified.event_for(0, ZOE_TOKENS[0].demographics_key)
    with pytest.raises(InvalidInput, match="outside the query"):
        verified.demographics_for(len(ZOE_TOKENS), ZOE_TOKENS[0].demographics_key)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "notification"}, "purpose"),
        ({"purpose": Purpose.NOTIFICATION}, "purpose"),
        ({"event": federation_pb2.AlertEvent()}, "event"),
        ({"kind": "gossip"}, "kind"),
        ({"tokens": []}, "lookup_tags"),
        ({"tokens": ZOE_TOKENS * 8}, "lookup_tags"),
        ({"practitioner": ""}, "practitioner: a query must name"),
        ({"practitioner_role": "r" * 201}, "practitioner_role: 201 characters"),
        ({"identity": records_pb2.SearchIdentity(forename="x" * 5000)}, "too large to seal"),
    ],
    ids=[
        "notification-kind-search-purpose",
        "notification-purpose-search-kind",
        "event-on-search",
        "bad-kind",
        "no-tokens",
        "too-many-tokens",
        "no-practitioner",
        "long-role",
        "huge-identity",
    ],
)
def test_build_query_refuses_inconsistent_input(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _query(**overrides)


# ---- refusals, in the order a recipient checks ----------------------------------------------------------


class _NoCrypto(SealingKey):
    def open(self, sealed: bytes, associated_data: bytes = b"") -> bytes:
        raise AssertionError("the recipient check must come before any crypto")


def test_a_delivery_for_another_council_is_refused_before_any_crypto() -> None:
    delivery = _deliver(_query(), to=HARTLEPOOL)

    def no_lookup(code: str) -> OriginKeys | None:
        raise AssertionError("no key lookup for a delivery that is not ours")

    with pytest.raises(Refused, match="not addressed to this council"):
        open_delivery(
            delivery,
            WESTMINSTER.code,
            _NoCrypto.generate(),
            lookup_origin=no_lookup,
            replay=ReplayCache(),
            now_ms=NOW,
        )


def test_a_delivery_readdressed_to_us_cannot_be_opened() -> None:
    delivery = _deliver(_query(), to=HARTLEPOOL)
    delivery.recipient = WESTMINSTER.code
    with pytest.raises(Refused, match="cannot open: not sealed to this council"):
        _open(delivery)


def test_a_delivery_moved_to_another_query_id_cannot_be_opened() -> None:
    delivery = _deliver(_query())
    delivery.query_id = "f" * 32
    with pytest.raises(Refused, match="cannot open"):
        _open(delivery)


def test_a_delivery_claiming_another_origin_is_refused() -> None:
    delivery = _deliver(_query())
    delivery.origin = HARTLEPOOL.code
    with pytest.raises(Refused, match="is not the delivery's"):
        _open(delivery)


def _sealed_payload(payload: bytes, query_id: str = "a" * 32, padded: bool = True) -> federation_pb2.Delivery:
    return federation_pb2.Delivery(
        query_id=query_id,
        origin=LEEDS.code,
        recipient=WESTMINSTER.code,
        sealed=seal(
            WESTMINSTER.sealing.public_key_bytes,
            pad(payload, QUERY_BUCKETS[0]) if padded else payload,
            delivery_associated_data(query_id, WESTMINSTER.code),
        ),
    )


def test_malformed_bytes_inside_a_valid_seal_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="malformed signed query"):
        _open(_sealed_payload(b"\xff\xff\xff\xff"))
    inner = federation_pb2.SignedQuery(query=b"\x0a\x05ab", signature=bytes(64)).SerializeToString()
    with pytest.raises(InvalidInput, match="malformed query"):
        _open(_sealed_payload(inner))
    with pytest.raises(InvalidInput, match="bytes opened, not one of the padded sizes"):
        _open(_sealed_payload(inner, padded=False))


def test_an_oversized_delivery_is_refused_before_opening() -> None:
    delivery = _deliver(_query())
    delivery.sealed = bytes(MAX_SEALED_QUERY_BYTES + 1)
    with pytest.raises(InvalidInput, match=r"sealed: \d+ bytes; at most"):
        _open(delivery)


def test_an_unknown_origin_is_refused() -> None:
    with pytest.raises(Refused, match=f"unknown council {KENT.code}"):
        _open(_deliver(_query(origin=KENT.code), signer=KENT))

    def raises_not_found(code: str) -> OriginKeys | None:
        raise NotFound(code)

    with pytest.raises(Refused, match=f"unknown council {LEEDS.code}"):
        _open(_deliver(_query()), lookup=raises_not_found)


@pytest.mark.parametrize("status", ["revoked", "suspended"])
def test_an_inactive_origin_is_refused(status: str) -> None:
    lookup = {LEEDS.code: OriginKeys(LEEDS.signing.verify_key_bytes, False, status)}
    with pytest.raises(Refused, match=f"council {LEEDS.code} is {status}"):
        _open(_deliver(_query()), lookup=lookup.get)


def test_a_tampered_signature_is_refused_and_not_remembered() -> None:
    signed = sign_query(_query(), LEEDS.signing)
    signed.signature = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
    (delivery,) = seal_deliveries(signed, [(WESTMINSTER.code, WESTMINSTER.sealing.public_key_bytes)])
    replay = ReplayCache()
    with pytest.raises(Refused, match=f"bad signature from {LEEDS.code}"):
        _open(delivery, replay=replay)
    assert replay.size == 0


def test_a_query_re_signed_by_another_council_is_refused() -> None:
    """Hartlepool cannot pass off a query as Leeds', even with a valid signature of its own."""
    with pytest.raises(Refused, match=f"bad signature from {LEEDS.code}"):
        _open(_deliver(_query(), signer=HARTLEPOOL))


def test_an_altered_query_no_longer_verifies() -> None:
    signed = sign_query(_query(), LEEDS.signing)
    query = federation_pb2.Query.FromString(signed.query)
    closed_sets.PURPOSE.set(query, Purpose.CHILD_IN_NEED.value)
    signed.query = query.SerializeToString()
    (delivery,) = seal_deliveries(signed, [(WESTMINSTER.code, WESTMINSTER.sealing.public_key_bytes)])
    with pytest.raises(Refused, match="bad signature"):
        _open(delivery)


def test_freshness_window_is_120_seconds_either_way() -> None:
    assert _open(_deliver(_query()), now_ms=NOW + FRESHNESS_MS).query_id
    assert _open(_deliver(_query()), now_ms=NOW - FRESHNESS_MS).query_id
    with pytest.raises(Refused, match="stale query: issued 121 s ago"):
        _open(_deliver(_query()), now_ms=NOW + 121_000)
    with pytest.raises(Refused, match="from the future"):
        _open(_deliver(_query()), now_ms=NOW - 121_000)


def test_a_replayed_delivery_is_refused() -> None:
    delivery = _deliver(_query())
    replay = ReplayCache()
    _open(delivery, replay=replay)
    with pytest.raises(Refused, match="replayed query"):
        _open(delivery, replay=replay, now_ms=NOW + 5_000)


def test_the_same_query_sealed_again_is_still_a_replay() -> None:
    """Re-sealing changes every ciphertext byte; the signed query inside is what the cache recognises."""
    signed = sign_query(_query(), LEEDS.signing)
    replay = ReplayCache()
    for attempt in range(2):
        (delivery,) = seal_deliveries(signed, [(WESTMINSTER.code, WESTMINSTER.sealing.public_key_bytes)])
        if attempt == 0:
            _open(delivery, replay=replay)
        else:
            with pytest.raises(Refused, match="replayed query"):
                _open(delivery, replay=replay)


def _tampered(**fields: object) -> federation_pb2.Delivery:
    """A query with some fields forced past the limits, validly signed by Leeds."""
    query = _query()
    for name, value in fields.items():
        if isinstance(value, list):
            del getattr(query, name)[:]
            getattr(query, name).extend(value)
        else:
            setattr(query, name, value)
    return _deliver(query)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"lookup_tags": [bytes(16)] * (MAX_TAGS + 1), "sealed_demographics": [b"x"] * (MAX_TAGS + 1)},
            "lookup_tags: 65 tags",
        ),
        ({"lookup_tags": []}, "lookup_tags: 0 tags"),
        ({"lookup_tags": [bytes(15)] * N}, r"lookup_tags\[0\]: 15 bytes"),
        ({"sealed_demographics": [b"x"]}, f"sealed_demographics: 1 entries for {N}"),
        (
            {"lookup_tags": [bytes(16)] * 4, "sealed_demographics": [bytes(5000)] * 4},
            r"sealed_demographics\[0\]: 5000 bytes",
        ),
        ({"sealed_event": [b"x"] * N}, "sealed_event: a search carries no event"),
        # The purpose as a council still on 0.1 writes it (the string alone), and as the enum.
        ({"purpose": 0, "legacy_purpose": "curiosity"}, "not a lawful purpose"),
        ({"purpose": 0, "legacy_purpose": " Safeguarding"}, "not written as a lawful purpose"),
        ({"purpose": 99, "legacy_purpose": ""}, "purpose: 99 is not a value this release knows"),
        ({"legacy_purpose": "health"}, "purpose: the enum says 'safeguarding' and the 0.1 string 'health'"),
        (
            {"purpose": cs.PURPOSE_NOTIFICATION, "legacy_purpose": "notification"},
            "does not fit a query of kind 'search'",
        ),
        ({"kind": "gossip"}, "kind: must be"),
        (
            {"kind": "notification", "purpose": cs.PURPOSE_NOTIFICATION, "legacy_purpose": ""},
            "sealed_event: 0 entries",
        ),
        ({"nonce": bytes(8)}, "nonce: must be 16 bytes"),
        ({"answer_key": b""}, "answer_key: must be a 32-byte X25519 key, got 0"),
        ({"query_id": "not-hex"}, "query_id: must be 32 lowercase hex"),
        ({"practitioner": ""}, "practitioner: a query must name"),
        ({"practitioner_name": "x" * 201}, "practitioner_name: 201 characters"),
        ({"oprf_key_id": ""}, "oprf_key_id"),
    ],
    ids=lambda v: "" if isinstance(v, str) else "-".join(v),
)
def test_a_signed_query_out_of_limits_is_invalid_input_naming_the_field(
    fields: dict[str, object], message: str
) -> None:
    delivery = _tampered(**fields)
    # The delivery envelope follows the (tampered) query id, as the origin's seal_deliveries makes it.
    with pytest.raises(InvalidInput, match=message):
        _open(delivery)
