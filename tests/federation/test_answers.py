"""Answers: one fixed size whatever they hold, readable (and forgeable) only by the responder and the origin,
signed by the responder when they carry anything, and an oversized answer is cut to fit rather than lost."""

from __future__ import annotations

from typing import Any

import pytest

from whoelse.federation import closed_sets
from whoelse.federation.answers import (
    ANSWER_SIZE,
    MAX_CANDIDATES,
    SEALED_ANSWER_BYTES,
    answer_associated_data,
    fit_answer,
    open_answer,
    seal_answer,
    sign_answer,
)
from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.query import OriginKeys
from whoelse.federation.sealing import SealingKey, open_forward, pad, seal_forward
from whoelse.federation.signing import SigningKey
from whoelse.v1 import federation_pb2, records_pb2

QUERY_ID = "0123456789abcdef0123456789abcdef"
ORIGIN = SealingKey.generate()
ANSWER_KEY = SealingKey.generate()  # the origin's key for this one query's answers
WESTMINSTER, HARTLEPOOL = "E09000033", "E06000001"
SIGNERS = {WESTMINSTER: SigningKey.generate(), HARTLEPOOL: SigningKey.generate()}
SEALERS = {WESTMINSTER: SealingKey.generate(), HARTLEPOOL: SealingKey.generate()}
KEYS = {
    code: OriginKeys(key.verify_key_bytes, True, "active", SEALERS[code].public_key_bytes)
    for code, key in SIGNERS.items()
}


def _seal(
    answer: federation_pb2.Answer, origin: bytes = ORIGIN.public_key_bytes
) -> federation_pb2.SealedAnswer:
    return seal_answer(
        answer, SIGNERS[answer.responder], SEALERS[answer.responder], origin, ANSWER_KEY.public_key_bytes
    )


def _disclosure(record_id: str = "C0001", involvements: int = 3, text: str = "") -> records_pb2.Disclosure:
    return records_pb2.Disclosure(
        council_code=WESTMINSTER,
        council_name="Westminster",
        record_id=record_id,
        forename="Zoë",
        surname="O'Neill",
        date_of_birth="2015-03-07",
        **closed_sets.SEX.fields("F"),
        address=records_pb2.Address(line1="12 Mill Lane" + text, town="London", postcode="W1A 1AA"),
        education=records_pb2.Contactable(name="Hillside Primary", contact="020 7946 0000"),
        gp=records_pb2.Contactable(name="Mill Lane Surgery", contact="020 7946 0001"),
        carers=[
            records_pb2.Contactable(name="Ann O'Neill", relationship_or_role="mother", contact="07700 900123")
        ],
        involvements=[
            records_pb2.DisclosedInvolvement(
                practitioner=f"Practitioner {n}" + text,
                organisation="Westminster Children's Services",
                role="Social worker",
                contact="020 7946 0002",
                service_type="social_care",
                start_date="2024-01-10",
            )
            for n in range(involvements)
        ],
        concerns=[records_pb2.DisclosedConcern(raised_by="Sam Patel", contact="020 7946 0002")],
    )


def _answer(candidates: int = 1, responder: str = WESTMINSTER, **kwargs: Any) -> federation_pb2.Answer:
    return federation_pb2.Answer(
        query_id=QUERY_ID,
        responder=responder,
        candidates=[
            records_pb2.Candidate(
                score=20.0 - n,
                **closed_sets.BAND.fields("match"),
                disclosure=_disclosure(f"C{n:04d}", **kwargs),
            )
            for n in range(candidates)
        ],
    )


def _round_trip(answer: federation_pb2.Answer) -> federation_pb2.Answer:
    return open_answer(_seal(answer), ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)


def test_the_origin_opens_a_signed_answer() -> None:
    answer = _answer(candidates=2)
    assert _round_trip(answer) == answer


def test_a_holding_and_a_non_holding_answer_have_identical_sealed_sizes() -> None:
    holding = _seal(_answer(candidates=MAX_CANDIDATES))
    empty = federation_pb2.Answer(query_id=QUERY_ID, responder=HARTLEPOOL)
    nothing = _seal(empty)
    assert len(holding.sealed) == len(nothing.sealed) == SEALED_ANSWER_BYTES
    assert len(holding.SerializeToString()) == len(nothing.SerializeToString())  # same-length council codes
    assert b"Neill" not in holding.sealed
    assert open_answer(nothing, ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get) == empty


def test_ten_ordinary_candidates_fit_untouched() -> None:
    answer = _answer(candidates=MAX_CANDIDATES, involvements=20)
    assert fit_answer(answer) == answer
    assert _round_trip(answer) == answer


def test_more_than_ten_candidates_keep_the_best_scored() -> None:
    answer = _answer(candidates=MAX_CANDIDATES + 3)
    answer.candidates.reverse()
    opened = _round_trip(answer)
    assert [c.disclosure.record_id for c in opened.candidates] == [f"C{n:04d}" for n in range(MAX_CANDIDATES)]


def test_an_oversized_answer_is_cut_to_fit_not_refused() -> None:
    huge = _answer(candidates=MAX_CANDIDATES, involvements=50, text="ŵ" * 300)
    opened = _round_trip(huge)
    assert 1 <= len(opened.candidates) < MAX_CANDIDATES
    first = opened.candidates[0].disclosure
    assert first.record_id == "C0000"
    assert len(first.address.line1) <= 200 and first.address.line1.endswith("…")
    assert first.involvements  # the best match keeps its contacts


def test_a_single_pathological_candidate_still_fits() -> None:
    opened = _round_trip(_answer(candidates=1, involvements=500, text="ŵ" * 300))
    assert len(opened.candidates) == 1 and opened.candidates[0].disclosure.surname == "O'Neill"


def test_an_answer_must_name_its_query_and_responder() -> None:
    with pytest.raises(InvalidInput, match="query_id and responder"):
        _seal(federation_pb2.Answer(responder=WESTMINSTER))


# ---- refusals at the origin ------------------------------------------------------------------------------


def test_an_answer_to_another_query_is_refused() -> None:
    sealed = _seal(_answer())
    with pytest.raises(Refused, match="for another query"):
        open_answer(sealed, ORIGIN, ANSWER_KEY, "f" * 32, KEYS.get)


def test_an_answer_sealed_to_another_council_cannot_be_opened() -> None:
    sealed = _seal(_answer(), origin=SealingKey.generate().public_key_bytes)
    with pytest.raises(Refused, match="cannot open the answer"):
        open_answer(sealed, ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)


def test_the_directory_cannot_forge_even_an_empty_answer() -> None:
    """An empty answer is not signed; the seal alone shows it came from the responder. Whoever
    holds neither the responder's nor the origin's private key (the directory) cannot make one."""
    empty = federation_pb2.Answer(query_id=QUERY_ID, responder=WESTMINSTER)
    signed = federation_pb2.SignedAnswer(answer=empty.SerializeToString())
    forged = _sealed_signed(signed, WESTMINSTER, sealer=SealingKey.generate())
    with pytest.raises(Refused, match=f"cannot open the answer from '{WESTMINSTER}'"):
        open_answer(forged, ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)
    assert open_answer(_sealed_signed(signed, WESTMINSTER), ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get) == empty


def test_an_answer_that_carries_anything_must_be_signed() -> None:
    unsigned = federation_pb2.SignedAnswer(answer=_answer().SerializeToString())
    with pytest.raises(Refused, match=f"bad signature from {WESTMINSTER}"):
        open_answer(_sealed_signed(unsigned, WESTMINSTER), ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)
    alert = federation_pb2.Answer(query_id=QUERY_ID, responder=WESTMINSTER, alerts_delivered=1)
    unsigned_alert = federation_pb2.SignedAnswer(answer=alert.SerializeToString())
    with pytest.raises(Refused, match=f"bad signature from {WESTMINSTER}"):
        open_answer(_sealed_signed(unsigned_alert, WESTMINSTER), ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)
    assert open_answer(_seal(alert), ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get) == alert


def test_an_answer_relabelled_with_another_responder_cannot_be_opened() -> None:
    sealed = _seal(_answer())
    sealed.responder = HARTLEPOOL
    with pytest.raises(Refused, match="cannot open"):
        open_answer(sealed, ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)


def _sealed_signed(
    signed: federation_pb2.SignedAnswer, responder: str, sealer: SealingKey | None = None
) -> federation_pb2.SealedAnswer:
    padded = pad(signed.SerializeToString(), ANSWER_SIZE)
    sealer = sealer or SEALERS[responder]
    return federation_pb2.SealedAnswer(
        query_id=QUERY_ID,
        responder=responder,
        sealed=seal_forward(
            sealer,
            ORIGIN.public_key_bytes,
            ANSWER_KEY.public_key_bytes,
            padded,
            answer_associated_data(QUERY_ID, responder),
        ),
    )


def test_an_answer_signed_with_another_councils_key_is_refused() -> None:
    signed = sign_answer(_answer(responder=WESTMINSTER), SIGNERS[HARTLEPOOL])
    with pytest.raises(Refused, match=f"bad signature from {WESTMINSTER}"):
        open_answer(_sealed_signed(signed, WESTMINSTER), ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)


def test_a_responder_passing_on_another_councils_answer_is_refused() -> None:
    """Hartlepool signs and seals an answer that names Westminster inside: the names must agree."""
    signed = sign_answer(_answer(responder=WESTMINSTER), SIGNERS[HARTLEPOOL])
    with pytest.raises(Refused, match="names another responder"):
        open_answer(_sealed_signed(signed, HARTLEPOOL), ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)


def test_an_answer_from_an_unknown_or_revoked_council_is_refused() -> None:
    sealed = _seal(_answer())
    with pytest.raises(Refused, match=f"unknown council {WESTMINSTER}"):
        open_answer(sealed, ORIGIN, ANSWER_KEY, QUERY_ID, lambda code: None)
    revoked = {
        WESTMINSTER: OriginKeys(
            SIGNERS[WESTMINSTER].verify_key_bytes, False, "revoked", SEALERS[WESTMINSTER].public_key_bytes
        )
    }
    with pytest.raises(Refused, match=f"council {WESTMINSTER} is revoked"):
        open_answer(sealed, ORIGIN, ANSWER_KEY, QUERY_ID, revoked.get)


def test_a_wrongly_sized_or_malformed_answer_is_invalid_input() -> None:
    sealed = _seal(_answer())
    sealed.sealed = sealed.sealed[:-1]
    with pytest.raises(InvalidInput, match="bytes, not"):
        open_answer(sealed, ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)
    garbage = federation_pb2.SealedAnswer(
        query_id=QUERY_ID,
        responder=WESTMINSTER,
        sealed=seal_forward(
            SEALERS[WESTMINSTER],
            ORIGIN.public_key_bytes,
            ANSWER_KEY.public_key_bytes,
            pad(b"\xff\xff\xff", ANSWER_SIZE),
            answer_associated_data(QUERY_ID, WESTMINSTER),
        ),
    )
    with pytest.raises(InvalidInput, match="malformed answer"):
        open_answer(garbage, ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)


def test_too_many_candidates_signed_by_a_responder_are_invalid_input() -> None:
    signed = sign_answer(_answer(candidates=MAX_CANDIDATES + 1), SIGNERS[WESTMINSTER])
    with pytest.raises(InvalidInput, match="candidates: 11"):
        open_answer(_sealed_signed(signed, WESTMINSTER), ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)


def test_stolen_static_keys_cannot_open_a_recorded_answer() -> None:
    """Someone who recorded a sealed answer and later steals both councils' static keys (and knows the
    query's public answer key) still cannot open it: the query's private answer key is gone."""
    recorded = _seal(_answer())
    ad = answer_associated_data(QUERY_ID, WESTMINSTER)
    westminster = SEALERS[WESTMINSTER].public_key_bytes
    with pytest.raises(Refused, match="cannot open"):
        open_answer(recorded, ORIGIN, ORIGIN, QUERY_ID, KEYS.get)  # the origin's static key as answer key
    for thief_key in (ORIGIN, SEALERS[WESTMINSTER]):
        with pytest.raises(Refused, match="could not be opened"):
            open_forward(ORIGIN, thief_key, westminster, recorded.sealed, ad)
    assert open_answer(recorded, ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get) == _answer()


def test_an_answer_sealed_to_another_querys_answer_key_cannot_be_opened() -> None:
    sealed = seal_answer(
        _answer(),
        SIGNERS[WESTMINSTER],
        SEALERS[WESTMINSTER],
        ORIGIN.public_key_bytes,
        SealingKey.generate().public_key_bytes,
    )
    with pytest.raises(Refused, match="not sealed by it to this query's answer key"):
        open_answer(sealed, ORIGIN, ANSWER_KEY, QUERY_ID, KEYS.get)


def test_a_bad_answer_key_in_a_query_is_refused_before_anything_is_sealed() -> None:
    with pytest.raises(InvalidInput, match="X25519 public key is 32 bytes"):
        seal_answer(_answer(), SIGNERS[WESTMINSTER], SEALERS[WESTMINSTER], ORIGIN.public_key_bytes, b"short")
    with pytest.raises(InvalidInput, match="small order"):
        seal_answer(_answer(), SIGNERS[WESTMINSTER], SEALERS[WESTMINSTER], ORIGIN.public_key_bytes, bytes(32))
