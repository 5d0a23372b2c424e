"""Directory.EvaluateTokens: correct, provable evaluations; batch limit; per-council rate limit; counting and
logging without the blinded values; key rotation and retirement."""

from __future__ import annotations

import logging

import grpc
import pytest
from sqlalchemy import select

from tests.directory.conftest import LEEDS, WESTMINSTER, Directory, DirectoryFactory
from whoelse.directory import token_service
from whoelse.directory.storage import TokenUsageRow
from whoelse.directory.token_service import RateLimited, RateLimiter, TokenBucket, TokenLimits
from whoelse.federation import oprf
from whoelse.federation.council_list import CouncilList, load_verify_key, verify_signed
from whoelse.v1 import federation_pb2

INPUTS = [b"surname:oneill|dob:2015-03-07", b"nhs:9434765919", b"forename:zoe|postcode:LS62AB"]


def council_list(directory: Directory, as_council: str = LEEDS) -> CouncilList:
    signed = directory.stub(as_council).GetCouncilList(federation_pb2.CouncilListRequest(), timeout=5)
    return verify_signed(signed, load_verify_key(directory.keys.verify_key_path))


def tokens(
    directory: Directory, inputs: list[bytes], key_id: str = "", public_key: bytes | None = None
) -> list[bytes]:
    """What a node does: blind, ask the directory, check the proof against the published key, finalize."""
    published = council_list(directory)
    blinds, blinded = oprf.blind_batch(inputs)
    response = directory.stub(LEEDS).EvaluateTokens(
        federation_pb2.TokenRequest(blinded=blinded, key_id=key_id), timeout=5
    )
    oprf.verify_evaluations(
        public_key or published.oprf_public_key, blinded, list(response.evaluated), response.proof
    )
    assert response.key_id == (key_id or published.oprf_key_id)
    return oprf.finalize_batch(inputs, blinds, list(response.evaluated))


def test_tokens_are_the_prf_of_the_published_key_and_equal_across_councils(directory: Directory) -> None:
    published = council_list(directory)
    secret = directory.keys.oprf_key(published.oprf_key_id)
    assert secret.public_key == published.oprf_public_key
    assert tokens(directory, INPUTS) == [oprf.evaluate_direct(secret, i) for i in INPUTS]


def test_a_batch_over_the_limit_is_invalid(make_directory: DirectoryFactory) -> None:
    directory = make_directory(TokenLimits(max_batch=4, per_minute=100))
    _, blinded = oprf.blind_batch([b"k%d" % n for n in range(5)])
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub(LEEDS).EvaluateTokens(federation_pb2.TokenRequest(blinded=blinded), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "1-4 blinded elements, got 5" in refused.value.details()


def test_an_invalid_point_is_refused(directory: Directory) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub(LEEDS).EvaluateTokens(federation_pb2.TokenRequest(blinded=[bytes(32)]), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_council_over_its_rate_limit_is_told_when_to_retry(make_directory: DirectoryFactory) -> None:
    directory = make_directory(TokenLimits(max_batch=10, per_minute=20))
    _, blinded = oprf.blind_batch([b"k%d" % n for n in range(10)])
    request = federation_pb2.TokenRequest(blinded=blinded)
    leeds = directory.stub(LEEDS)
    leeds.EvaluateTokens(request, timeout=5)
    leeds.EvaluateTokens(request, timeout=5)
    with pytest.raises(grpc.RpcError) as refused:
        leeds.EvaluateTokens(request, timeout=5)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.value.details().startswith(
        f"council {LEEDS} is over its match-token limit of 20 evaluations a minute; retry in "
    )
    retry_ms = dict(refused.value.trailing_metadata())["retry-after-ms"]
    assert 25_000 <= int(retry_ms) <= 30_000  # 10 evaluations at 20 a minute
    directory.stub(WESTMINSTER).EvaluateTokens(request, timeout=5)  # other councils have their own allowance


def test_every_call_is_counted_and_logged_without_the_blinded_values(
    directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    key_id = council_list(directory).oprf_key_id
    _, blinded = oprf.blind_batch(INPUTS)
    with caplog.at_level(logging.INFO, logger="whoelse.directory.token_service"):
        directory.stub(LEEDS).EvaluateTokens(federation_pb2.TokenRequest(blinded=blinded), timeout=5)
    with directory.db.session() as session:
        rows = [(r.council, r.count, r.key_id) for r in session.scalars(select(TokenUsageRow))]
    assert rows == [(LEEDS, 3, key_id)]
    assert f"council={LEEDS} count=3 key_id={key_id}" in caplog.text
    for element in blinded:
        assert element.hex() not in caplog.text


def test_token_bucket_refills_at_the_configured_rate() -> None:
    bucket = TokenBucket(60, now=0.0)  # 60 a minute: one a second
    assert bucket.take(60, now=0.0) == 0.0
    assert bucket.take(5, now=2.0) == pytest.approx(3.0)  # 2 back, 3 more seconds needed
    assert bucket.take(5, now=5.0) == 0.0
    clock = iter([0.0, 0.0, 100.0])
    limiter = RateLimiter(60, clock=lambda: next(clock))
    limiter.take(LEEDS, 60)
    with pytest.raises(RateLimited, match=r"retry in 1\.0 s"):
        limiter.take(LEEDS, 1)
    limiter.take(LEEDS, 60)  # a minute and more later the bucket is full again


def test_rotation_keeps_the_previous_key_answerable_until_it_is_retired(directory: Directory) -> None:
    old = council_list(directory)
    old_tokens = tokens(directory, INPUTS)

    new_key = token_service.rotate(directory.db, directory.keys)
    rotated = council_list(directory)
    assert rotated.version > old.version
    assert (rotated.oprf_key_id, rotated.oprf_public_key) == (new_key.key_id, new_key.public_key)
    assert rotated.previous_oprf_key_ids == (old.oprf_key_id,)
    new_tokens = tokens(directory, INPUTS)
    assert set(new_tokens).isdisjoint(old_tokens)  # records must be re-tokenised with the new key
    # During the rotation a node that has not re-tokenised yet still gets old-key tokens, with a proof.
    assert tokens(directory, INPUTS, key_id=old.oprf_key_id, public_key=old.oprf_public_key) == old_tokens

    with pytest.raises(Exception, match="current key; rotate first"):
        token_service.retire(directory.db, directory.keys, new_key.key_id)
    token_service.retire(directory.db, directory.keys, old.oprf_key_id)
    retired = council_list(directory)
    assert retired.previous_oprf_key_ids == ()
    assert retired.version > rotated.version
    assert not list(directory.keys.path.glob(f"oprf-{old.oprf_key_id}.key"))  # the secret is destroyed
    _, blinded = oprf.blind_batch(INPUTS)
    with pytest.raises(grpc.RpcError) as refused:
        directory.stub(LEEDS).EvaluateTokens(
            federation_pb2.TokenRequest(blinded=blinded, key_id=old.oprf_key_id), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert "retired or unknown" in refused.value.details()
