"""Lookup tags: the one-way, indexed form of a record's match keys stored at the node.

A tag is HMAC-SHA256 under a key that never leaves this node, truncated to 16 bytes; the database holds
tags, never the match keys themselves, so a stolen tag table cannot be searched with guessed identities
without also stealing the node's key. Federated searches use tags derived from OPRF tokens instead
(scheme = the OPRF key id), made by the same `Tagger` protocol.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Protocol

from whoelse.federation.identity import Identity
from whoelse.federation.match_keys import KeyKind, MatchKey, match_keys

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
        self._hmac = _HmacSha256(key)

    def tags(self, keys: Iterable[MatchKey]) -> list[bytes]:
        return [digest[:TAG_BYTES] for digest in self._hmac.digests(k.encode() for k in keys)]

    def __reduce__(self) -> tuple[type, tuple[bytes]]:
        return LocalTagger, (self._key,)  # hash states cannot be pickled: a worker process sets up its own


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) under one key, with the key's inner and outer hash states computed once.

    The same bytes as `hmac.digest(key, message, "sha256")`, about six times faster for the short messages of
    match keys: a one-shot HMAC hashes the padded key twice for every message, this copies two states."""

    BLOCK = 64  # SHA-256's block size in bytes

    def __init__(self, key: bytes) -> None:
        if len(key) > self.BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(self.BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digests(self, messages: Iterable[bytes]) -> list[bytes]:
        """The HMAC of each message, in order."""
        out = []
        for message in messages:
            inner = self._inner.copy()
            inner.update(message)
            outer = self._outer.copy()
            outer.update(inner.digest())
            out.append(outer.digest())
        return out


KindedTag = tuple[bytes, str]
"""A lookup tag and the kind of match key it was made from (federation/match_keys.KeyKind)."""


def identity_tags(tagger: Tagger, identity: Identity) -> list[KindedTag]:
    """The tags of an identity's match keys, each with its key's kind, in the keys' canonical order."""
    keys = sorted(match_keys(identity), key=MatchKey.encode)
    return list(zip(tagger.tags(keys), (_KIND_NAMES[k.kind] for k in keys), strict=True))


_KIND_NAMES = {kind: kind.value for kind in KeyKind}  # faster than an enum's `.value`, once per tag
