"""Tokenising match keys through the directory's OPRF: equal keys meet at every council, a lying directory is
caught by its proof, and the directory only ever sees blinded points."""

from __future__ import annotations

import datetime as dt

import pytest

from whoelse.federation import oprf
from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import MAX_KEYS, MatchKey, match_keys
from whoelse.federation.token_keys import demographics_key, lookup_tag
from whoelse.federation.tokens import SEARCH_BUCKETS, Evaluator, oprf_key_id, search_padding, tokenise

KEY = oprf.OprfServerKey.from_bytes((12345).to_bytes(32, "little"))
CHILD = Identity(
    forename="Zoë",
    surname="O'Neill",
    date_of_birth=dt.date(2015, 3, 7),
    sex="F",
    postcode="LS6 2AB",
    nhs_number="943 476 5919",
    known_as="Zo",
)
KEYS = sorted(match_keys(CHILD), key=lambda k: k.encode())


class Directory:
    """An in-process EvaluateTokens that records what it was shown."""

    def __init__(self, key: oprf.OprfServerKey) -> None:
        self.key = key
        self.seen: list[bytes] = []
        self.calls = 0

    def __call__(self, blinded: list[bytes]) -> tuple[list[bytes], bytes]:
        self.calls += 1
        self.seen.extend(blinded)
        return self.key.evaluate_batch_with_proof(blinded)


def test_key_id_formula_matches_the_directorys() -> None:
    assert oprf_key_id(KEY.public_key) == KEY.key_id


def test_tags_and_keys_equal_those_of_the_direct_token_in_key_order() -> None:
    materials = tokenise(KEYS, Directory(KEY), KEY.public_key, KEY.key_id)
    assert [m.key for m in materials] == KEYS
    for material in materials:
        token = oprf.evaluate_direct(KEY, material.key.encode())
        assert material.tag == lookup_tag(token)
        assert material.demographics_key == demographics_key(token)


def test_two_councils_tokenising_the_same_child_get_the_same_tags() -> None:
    """Blinding is random, so this shows the node-side result does not depend on it."""
    first = tokenise(KEYS, Directory(KEY), KEY.public_key, KEY.key_id)
    second = tokenise(KEYS, Directory(KEY), KEY.public_key, KEY.key_id)
    assert [m.tag for m in first] == [m.tag for m in second]
    assert len({m.tag for m in first}) == len(KEYS)


def test_keys_are_sent_in_batches_and_never_in_the_clear() -> None:
    directory = Directory(KEY)
    tokenise(KEYS, directory, KEY.public_key, KEY.key_id, batch=5)
    assert directory.calls == -(-len(KEYS) // 5)
    assert len(directory.seen) == len(KEYS)
    sent = b"".join(directory.seen)
    assert all(k.value.encode() not in sent for k in KEYS)
    assert all(oprf.hash_to_group(k.encode()) not in directory.seen for k in KEYS)


def test_a_search_shows_the_directory_the_same_number_of_elements_whatever_was_given() -> None:
    """With an NHS number and postcode, or with only a name and date of birth, the directory is shown the
    same number of blinded elements; the tokens of the real keys are the same as unpadded."""
    sparse = Identity(forename="Zoë", surname="O'Neill", date_of_birth=dt.date(2015, 3, 7), sex="F")
    sparse_keys = sorted(match_keys(sparse), key=lambda k: k.encode())
    assert len(sparse_keys) < len(KEYS) <= SEARCH_BUCKETS[0]  # the count would tell the details apart
    shown = []
    for keys in (KEYS, sparse_keys):
        directory = Directory(KEY)
        padded = tokenise(keys, directory, KEY.public_key, KEY.key_id, pad_to=search_padding(len(keys)))
        shown.append((directory.calls, len(directory.seen)))
        assert [m.tag for m in padded] == [
            m.tag for m in tokenise(keys, Directory(KEY), KEY.public_key, KEY.key_id)
        ]
    assert shown == [(1, SEARCH_BUCKETS[0]), (1, SEARCH_BUCKETS[0])]


def test_only_an_identity_with_more_keys_than_the_first_bucket_sends_the_second() -> None:
    assert [search_padding(n) for n in (1, 15, 24, 25, MAX_KEYS)] == [24, 24, 24, MAX_KEYS, MAX_KEYS]


def test_more_keys_than_the_padded_call_holds_are_invalid() -> None:
    with pytest.raises(InvalidInput, match="do not fit one padded call of 4"):
        tokenise(KEYS, Directory(KEY), KEY.public_key, KEY.key_id, pad_to=4)


def test_no_keys_need_no_directory() -> None:
    directory = Directory(KEY)
    assert tokenise([], directory, KEY.public_key, KEY.key_id) == []
    assert directory.calls == 0


def test_a_directory_using_another_key_than_it_published_is_refused() -> None:
    other = oprf.OprfServerKey.from_bytes((999).to_bytes(32, "little"))
    with pytest.raises(Refused, match="did not use its published key"):
        tokenise(KEYS, Directory(other), KEY.public_key, KEY.key_id)


def test_a_key_id_that_does_not_name_the_public_key_is_refused() -> None:
    with pytest.raises(Refused, match="does not name the published public key"):
        tokenise(KEYS, Directory(KEY), KEY.public_key, "0" * 32)


def test_a_directory_answering_too_few_elements_is_refused() -> None:
    def short(blinded: list[bytes]) -> tuple[list[bytes], bytes]:
        evaluated, proof = KEY.evaluate_batch_with_proof(blinded)
        return evaluated[:-1], proof

    evaluator: Evaluator = short
    with pytest.raises(Refused, match=f"evaluated {len(KEYS) - 1} elements for {len(KEYS)} sent"):
        tokenise(KEYS, evaluator, KEY.public_key, KEY.key_id)


def test_a_nonsense_batch_size_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="batch"):
        tokenise(KEYS, Directory(KEY), KEY.public_key, KEY.key_id, batch=0)


def test_the_repr_never_shows_the_demographics_key() -> None:
    (material,) = tokenise([KEYS[0]], Directory(KEY), KEY.public_key, KEY.key_id)
    assert material.demographics_key.hex() not in repr(material)
    assert isinstance(material.key, MatchKey)


def test_a_directory_answering_a_small_order_point_is_refused() -> None:
    def tagging(blinded: list[bytes]) -> tuple[list[bytes], bytes]:
        evaluated, proof = KEY.evaluate_batch_with_proof(blinded)
        return [bytes(32), *evaluated[1:]], proof  # bytes(32): a point of order 4

    evaluator: Evaluator = tagging
    with pytest.raises(Refused, match="invalid group element"):
        tokenise(KEYS, evaluator, KEY.public_key, KEY.key_id)
