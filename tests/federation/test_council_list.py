"""The signed council list: signature over the list, refusal of tampered and older lists, and the node's
on-disk cache that answers while the directory is unreachable."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from whoelse.federation import closed_sets
from whoelse.federation.council_list import (
    CouncilEntry,
    CouncilList,
    CouncilListCache,
    CouncilStatus,
    from_proto,
    load_verify_key,
    sign,
    to_proto,
    verify_signed,
    write_verify_key,
)
from whoelse.federation.errors import ConfigError, NotFound, Refused, Unavailable
from whoelse.federation.signing import SigningKey
from whoelse.v1 import federation_pb2

DIRECTORY_KEY = SigningKey.from_bytes(bytes(range(32)))


def entry(code: str, status: CouncilStatus = CouncilStatus.ACTIVE) -> CouncilEntry:
    return CouncilEntry(
        code, f"Council {code}", f"{code.lower()}.example:50052", b"s" * 32, b"e" * 32, "ab" * 32, status
    )


def council_list(version: int, *entries: CouncilEntry) -> CouncilList:
    return CouncilList(
        version=version,
        issued_at_ms=1_750_000_000_000 + version,
        councils=entries or (entry("E08000035"), entry("E06000002", CouncilStatus.REVOKED)),
        oprf_key_id="0" * 32,
        oprf_public_key=b"p" * 32,
        previous_oprf_key_ids=("1" * 32,),
    )


@pytest.fixture()
def cache(tmp_path: Path) -> CouncilListCache:
    return CouncilListCache(tmp_path / "councils.json", DIRECTORY_KEY.verify_key_bytes)


def test_a_signed_list_round_trips(cache: CouncilListCache) -> None:
    original = council_list(3)
    assert from_proto(to_proto(original)) == original
    assert verify_signed(sign(original, DIRECTORY_KEY), DIRECTORY_KEY.verify_key_bytes) == original


def test_a_tampered_list_is_refused() -> None:
    signed = sign(council_list(3), DIRECTORY_KEY)
    message = federation_pb2.CouncilList.FromString(signed.council_list)
    closed_sets.COUNCIL_STATUS.set(message.councils[1], "active")  # un-revoke a council
    signed.council_list = message.SerializeToString()
    with pytest.raises(Refused, match="council list version 3 is not signed by the directory"):
        verify_signed(signed, DIRECTORY_KEY.verify_key_bytes)


def test_a_list_signed_by_another_key_is_refused() -> None:
    signed = sign(council_list(3), SigningKey.generate())
    with pytest.raises(Refused, match="not signed by the directory"):
        verify_signed(signed, DIRECTORY_KEY.verify_key_bytes)


def test_garbage_is_refused() -> None:
    signed = federation_pb2.SignedCouncilList(council_list=b"\xff\xff\xff", signature=bytes(64))
    with pytest.raises(Refused, match="not a valid CouncilList"):
        verify_signed(signed, DIRECTORY_KEY.verify_key_bytes)


def test_an_older_version_is_refused_and_the_same_version_changes_nothing(cache: CouncilListCache) -> None:
    cache.update(sign(council_list(5), DIRECTORY_KEY))
    with pytest.raises(Refused, match="version 4 is older than the cached version 5; refusing a rollback"):
        cache.update(sign(council_list(4), DIRECTORY_KEY))
    same = council_list(5, entry("E08000035", CouncilStatus.REVOKED))
    assert cache.update(sign(same, DIRECTORY_KEY)) == council_list(5)
    newer = council_list(6, entry("E08000035", CouncilStatus.SUSPENDED))
    assert cache.update(sign(newer, DIRECTORY_KEY)) == newer
    assert cache.status("E08000035") is CouncilStatus.SUSPENDED


def test_a_tampered_copy_of_the_held_version_is_still_refused(cache: CouncilListCache) -> None:
    """Re-fetching the very bytes already verified skips the check; anything else is verified again."""
    signed = sign(council_list(5), DIRECTORY_KEY)
    assert cache.update(signed) == council_list(5)
    assert cache.update(
        federation_pb2.SignedCouncilList.FromString(signed.SerializeToString())
    ) == council_list(5)
    message = federation_pb2.CouncilList.FromString(signed.council_list)
    closed_sets.COUNCIL_STATUS.set(message.councils[1], "active")
    tampered = federation_pb2.SignedCouncilList(
        council_list=message.SerializeToString(), signature=signed.signature
    )
    with pytest.raises(Refused, match="not signed by the directory"):
        cache.update(tampered)
    assert cache.status("E06000002") is CouncilStatus.REVOKED


def test_look_ups_say_why_a_council_is_refused(cache: CouncilListCache) -> None:
    with pytest.raises(Unavailable, match="no council list yet"):
        cache.signing_key("E08000035")
    cache.update(sign(council_list(1), DIRECTORY_KEY))
    assert cache.signing_key("E08000035") == b"s" * 32
    assert cache.sealing_key("E08000035") == b"e" * 32
    with pytest.raises(Refused, match="council E06000002 is revoked"):
        cache.sealing_key("E06000002")
    with pytest.raises(Refused, match="council E09999999 is unknown to the federation"):
        cache.require_active("E09999999")
    assert cache.status("E09999999") is None
    with pytest.raises(NotFound, match="E09999999 is not in the directory's council list"):
        cache.entry("E09999999")


def test_the_cache_answers_when_the_directory_is_unreachable(tmp_path: Path, cache: CouncilListCache) -> None:
    def down(known_version: int) -> federation_pb2.SignedCouncilList:
        raise Unavailable("directory unreachable")

    with pytest.raises(Unavailable):
        cache.refresh(down)  # nothing cached yet: nothing to answer with
    assert cache.refresh(lambda known: sign(council_list(2), DIRECTORY_KEY)).version == 2
    assert cache.refresh(down).version == 2
    reopened = CouncilListCache(tmp_path / "councils.json", DIRECTORY_KEY.verify_key_bytes)
    assert reopened.current == council_list(2)  # survives a node restart


def test_a_cache_file_edited_on_disk_is_refused(tmp_path: Path, cache: CouncilListCache) -> None:
    cache.update(sign(council_list(2), DIRECTORY_KEY))
    path = tmp_path / "councils.json"
    stored = json.loads(path.read_text())
    forged = sign(council_list(9, entry("E06000002")), SigningKey.generate())
    stored["council_list"] = base64.b64encode(forged.council_list).decode()
    path.write_text(json.dumps(stored))
    with pytest.raises(Refused, match="council list version 9 is not signed by the directory"):
        CouncilListCache(path, DIRECTORY_KEY.verify_key_bytes)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable; delete it to refetch"):
        CouncilListCache(path, DIRECTORY_KEY.verify_key_bytes)


def test_the_pinned_verify_key_file(tmp_path: Path) -> None:
    write_verify_key(tmp_path / "directory.pub", DIRECTORY_KEY.verify_key_bytes)
    assert load_verify_key(tmp_path / "directory.pub") == DIRECTORY_KEY.verify_key_bytes
    (tmp_path / "bad.pub").write_text("not hex")
    with pytest.raises(ConfigError, match="must hold 32 bytes as 64 hex digits"):
        load_verify_key(tmp_path / "bad.pub")
    with pytest.raises(ConfigError, match="cannot read"):
        load_verify_key(tmp_path / "missing.pub")
