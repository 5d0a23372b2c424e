"""A federated query from both ends: the origin builds, signs and seals it once per recipient; a recipient
opens, authenticates and validates it before looking anything up (docs/architecture.md "One search"; P3, P5).

SPEC — what is signed and sealed:
- The origin serialises a `Query` and signs it with its Ed25519 council key (federation/signing.py) over
  canonical_json({"query": <the serialised Query bytes>}) under context "whoelse/v1/query". The signature
  therefore covers the exact bytes the recipient parses; `SignedQuery` = {query: those bytes, signature}.
- The serialised `SignedQuery` is padded (federation/sealing.py pad: 4-byte length prefix, zeros) to the
  smallest of QUERY_BUCKETS that holds it, then sealed (HPKE, federation/sealing.py) to each recipient's
  X25519 key with associated data canonical_json({"seal": "delivery", "query_id", "recipient"}), one
  `Delivery` each. The first bucket holds any search of up to MAX_KEYS match keys with ordinary names
  (each sealed identity in its smallest bucket) and practitioner name, role and username at their limits,
  so a delivery's size MUST NOT depend on who searched or on how many keys the identity yielded; only
  rare queries (names near the import limits, a notification carrying its event) reach a larger one.

A recipient MUST check, in this order (each failure is a domain error; nothing is looked up or logged as a
disclosure before all pass): addressed to this council (before any crypto); the sealed blob opens; it parses;
the inner origin and query id equal the delivery's; the origin is a known, active council; the signature
verifies with that council's key; the issue time is within ±120 s; the query id is new (federation/replay.py);
the fields are within limits (≤ 64 tags of 16 bytes, one sealed entry per tag, a lawful purpose consistent
with the kind).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from whoelse.federation import closed_sets, signing
from whoelse.federation.canonical import canonical_json
from whoelse.federation.errors import InvalidInput, NotFound, Refused
from whoelse.federation.purposes import Purpose, parse_purpose
from whoelse.federation.replay import ReplayCache
from whoelse.federation.sealing import KEY_BYTES, LENGTH_PREFIX_BYTES, SealingKey, pad, seal, unpad
from whoelse.federation.sealing import OVERHEAD as SEAL_OVERHEAD
from whoelse.federation.token_keys import (
    MAX_SEALED_BYTES,
    TAG_BYTES,
    open_event,
    open_identity,
    seal_event,
    seal_identity,
)
from whoelse.federation.tokens import TokenMaterial
from whoelse.v1 import federation_pb2, records_pb2

QUERY_CONTEXT = "whoelse/v1/query"
KIND_SEARCH = "search"
KIND_NOTIFICATION = "notification"
KINDS = frozenset({KIND_SEARCH, KIND_NOTIFICATION})

FRESHNESS_MS = 120_000
"""A query is accepted only if issued within ±120 s of the recipient's clock."""
MAX_TAGS = 64
"""At most 64 lookup tags per query (an identity yields at most 16 match keys; room for several key ids)."""
NONCE_BYTES = 16
MAX_TEXT_CHARS = 200
"""Longest practitioner, name, role or key id a query may carry."""
QUERY_BUCKETS = (16 << 10, 32 << 10, (64 << 10) - SEAL_OVERHEAD)
"""Padded sizes of a serialised SignedQuery before sealing (see the module docstring). A search or a
notification of up to MAX_KEYS keys fits the first; the last, sealed, is the directory's limit for one
delivery (directory/router.py MAX_DELIVERY_BYTES)."""
MAX_SEALED_QUERY_BYTES = QUERY_BUCKETS[-1] + SEAL_OVERHEAD
"""A sealed delivery larger than this is refused before any crypto."""

_QUERY_ID = re.compile(r"[0-9a-f]{32}")
_M = TypeVar("_M", bound=Message)


@dataclass(frozen=True, slots=True)
class OriginKeys:
    """What a recipient needs to know about a peer council (a query's origin or an answer's responder): its
    Ed25519 verify key, its status in the directory's council list and its X25519 sealing key (needed to
    open an answer from it)."""

    signing_key: bytes
    active: bool
    status: str
    sealing_key: bytes = b""


CouncilLookup = Callable[[str], OriginKeys | None]
"""Council code → its keys and status, or None (or NotFound) when the council list does not know it."""


def resolve_council(lookup: CouncilLookup, code: str) -> OriginKeys:
    """The keys of an active council; Refused naming the council if it is unknown, suspended or revoked."""
    try:
        keys = lookup(code)
    except NotFound:
        keys = None
    if keys is None:
        raise Refused(f"unknown council {code}")
    if not keys.active:
        raise Refused(f"council {code} is {keys.status or 'not active'}")
    return keys


def delivery_associated_data(query_id: str, recipient: str) -> bytes:
    """HPKE associated data binding a sealed query to its id and its recipient council."""
    return canonical_json({"seal": "delivery", "query_id": query_id, "recipient": recipient})


# ---- origin side ---------------------------------------------------------------------------------------


def build_query(
    *,
    origin: str,
    practitioner: str,
    practitioner_name: str,
    practitioner_role: str,
    purpose: Purpose,
    identity: records_pb2.SearchIdentity,
    tokens: Sequence[TokenMaterial],
    key_id: str,
    kind: str = KIND_SEARCH,
    event: federation_pb2.AlertEvent | None = None,
    now_ms: int,
    answer_key: bytes,
) -> federation_pb2.Query:
    """A new query (fresh uuid4-hex id and 16-byte nonce) carrying one lookup tag per token, the identity
    sealed under each token's demographics key and, for a notification, the event sealed likewise; answers
    will be sealed to `answer_key`, the public half of a key the origin made for this query alone.

    The (tag, sealed) pairs are shuffled so their order says nothing about which match key each came from.
    Raises InvalidInput if the kind, purpose and event disagree, there are no tokens or too many, or any
    field breaks a limit a recipient would refuse (naming the field).
    """
    if kind not in KINDS:
        raise InvalidInput(f"kind: must be 'search' or 'notification', not {kind[:20]!r}")
    if (kind == KIND_NOTIFICATION) != (purpose is Purpose.NOTIFICATION):
        raise InvalidInput("purpose: 'notification' is the purpose of a notification and of nothing else")
    if (event is not None) != (kind == KIND_NOTIFICATION):
        raise InvalidInput("event: a notification carries an event and a search does not")
    if not 1 <= len(tokens) <= MAX_TAGS:
        raise InvalidInput(f"lookup_tags: a query carries 1-{MAX_TAGS} tags, got {len(tokens)}")
    query_id = uuid.uuid4().hex
    shuffled = list(tokens)
    secrets.SystemRandom().shuffle(shuffled)
    query = federation_pb2.Query(
        query_id=query_id,
        origin=origin,
        practitioner=practitioner,
        practitioner_name=practitioner_name,
        practitioner_role=practitioner_role,
        **closed_sets.PURPOSE.fields(purpose.value),
        issued_at_ms=now_ms,
        nonce=secrets.token_bytes(NONCE_BYTES),
        oprf_key_id=key_id,
        kind=kind,
        answer_key=answer_key,
        lookup_tags=[token.tag for token in shuffled],
        sealed_demographics=[
            seal_identity(token.demographics_key, identity, query_id, index)
            for index, token in enumerate(shuffled)
        ],
    )
    if event is not None:
        query.sealed_event.extend(
            seal_event(token.demographics_key, event, query_id, index) for index, token in enumerate(shuffled)
        )
    _validate(query)  # the same limits every recipient applies: fail here, not at 153 councils
    return query


def sign_query(query: federation_pb2.Query, signing_key: signing.SigningKey) -> federation_pb2.SignedQuery:
    """Sign the serialised query under context "whoelse/v1/query" (see the module docstring for the bytes)."""
    serialised = query.SerializeToString()
    return federation_pb2.SignedQuery(
        query=serialised, signature=signing_key.sign({"query": serialised}, QUERY_CONTEXT)
    )


def seal_deliveries(
    signed: federation_pb2.SignedQuery, recipients: Sequence[tuple[str, bytes]]
) -> list[federation_pb2.Delivery]:
    """One Delivery per (council code, X25519 sealing public key), each readable only by that council."""
    query = _parse(federation_pb2.Query(), signed.query, "query")
    payload = signed.SerializeToString()
    payload = pad(payload, query_bucket(len(payload)))
    return [
        federation_pb2.Delivery(
            query_id=query.query_id,
            origin=query.origin,
            recipient=code,
            sealed=seal(public_key, payload, delivery_associated_data(query.query_id, code)),
        )
        for code, public_key in recipients
    ]


def query_bucket(length: int) -> int:
    """The padded size for a serialised SignedQuery of `length` bytes: the smallest bucket it fits."""
    for size in QUERY_BUCKETS:
        if length + LENGTH_PREFIX_BYTES <= size:
            return size
    raise InvalidInput(f"query: {length} bytes signed; at most {QUERY_BUCKETS[-1] - LENGTH_PREFIX_BYTES}")


# ---- recipient side ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifiedQuery:
    """A query that passed every check in open_delivery(): authentic, fresh, new and within limits."""

    query: federation_pb2.Query
    signed: federation_pb2.SignedQuery
    """The signed bytes as received, for the recipient's audit log (evidence of who asked)."""

    @property
    def query_id(self) -> str:
        return self.query.query_id

    @property
    def origin(self) -> str:
        return self.query.origin

    @property
    def practitioner(self) -> str:
        return self.query.practitioner

    @property
    def answer_key(self) -> bytes:
        """The origin's key for this query's answers (X25519 public, 32 bytes)."""
        return self.query.answer_key

    @property
    def practitioner_name(self) -> str:
        return self.query.practitioner_name

    @property
    def practitioner_role(self) -> str:
        return self.query.practitioner_role

    @property
    def purpose(self) -> Purpose:
        return parse_purpose(closed_sets.PURPOSE.read(self.query), allow_notification=True)

    @property
    def issued_at_ms(self) -> int:
        return self.query.issued_at_ms

    @property
    def nonce(self) -> bytes:
        return self.query.nonce

    @property
    def oprf_key_id(self) -> str:
        return self.query.oprf_key_id

    @property
    def kind(self) -> str:
        return self.query.kind

    @property
    def lookup_tags(self) -> tuple[bytes, ...]:
        return tuple(self.query.lookup_tags)

    def indexes_of(self, held_tags: Collection[bytes]) -> list[int]:
        """Positions of the query's tags that this council holds (those it may try to open)."""
        return [index for index, tag in enumerate(self.query.lookup_tags) if tag in held_tags]

    def demographics_for(self, index: int, dk: bytes) -> records_pb2.SearchIdentity:
        """The searched identity at `index`, opened with the holder's demographics key for that tag.
        Refused if dk is not the key behind lookup_tags[index] (a council that does not hold the token)."""
        return open_identity(dk, self.query.sealed_demographics[self._index(index)], self.query_id, index)

    def event_for(self, index: int, dk: bytes) -> federation_pb2.AlertEvent:
        """A notification's event at `index`, opened like demographics_for()."""
        if self.kind != KIND_NOTIFICATION:
            raise InvalidInput("sealed_event: a search carries no event")
        return open_event(dk, self.query.sealed_event[self._index(index)], self.query_id, index)

    def _index(self, index: int) -> int:
        if not 0 <= index < len(self.query.lookup_tags):
            raise InvalidInput(f"index {index} is outside the query's {len(self.query.lookup_tags)} tags")
        return index


def open_delivery(
    delivery: federation_pb2.Delivery,
    my_code: str,
    my_sealing_key: SealingKey,
    *,
    lookup_origin: CouncilLookup,
    replay: ReplayCache,
    now_ms: int,
) -> VerifiedQuery:
    """Open and verify a delivery addressed to this council (checks in the order the module docstring gives).

    Raises Refused (wrong recipient, cannot open, origin mismatch, unknown/inactive origin, bad signature,
    stale, from the future, replayed) or InvalidInput (malformed, oversized, out of limits; names the field).
    """
    if delivery.recipient != my_code:
        raise Refused(f"not addressed to this council: the delivery is for {delivery.recipient[:20]!r}")
    sealed = delivery.sealed  # read once: each read of a bytes field copies it
    if len(sealed) > MAX_SEALED_QUERY_BYTES:
        raise InvalidInput(f"sealed: {len(sealed)} bytes; at most {MAX_SEALED_QUERY_BYTES}")
    try:
        payload = my_sealing_key.open(sealed, delivery_associated_data(delivery.query_id, my_code))
    except Refused as exc:
        raise Refused("cannot open: not sealed to this council") from exc
    if len(payload) not in QUERY_BUCKETS:
        raise InvalidInput(f"sealed: {len(payload)} bytes opened, not one of the padded sizes")
    signed = _parse(federation_pb2.SignedQuery(), unpad(payload), "signed query")
    query = _parse(federation_pb2.Query(), signed.query, "query")
    if query.origin != delivery.origin:
        raise Refused(f"query origin {query.origin[:20]!r} is not the delivery's {delivery.origin[:20]!r}")
    if query.query_id != delivery.query_id:
        raise Refused("query id differs from the delivery's")
    origin = resolve_council(lookup_origin, query.origin)
    try:
        signing.verify(origin.signing_key, {"query": signed.query}, QUERY_CONTEXT, signed.signature)
    except Refused as exc:
        raise Refused(f"bad signature from {query.origin}") from exc
    age_ms = now_ms - query.issued_at_ms
    if age_ms > FRESHNESS_MS:
        raise Refused(f"stale query: issued {age_ms // 1000} s ago (at most {FRESHNESS_MS // 1000} s)")
    if -age_ms > FRESHNESS_MS:
        raise Refused(f"query from the future: issued {-age_ms // 1000} s ahead of this council's clock")
    replay.check_and_remember(query.query_id, query.nonce, query.issued_at_ms, now_ms)
    _validate(query)
    return VerifiedQuery(query=query, signed=signed)


def _parse(message: _M, data: bytes, what: str) -> _M:
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidInput(f"malformed {what}: not a valid protobuf message") from exc
    return message


def _validate(query: federation_pb2.Query) -> None:
    """Limits a verified query must meet; InvalidInput names the first field that breaks one."""
    if not _QUERY_ID.fullmatch(query.query_id):
        raise InvalidInput("query_id: must be 32 lowercase hex digits")
    if len(query.nonce) != NONCE_BYTES:
        raise InvalidInput(f"nonce: must be {NONCE_BYTES} bytes, got {len(query.nonce)}")
    if len(query.answer_key) != KEY_BYTES:
        raise InvalidInput(f"answer_key: must be a {KEY_BYTES}-byte X25519 key, got {len(query.answer_key)}")
    if not query.practitioner:
        raise InvalidInput("practitioner: a query must name the practitioner")
    for field in ("practitioner", "practitioner_name", "practitioner_role", "oprf_key_id"):
        value: str = getattr(query, field)
        if len(value) > MAX_TEXT_CHARS:
            raise InvalidInput(f"{field}: {len(value)} characters; at most {MAX_TEXT_CHARS}")
    if not query.oprf_key_id:
        raise InvalidInput("oprf_key_id: must name the OPRF key the tags were made with")
    tags = query.lookup_tags
    if not 1 <= len(tags) <= MAX_TAGS:
        raise InvalidInput(f"lookup_tags: {len(tags)} tags; a query carries 1-{MAX_TAGS}")
    for index, tag in enumerate(tags):
        if len(tag) != TAG_BYTES:
            raise InvalidInput(f"lookup_tags[{index}]: {len(tag)} bytes, not {TAG_BYTES}")
    written = closed_sets.PURPOSE.read(query)
    purpose = parse_purpose(written, allow_notification=True)
    if purpose.value != written:  # parse_purpose forgives case and spaces; a signed query need not
        raise InvalidInput(f"purpose: {written[:40]!r} is not written as a lawful purpose")
    if query.kind not in KINDS:
        raise InvalidInput(f"kind: must be 'search' or 'notification', not {query.kind[:20]!r}")
    if (query.kind == KIND_NOTIFICATION) != (purpose is Purpose.NOTIFICATION):
        raise InvalidInput(f"purpose: {purpose.value!r} does not fit a query of kind {query.kind!r}")
    _validate_sealed("sealed_demographics", query.sealed_demographics, len(tags))
    if query.kind == KIND_NOTIFICATION:
        _validate_sealed("sealed_event", query.sealed_event, len(tags))
    elif query.sealed_event:
        raise InvalidInput("sealed_event: a search carries no event")


def _validate_sealed(field: str, entries: Sequence[bytes], expected: int) -> None:
    if len(entries) != expected:
        raise InvalidInput(f"{field}: {len(entries)} entries for {expected} lookup tags")
    for index, entry in enumerate(entries):
        if len(entry) > MAX_SEALED_BYTES:
            raise InvalidInput(f"{field}[{index}]: {len(entry)} bytes; at most {MAX_SEALED_BYTES}")
