"""Lookup tags: the one-way, indexed form of a record's match keys stored at the node.

A tag is HMAC-SHA256 under a key that never leaves this node, truncated to 16 bytes; the database holds
tags, never the match keys themselves, so a stolen tag table cannot be searched with guessed identities
without also stealing the node's key. Federated searches use tags derived from OPRF tokens instead
(scheme = the OPRF key id), made by the same `Tagger` protocol.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Protocol

from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import MatchKey, match_keys

TAG_BYTES = 16
LOCAL_SCHEME = "local"


class Tagger(Protocol):
    scheme: str

    def tags(self, keys: Iterable[MatchKey]) -> list[bytes]: ...


class LocalTagger:
    """Tags made with the node's own secret key (used for this council's own searches)."""

    scheme = LOCAL_SCHEME

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("tag key must be at least 32 bytes")
        self._key = key

    def tags(self, keys: Iterable[MatchKey]) -> list[bytes]:
        key = self._key  # hmac.digest: the one-shot C path, several times faster than hmac.new per tag
        return [hmac.digest(key, k.encode(), hashlib.sha256)[:TAG_BYTES] for k in keys]


KindedTag = tuple[bytes, str]
"""A lookup tag and the kind of match key it was made from (federation/match_keys.KeyKind)."""


def identity_tags(tagger: Tagger, identity: Identity) -> list[KindedTag]:
    """The tags of an identity's match keys, each with its key's kind, in the keys' canonical order."""
    keys = sorted(match_keys(identity), key=lambda k: k.encode())
    return list(zip(tagger.tags(keys), (k.kind.value for k in keys), strict=True))
