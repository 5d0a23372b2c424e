"""A node's council-list cache against a real directory: it follows changes, and keeps answering while the
directory is stopped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.directory.conftest import CORNWALL, LEEDS, REVOKED, Directory
from whoelse.directory.router import NodeChannels
from whoelse.directory.server import create_server
from whoelse.federation import ca
from whoelse.federation.council_list import CouncilListCache, CouncilStatus, load_verify_key
from whoelse.federation.errors import Refused
from whoelse.federation.transport import council_list_fetcher, secure_channel


def test_the_cache_follows_the_directory_and_survives_its_outage(
    directory: Directory, tmp_path: Path
) -> None:
    cache = CouncilListCache(tmp_path / "councils.json", load_verify_key(directory.keys.verify_key_path))
    channel = secure_channel(f"127.0.0.1:{directory.port}", directory.pki.identity(LEEDS))
    fetch = council_list_fetcher(channel, timeout=2)
    first = cache.refresh(fetch)
    assert cache.sealing_key(CORNWALL) == directory.councils[CORNWALL].sealing.public_key_bytes

    directory.registry.suspend(CORNWALL)
    assert cache.refresh(fetch).version > first.version
    assert cache.status(CORNWALL) is CouncilStatus.SUSPENDED
    with pytest.raises(Refused, match=f"council {CORNWALL} is suspended"):
        cache.signing_key(CORNWALL)

    directory.stop()
    held = cache.refresh(fetch)  # directory down: the cached list answers
    assert held.version == cache.version
    assert cache.signing_key(LEEDS) == directory.councils[LEEDS].signing.verify_key_bytes
    with pytest.raises(Refused, match=f"council {REVOKED} is revoked"):
        cache.require_active(REVOKED)
    channel.close()

    restarted = CouncilListCache(tmp_path / "councils.json", load_verify_key(directory.keys.verify_key_path))
    assert restarted.current == held  # and so does a restarted node, from disk


def test_after_the_directory_restarts_the_same_channel_carries_on(
    directory: Directory, tmp_path: Path
) -> None:
    cache = CouncilListCache(tmp_path / "councils.json", load_verify_key(directory.keys.verify_key_path))
    channel = secure_channel(f"127.0.0.1:{directory.port}", directory.pki.identity(LEEDS))
    fetch = council_list_fetcher(channel, timeout=2)
    cache.refresh(fetch)
    directory.stop()
    cache.refresh(fetch)  # answered from the cache
    directory.registry.suspend(CORNWALL)  # changed while the directory was down

    identity = directory.pki.identity(ca.DIRECTORY_CN)
    channels = NodeChannels(identity)
    server, _ = create_server(f"127.0.0.1:{directory.port}", directory.db, identity, directory.keys, channels)
    server.start()
    try:
        deadline = time.monotonic() + 5
        while cache.status(CORNWALL) is not CouncilStatus.SUSPENDED and time.monotonic() < deadline:
            cache.refresh(fetch)
            time.sleep(0.1)
        assert cache.status(CORNWALL) is CouncilStatus.SUSPENDED
    finally:
        channel.close()
        server.stop(None)
        channels.close()
