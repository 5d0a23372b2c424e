"""Turn match keys into token material (lookup tag + demographics key) with the directory's OPRF, checking its
proof so a directory cannot hand this council a different key than the one it publishes (P2, P4).

Both the searching node (for a query) and the holding node (for its records, at import and on key rotation)
call `tokenise`; equal keys give equal tags and keys at every council because the token is a PRF of the key
under the directory's single secret. The key itself and the token never leave this process; the directory
sees only blinded points (federation/oprf.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from whoelse.federation import oprf
from whoelse.federation.errors import InvalidInput, Refused
from whoelse.federation.match_keys import MAX_KEYS, MatchKey
from whoelse.federation.token_keys import demographics_key, lookup_tag

Evaluator = Callable[[list[bytes]], tuple[list[bytes], bytes]]
"""Sends blinded elements to the directory (Directory.EvaluateTokens); returns (evaluated, DLEQ proof)."""

DEFAULT_BATCH = 1000
SEARCH_BUCKETS = (24, MAX_KEYS)
"""A search's EvaluateTokens call is padded to the smallest of these that holds its keys. An identity
yields 4-23 keys in the synthetic population (a record 15-23), so nearly every search sends 24; only an
identity yielding more than 24 (rare: several given names, known-as and previous surnames) sends 32. Each
padding element costs about four elliptic-curve multiplications at the origin and the directory
(docs/benchmarks.md, "Forward secrecy, token padding and witnessing"), so a second bucket halves the cost
against padding every search to 32, at the price of one bit for those rare identities."""


def search_padding(keys: int) -> int:
    """The number of elements a search with this many keys sends (see SEARCH_BUCKETS)."""
    return next((size for size in SEARCH_BUCKETS if keys <= size), MAX_KEYS)


@dataclass(frozen=True, slots=True, repr=False)
class TokenMaterial:
    """What one match key yields: its lookup tag and its demographics key. The repr hides the key."""

    key: MatchKey
    tag: bytes
    demographics_key: bytes

    def __repr__(self) -> str:
        return f"TokenMaterial(kind={self.key.kind.value}, tag={self.tag.hex()})"


def oprf_key_id(public_key: bytes) -> str:
    """The key id the directory publishes for an OPRF public key (same formula as OprfServerKey.key_id)."""
    return hashlib.sha256(b"KeyId-" + oprf.CONTEXT_STRING + bytes(public_key)).hexdigest()[:32]


def tokenise(
    keys: Sequence[MatchKey],
    evaluate: Evaluator,
    public_key: bytes,
    key_id: str,
    batch: int = DEFAULT_BATCH,
    pad_to: int = 0,
) -> list[TokenMaterial]:
    """Token material for each key, in the order given, via one `evaluate` call per `batch` keys.

    With `pad_to` (a search: search_padding(len(keys)), at most one batch), random points are sent with
    the blinded keys until the call carries `pad_to` elements, and their evaluations are dropped. The
    directory then sees the same number of elements for nearly every search, not how many keys the
    identity yielded (which would show, for example, whether an NHS number or a postcode was given). A
    blinded key is a uniformly random point, so the directory cannot tell padding from keys.

    Raises Refused if key_id does not name public_key, the directory answers with the wrong number of
    elements, or its proof does not verify against public_key (then no token is derived from the batch);
    InvalidInput if the keys do not fit `pad_to`.
    """
    if not 1 <= batch <= oprf.MAX_PROOF_BATCH:
        raise InvalidInput(f"batch must be 1-{oprf.MAX_PROOF_BATCH}, got {batch}")
    if pad_to and not len(keys) <= pad_to <= batch:
        raise InvalidInput(f"{len(keys)} keys do not fit one padded call of {pad_to} (batch {batch})")
    if oprf_key_id(public_key) != key_id:
        raise Refused(f"OPRF key id {key_id!r} does not name the published public key")
    materials: list[TokenMaterial] = []
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        inputs = [key.encode() for key in chunk]
        blinds, blinded = oprf.blind_batch(inputs)
        blinded += oprf.padding_elements(pad_to - len(inputs)) if pad_to else []
        evaluated, proof = evaluate(list(blinded))
        if len(evaluated) != len(blinded):
            raise Refused(f"the directory evaluated {len(evaluated)} elements for {len(blinded)} sent")
        tokens = oprf.verify_and_finalize(public_key, inputs, blinds, blinded, evaluated, proof)
        for key, token in zip(chunk, tokens, strict=True):
            materials.append(TokenMaterial(key, lookup_tag(token), demographics_key(token)))
    return materials
