"""A recipient's answer to a query: padded to one fixed size and sealed between the responder and the
origin, so the directory cannot tell a council that matched from one that holds nothing (P3, P5); an answer
that carries anything is also signed by the responder, as evidence of what it disclosed.

SPEC (docs/architecture.md "One search", step 5):
- signature: when the answer holds a candidate or a delivered alert, Ed25519 by the responder over
  canonical_json({"answer": <serialised Answer bytes>}), context "whoelse/v1/answer" (federation/signing.py);
  `SignedAnswer` = {answer: those bytes, signature (empty for an empty answer)};
- padding: the serialised SignedAnswer padded to exactly ANSWER_SIZE bytes (federation/sealing.py pad);
- seal: forward sealing (federation/sealing.py seal_forward) from the responder to the answer key the origin
  made for this query (`Query.answer_key`), bound to the responder's and the origin's static X25519 keys
  from the council list, with associated data canonical_json({"seal": "answer", "query_id", "responder"}).
  Only the origin and the responder hold a key that forges it, so even an unsigned empty answer is known at
  the origin to come from the responder; once the origin drops the query's answer key, no static key opens
  it. Every sealed answer is exactly ANSWER_SIZE + sealing.FORWARD_OVERHEAD bytes, whatever it holds.

Why not HPKE to the origin plus a signature on every answer: every council answers every search, and at 153
councils the origin's HPKE opening and signature checks were about an eighth of a search's time
(docs/benchmarks.md). Forward sealing costs the origin one X25519 per answer and the pair's static secret
is computed once per peer.

ANSWER_SIZE is 32 KiB. A disclosure with the usual contents (names, address, school, GP, two carers, a few
involvements and a concern) serialises to about 1 KB, and one with twenty involvements to about 3 KB, so the
MAX_CANDIDATES (10) a council may return fit with room. The cost is bandwidth: every council answers every
search, so one search moves 153 x 32 KiB ≈ 4.9 MiB through the directory, a few milliseconds on a data-centre
network; 64 KiB would double that for answers that almost never need it, 16 KiB would not fit ten full ones.

An answer that would not fit is made to fit rather than refused, by `fit_answer`, in this order: keep the
MAX_CANDIDATES best-scored candidates; cut every text field to MAX_FIELD_CHARS (the import limit, so real
records are untouched); drop the lowest-scored candidates while more than one is left; then trim the longest
list (involvements, carers, concerns) of the one left; finally cut text fields to SHORT_FIELD_CHARS. Whole
candidates go before details because a practitioner acts on the best match's full list of contacts.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError, Message

from whoelse.federation import signing
from whoelse.federation.canonical import canonical_json
from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.query import CouncilLookup, resolve_council
from whoelse.federation.sealing import FORWARD_OVERHEAD, SealingKey, open_forward, pad, seal_forward, unpad
from whoelse.v1 import federation_pb2, records_pb2

ANSWER_CONTEXT = "whoelse/v1/answer"
ANSWER_SIZE = 32 * 1024
"""Every SignedAnswer is padded to exactly this many bytes before sealing (see the module docstring)."""
SEALED_ANSWER_BYTES = ANSWER_SIZE + FORWARD_OVERHEAD
MAX_CANDIDATES = 10
MAX_FIELD_CHARS = 200
SHORT_FIELD_CHARS = 40
ELLIPSIS = "…"

# What pad() and SignedAnswer add around the Answer: pad's 4-byte length prefix; the answer field's tag and
# length (3 varint bytes cover 2 MiB); the signature field's tag, length and 64 bytes.
_ENVELOPE_BYTES = 4 + (1 + 3) + (1 + 1 + signing.SIGNATURE_BYTES)
ANSWER_BUDGET = ANSWER_SIZE - _ENVELOPE_BYTES
"""The largest serialised Answer that fits ANSWER_SIZE once signed and padded."""


def answer_associated_data(query_id: str, responder: str) -> bytes:
    """Associated data binding a sealed answer to its query and its responder council."""
    return canonical_json({"seal": "answer", "query_id": query_id, "responder": responder})


# ---- fitting an answer into ANSWER_SIZE ----------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _clip_strings(message: Message, limit: int) -> None:
    """Cut every string field of a message and its sub-messages to at most `limit` characters, in place."""
    for field, value in message.ListFields():
        if field.type == field.TYPE_STRING and not field.is_repeated:
            setattr(message, field.name, _clip(value, limit))
        elif field.type == field.TYPE_MESSAGE:
            for item in value if field.is_repeated else [value]:
                _clip_strings(item, limit)


def _trim_longest_list(disclosure: records_pb2.Disclosure) -> bool:
    """Remove the last item of the disclosure's longest list; False when there is nothing left to trim."""
    longest = max(("involvements", "carers", "concerns"), key=lambda name: len(getattr(disclosure, name)))
    items: list[Message] = getattr(disclosure, longest)
    if not items:
        return False
    del items[-1]
    return True


def fit_answer(answer: federation_pb2.Answer) -> federation_pb2.Answer:
    """A copy of the answer that fits ANSWER_SIZE once signed, cut as the module docstring describes."""
    fitted = federation_pb2.Answer()
    fitted.CopyFrom(answer)
    ranked = sorted(fitted.candidates, key=lambda c: -c.score)[:MAX_CANDIDATES]
    kept = [records_pb2.Candidate() for _ in ranked]
    for copy, candidate in zip(kept, ranked, strict=True):
        copy.CopyFrom(candidate)
        _clip_strings(copy.disclosure, MAX_FIELD_CHARS)
    del fitted.candidates[:]
    fitted.candidates.extend(kept)
    for field in ("query_id", "responder"):
        if len(getattr(fitted, field)) > MAX_FIELD_CHARS:
            raise InvalidInput(f"{field}: at most {MAX_FIELD_CHARS} characters")
    while fitted.ByteSize() > ANSWER_BUDGET and len(fitted.candidates) > 1:
        del fitted.candidates[-1]
    while fitted.ByteSize() > ANSWER_BUDGET and _trim_longest_list(fitted.candidates[0].disclosure):
        pass
    if fitted.ByteSize() > ANSWER_BUDGET:
        _clip_strings(fitted.candidates[0].disclosure, SHORT_FIELD_CHARS)
    return fitted


# ---- responder side ------------------------------------------------------------------------------------


def carries_anything(answer: federation_pb2.Answer) -> bool:
    """Whether an answer discloses something (a candidate, a referral, a delivered alert): such answers are
    signed."""
    return bool(answer.candidates) or answer.alerts_delivered > 0


def sign_answer(
    answer: federation_pb2.Answer, signing_key: signing.SigningKey
) -> federation_pb2.SignedAnswer:
    """Sign the serialised answer under context "whoelse/v1/answer"."""
    serialised = answer.SerializeToString()
    return federation_pb2.SignedAnswer(
        answer=serialised, signature=signing_key.sign({"answer": serialised}, ANSWER_CONTEXT)
    )


def seal_answer(
    answer: federation_pb2.Answer,
    signing_key: signing.SigningKey,
    my_sealing_key: SealingKey,
    origin_sealing_public_key: bytes,
    answer_key: bytes,
) -> federation_pb2.SealedAnswer:
    """Fit, sign (if it carries anything), pad and seal an answer to the query's answer key, from this
    council to the origin; the result is SEALED_ANSWER_BYTES long whatever it holds. The answer MUST name
    its query_id and responder; InvalidInput if the answer key is not a valid X25519 public key."""
    if not answer.query_id or not answer.responder:
        raise InvalidInput("an answer must name its query_id and responder")
    fitted = fit_answer(answer)
    if carries_anything(fitted):
        signed = sign_answer(fitted, signing_key)
    else:
        signed = federation_pb2.SignedAnswer(answer=fitted.SerializeToString())
    padded = pad(signed.SerializeToString(), ANSWER_SIZE)
    return federation_pb2.SealedAnswer(
        query_id=fitted.query_id,
        responder=fitted.responder,
        sealed=seal_forward(
            my_sealing_key,
            origin_sealing_public_key,
            answer_key,
            padded,
            answer_associated_data(fitted.query_id, fitted.responder),
        ),
    )


# ---- origin side ---------------------------------------------------------------------------------------


def open_answer(
    sealed: federation_pb2.SealedAnswer,
    my_sealing_key: SealingKey,
    answer_key: SealingKey,
    expected_query_id: str,
    lookup_responder: CouncilLookup,
) -> federation_pb2.Answer:
    """Open an answer to our query (sealed to its answer key) from an active council; verify the
    responder's signature when the answer carries anything (or is signed at all).

    Raises Refused (another query, unknown or inactive responder, cannot open — not sealed by the responder
    to this council and this query's answer key —, missing or bad signature, responder or query id inside
    differs from the envelope) or InvalidInput (wrong size, malformed, too many candidates).
    """
    responder = sealed.responder
    if sealed.query_id != expected_query_id:
        raise Refused(f"answer from {responder[:20]!r} is for another query")
    blob = sealed.sealed  # each read of a bytes field copies it: 32 KiB for each of 153 answers
    if len(blob) != SEALED_ANSWER_BYTES:
        raise InvalidInput(f"sealed answer is {len(blob)} bytes, not {SEALED_ANSWER_BYTES}")
    keys = resolve_council(lookup_responder, responder)
    try:
        padded = open_forward(
            my_sealing_key,
            answer_key,
            keys.sealing_key,
            blob,
            answer_associated_data(expected_query_id, responder),
        )
    except (Refused, InvalidInput) as exc:
        raise Refused(
            f"cannot open the answer from {responder[:20]!r}: not sealed by it to this query's answer key"
        ) from exc
    signed = federation_pb2.SignedAnswer()
    answer = federation_pb2.Answer()
    try:
        signed.ParseFromString(unpad(padded))
        answer.ParseFromString(signed.answer)
    except DecodeError as exc:
        raise InvalidInput(f"malformed answer from {responder}: not a valid protobuf message") from exc
    if signed.signature or carries_anything(answer):
        try:
            signing.verify(keys.signing_key, {"answer": signed.answer}, ANSWER_CONTEXT, signed.signature)
        except Refused as exc:
            raise Refused(f"bad signature from {responder}") from exc
    if answer.responder != responder:
        raise Refused(f"answer signed by {responder} names another responder ({answer.responder[:20]!r})")
    if answer.query_id != expected_query_id:
        raise Refused(f"answer signed by {responder} is for another query")
    if len(answer.candidates) > MAX_CANDIDATES:
        raise InvalidInput(f"candidates: {len(answer.candidates)} from {responder}; at most {MAX_CANDIDATES}")
    return answer
