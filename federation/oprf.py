"""The match-token oblivious PRF: a node turns a match key into a token with the directory's help, and the
directory never sees the key; nobody without the directory's secret can compute a token offline (P2, P4).

SPEC: the protocol is RFC 9497 (Oblivious Pseudorandom Functions using Prime-Order Groups) §3.3.1, OPRF mode
("2HashDH"):  token = H2(input, k * H1(input)), computed as
    client  Blind:     r random,  B = r * H1(input)                     -> sent to the server
    server  Evaluate:  Z = k * B                                         -> sent back
    client  Finalize:  N = r^-1 * Z  (= k * H1(input)),  token = H2(input, N)

This is NOT the RFC's ristretto255-SHA512 ciphersuite: PyNaCl binds libsodium's Ed25519 group operations
but not its ristretto255 ones, and we want no hand-rolled group arithmetic. So we work in the prime-order
subgroup of edwards25519 (order L = 2^252 + 27742317777372353535851937790883648493) and close the
cofactor-8 gap that ristretto255 closes by construction:
- H1 (hash to group): SHA-512 of a domain-separated, length-prefixed input gives 64 bytes; each half goes
  through libsodium's crypto_core_ed25519_from_uniform (Elligator 2, which MULTIPLIES BY THE COFACTOR, so
  its output is in the prime-order subgroup - checked in tests/federation/test_oprf.py) and the two points
  are added: the random-oracle construction of RFC 9380 §3 (hash_to_curve = map twice and add).
- Every point received from the other party is checked with crypto_core_ed25519_is_valid_point, which in
  libsodium >= 1.0.18 rejects non-canonical encodings, the identity, every small-order point AND any point
  outside the prime-order subgroup. So a malicious client cannot learn k mod 8 through a small-subgroup
  component, and a malicious server cannot tag a client's token with one. libsodium's noclamp scalar
  multiplication refuses the same points again (defence in depth).
- H2 (finalize) follows RFC 9497 §3.3.1: SHA-512 over I2OSP(len(input), 2) || input || I2OSP(len(N), 2) ||
  N || "Finalize", followed by our context string, truncated to 32 bytes.

Verifiable mode (RFC 9497 §3.3.2, VOPRF): evaluate_batch_with_proof() adds a batched DLEQ proof (§2.2)
that every evaluation used the key behind the published public key k * G, so a directory cannot give one
council a different key to partition or tag its tokens. Differences from the RFC, for the same reason as
above: HashToScalar is SHA-512 of a domain-separated transcript reduced mod L (as Ed25519 derives its
scalars), and the transcripts carry our context string. `key_id` (a hash of k * G) names a key for rotation.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions

from whoelse.federation.errors import InvalidInput, Refused

SCALAR_BYTES = 32
ELEMENT_BYTES = 32
TOKEN_BYTES = 32
MAX_INPUT_BYTES = 2**16 - 1  # RFC 9497 §3.3: inputs are length-prefixed with two bytes

CONTEXT_STRING = b"whoelse/v1/OPRF-2HashDH-edwards25519-SHA512"
_DST_HASH_TO_GROUP = b"HashToGroup-" + CONTEXT_STRING
_DST_FINALIZE = b"Finalize"
_DST_KEY_ID = b"KeyId-" + CONTEXT_STRING
_DST_HASH_TO_SCALAR = b"HashToScalar-" + CONTEXT_STRING
_DST_SEED = b"Seed-" + CONTEXT_STRING
PROOF_BYTES = 64
MAX_PROOF_BATCH = 2**16 - 1  # RFC 9497 §2.2.1: the element index is encoded in two bytes

GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
"""L, the order of edwards25519's prime-order subgroup (RFC 8032 §5.1)."""


def _i2osp2(n: int) -> bytes:
    return n.to_bytes(2, "big")


def _random_scalar() -> bytes:
    """A uniformly random non-zero scalar mod L (64 random bytes reduced: bias below 2^-259)."""
    while True:
        scalar: bytes = sodium.crypto_core_ed25519_scalar_reduce(os.urandom(64))
        if any(scalar):
            return scalar


def _is_canonical_nonzero_scalar(scalar: bytes) -> bool:
    if len(scalar) != SCALAR_BYTES or not any(scalar):
        return False
    reduced: bytes = sodium.crypto_core_ed25519_scalar_reduce(scalar + bytes(32))
    return reduced == scalar


def is_valid_element(element: bytes) -> bool:
    """True if element is a canonical encoding of a non-identity point of the prime-order subgroup."""
    return len(element) == ELEMENT_BYTES and bool(sodium.crypto_core_ed25519_is_valid_point(element))


def _multiply(scalar: bytes, element: bytes) -> bytes:
    try:
        return bytes(sodium.crypto_scalarmult_ed25519_noclamp(scalar, element))
    except nacl.exceptions.RuntimeError as exc:  # libsodium refuses small-order input or identity output
        raise InvalidInput("group element is not in the prime-order subgroup") from exc


def hash_to_group(input: bytes) -> bytes:
    """H1: map an input to a point of the prime-order subgroup (never the identity)."""
    if len(input) > MAX_INPUT_BYTES:
        raise InvalidInput(f"OPRF input is {len(input)} bytes; at most {MAX_INPUT_BYTES} allowed")
    uniform = hashlib.sha512(_DST_HASH_TO_GROUP + b"\x00" + _i2osp2(len(input)) + input).digest()
    first = sodium.crypto_core_ed25519_from_uniform(uniform[:32])
    second = sodium.crypto_core_ed25519_from_uniform(uniform[32:])
    return bytes(sodium.crypto_core_ed25519_add(first, second))


def _lp(data: bytes) -> bytes:
    """Length-prefixed bytes, I2OSP(len(data), 2) || data, as in RFC 9497's transcripts."""
    return _i2osp2(len(data)) + data


def _hash_to_scalar(transcript: bytes) -> bytes:
    digest = hashlib.sha512(_DST_HASH_TO_SCALAR + b"\x00" + transcript).digest()
    return bytes(sodium.crypto_core_ed25519_scalar_reduce(digest))


def _sum(points: Sequence[bytes]) -> bytes:
    return functools.reduce(lambda a, b: bytes(sodium.crypto_core_ed25519_add(a, b)), points)


def _composites(
    public_key: bytes, blinded: Sequence[bytes], evaluated: Sequence[bytes], key: bytes | None = None
) -> tuple[bytes, bytes]:
    """(M, Z) = (sum d_i * C_i, sum d_i * D_i) with d_i bound to the whole batch. SPEC: RFC 9497 §2.2.1
    ComputeComposites, and ComputeCompositesFast (Z = k * M) when the server passes its key."""
    if not blinded or len(blinded) != len(evaluated) or len(blinded) > MAX_PROOF_BATCH:
        raise InvalidInput(f"a proof covers 1-{MAX_PROOF_BATCH} evaluations, one per blinded element")
    seed = hashlib.sha512(_lp(public_key) + _lp(_DST_SEED)).digest()
    weights = [
        _hash_to_scalar(_lp(seed) + _i2osp2(index) + _lp(c) + _lp(d) + b"Composite")
        for index, (c, d) in enumerate(zip(blinded, evaluated, strict=True))
    ]
    m = _sum([_multiply(w, c) for w, c in zip(weights, blinded, strict=True)])
    if key is not None:
        return m, _multiply(key, m)
    return m, _sum([_multiply(w, d) for w, d in zip(weights, evaluated, strict=True)])


def _challenge(public_key: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes) -> bytes:
    return _hash_to_scalar(_lp(public_key) + _lp(m) + _lp(z) + _lp(t2) + _lp(t3) + b"Challenge")


def _finalize_hash(input: bytes, unblinded: bytes) -> bytes:
    transcript = (
        _i2osp2(len(input)) + input + _i2osp2(len(unblinded)) + unblinded + _DST_FINALIZE + CONTEXT_STRING
    )
    return hashlib.sha512(transcript).digest()[:TOKEN_BYTES]


class OprfServerKey:
    """The directory's OPRF secret k (a non-zero scalar mod L). Only the directory's key service holds it."""

    __slots__ = ("_scalar",)

    def __init__(self, scalar: bytes) -> None:
        if not _is_canonical_nonzero_scalar(scalar):
            raise InvalidInput("an OPRF key is a canonical non-zero scalar of 32 bytes")
        self._scalar = bytes(scalar)

    @classmethod
    def generate(cls) -> OprfServerKey:
        return cls(_random_scalar())

    @classmethod
    def from_bytes(cls, data: bytes) -> OprfServerKey:
        return cls(data)

    def to_bytes(self) -> bytes:
        """The 32-byte secret scalar; store it as a secret (file mode 0600)."""
        return self._scalar

    @property
    def public_key(self) -> bytes:
        """k * G, the public commitment to the key (RFC 9497 pkS)."""
        return bytes(sodium.crypto_scalarmult_ed25519_base_noclamp(self._scalar))

    @property
    def key_id(self) -> str:
        """A short public name for this key (hex of a hash of k * G), to notice rotation and label tokens."""
        return hashlib.sha256(_DST_KEY_ID + self.public_key).hexdigest()[:32]

    def evaluate(self, blinded: bytes) -> bytes:
        """Z = k * B for one blinded element; raises InvalidInput if B is not a valid prime-order point."""
        if not is_valid_element(blinded):
            raise InvalidInput("blinded element is not a valid point of the prime-order Ed25519 subgroup")
        return _multiply(self._scalar, blinded)

    def evaluate_batch(self, blinded: Sequence[bytes]) -> list[bytes]:
        """Evaluate many blinded elements; the whole batch is refused if any one is invalid."""
        for index, element in enumerate(blinded):
            if not is_valid_element(element):
                raise InvalidInput(
                    f"blinded element {index} is not a valid point of the prime-order subgroup"
                )
        return [_multiply(self._scalar, element) for element in blinded]

    def evaluate_batch_with_proof(self, blinded: Sequence[bytes]) -> tuple[list[bytes], bytes]:
        """Evaluate a batch and prove (DLEQ) it used this key; returns (evaluated, 64-byte proof c || s).
        SPEC: RFC 9497 §2.2.1 GenerateProof."""
        evaluated = self.evaluate_batch(blinded)
        public_key = self.public_key
        m, z = _composites(public_key, blinded, evaluated, self._scalar)
        r = _random_scalar()
        t2 = bytes(sodium.crypto_scalarmult_ed25519_base_noclamp(r))
        t3 = _multiply(r, m)
        c = _challenge(public_key, m, z, t2, t3)
        s = sodium.crypto_core_ed25519_scalar_sub(r, sodium.crypto_core_ed25519_scalar_mul(c, self._scalar))
        return evaluated, c + bytes(s)

    def __repr__(self) -> str:
        return f"OprfServerKey(key_id={self.key_id})"


@dataclass(frozen=True, slots=True, repr=False)
class Blind:
    """The client's blinding scalar r for one input. Secret: keep it in memory only until finalize()."""

    scalar: bytes

    def __repr__(self) -> str:
        return "Blind(<secret>)"


def blind(input: bytes) -> tuple[Blind, bytes]:
    """Blind an input: returns (r, r * H1(input)); only the second part is sent to the directory."""
    point = hash_to_group(input)
    r = _random_scalar()
    return Blind(r), _multiply(r, point)


def blind_batch(inputs: Sequence[bytes]) -> tuple[list[Blind], list[bytes]]:
    """Blind many inputs for one evaluate_batch call; returns (blinds, blinded elements) in input order."""
    pairs = [blind(item) for item in inputs]
    return [pair[0] for pair in pairs], [pair[1] for pair in pairs]


def padding_elements(count: int) -> list[bytes]:
    """Random points of the prime-order subgroup, to pad a batch: to the directory they look like blinded
    inputs (a blinded input is a uniformly random point too). No scalar multiplication is needed."""
    return [bytes(sodium.crypto_core_ed25519_from_uniform(os.urandom(32))) for _ in range(count)]


def verify_evaluations(
    public_key: bytes, blinded: Sequence[bytes], evaluated: Sequence[bytes], proof: bytes
) -> None:
    """Check the directory's proof that every evaluated element is k * blinded for the k behind public_key;
    raises Refused if not. Call before finalize_batch(). SPEC: RFC 9497 §2.2.2 VerifyProof."""
    _verify(public_key, blinded, evaluated, proof, blinded_here=False)


def _verify(
    public_key: bytes,
    blinded: Sequence[bytes],
    evaluated: Sequence[bytes],
    proof: bytes,
    *,
    blinded_here: bool,
) -> None:
    """verify_evaluations(); with `blinded_here` the blinded elements are this process's own blind() output
    (r * H1(input), prime-order and not the identity by construction), so only the directory's are checked."""
    if len(proof) != PROOF_BYTES:
        raise Refused(f"OPRF proof is {len(proof)} bytes, not {PROOF_BYTES}")
    c, s = bytes(proof[:32]), bytes(proof[32:])
    if not (_is_canonical_nonzero_scalar(c) and _is_canonical_nonzero_scalar(s)):
        raise Refused("OPRF proof holds a malformed scalar")
    if not is_valid_element(public_key):
        raise Refused("OPRF public key is not a valid point of the prime-order subgroup")
    received = evaluated if blinded_here else [*blinded, *evaluated]
    offset = len(blinded) if blinded_here else 0
    for index, element in enumerate(received, start=offset):
        if not is_valid_element(element):
            raise Refused(f"OPRF proof covers an invalid group element ({index})")
    try:
        m, z = _composites(public_key, blinded, evaluated)
        t2 = _sum([bytes(sodium.crypto_scalarmult_ed25519_base_noclamp(s)), _multiply(c, public_key)])
        t3 = _sum([_multiply(s, m), _multiply(c, z)])
    except (InvalidInput, nacl.exceptions.RuntimeError) as exc:
        raise Refused(f"OPRF proof could not be checked: {exc}") from exc
    if _challenge(public_key, m, z, t2, t3) != c:
        raise Refused("OPRF proof does not verify: the directory did not use its published key")


def finalize(input: bytes, blind: Blind, evaluated: bytes) -> bytes:
    """Unblind the directory's answer and hash it to the 32-byte token for input.

    Raises Refused if the evaluated element is not a valid prime-order point (a misbehaving directory).
    """
    if not is_valid_element(evaluated):
        raise Refused("the OPRF evaluation is not a valid point of the prime-order Ed25519 subgroup")
    return _unblind(input, blind, evaluated)


def _unblind(input: bytes, blind: Blind, evaluated: bytes) -> bytes:
    r_inverse = sodium.crypto_core_ed25519_scalar_invert(blind.scalar)
    unblinded = _multiply(r_inverse, evaluated)
    return _finalize_hash(input, unblinded)


def _check_batch(inputs: Sequence[bytes], blinds: Sequence[Blind], evaluated: Sequence[bytes]) -> None:
    if not len(inputs) == len(blinds) == len(evaluated):
        raise Refused(
            f"OPRF batch mismatch: {len(inputs)} inputs, {len(blinds)} blinds, {len(evaluated)} evaluations"
        )


def finalize_batch(
    inputs: Sequence[bytes], blinds: Sequence[Blind], evaluated: Sequence[bytes]
) -> list[bytes]:
    """Finalize a batch; the three sequences are in the same order and MUST have the same length."""
    _check_batch(inputs, blinds, evaluated)
    return [finalize(i, b, e) for i, b, e in zip(inputs, blinds, evaluated, strict=True)]


def verify_and_finalize(
    public_key: bytes,
    inputs: Sequence[bytes],
    blinds: Sequence[Blind],
    blinded: Sequence[bytes],
    evaluated: Sequence[bytes],
    proof: bytes,
) -> list[bytes]:
    """verify_evaluations() then finalize_batch() for a batch this process blinded itself (blind_batch):
    the same checks and the same tokens, with each element from the directory checked once and the
    process's own blinded elements not checked again. `blinded` may end with padding_elements() beyond
    the inputs: they are proved with the batch, then dropped unopened. Raises Refused as those two do."""
    if len(blinded) != len(evaluated):
        raise Refused(f"OPRF batch mismatch: {len(blinded)} blinded, {len(evaluated)} evaluations")
    real = evaluated[: len(inputs)]
    _check_batch(inputs, blinds, real)
    _verify(public_key, blinded, evaluated, proof, blinded_here=True)
    return [_unblind(i, b, e) for i, b, e in zip(inputs, blinds, real, strict=True)]


def evaluate_direct(key: OprfServerKey, input: bytes) -> bytes:
    """The token computed with the secret directly, no blinding. For tests and offline tooling run by the key
    holder only: a node never holds the key (P4)."""
    return _finalize_hash(input, _multiply(key.to_bytes(), hash_to_group(input)))
