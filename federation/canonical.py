"""Canonical bytes for objects that get signed, so signer and verifier hash exactly the same thing.

SPEC: RFC 8785 (JSON Canonicalization Scheme, https://www.rfc-editor.org/rfc/rfc8785) restricted to a subset
with no floating-point numbers, which is where JCS implementations disagree least:
- objects: keys MUST be strings, sorted by their UTF-16 code units (RFC 8785 §3.2.3), no duplicates;
- no whitespace; strings escaped as RFC 8785 §3.2.2.2 (only `"`, `\\` and control characters), UTF-8 output;
- integers MUST lie in the IEEE-754 exact range ±(2**53 - 1) so any JCS implementation reads them the same;
- floats MUST NOT appear (a time is an integer of milliseconds, a score a string or an integer);
- `bytes` values are written as standard base64 strings with padding (RFC 4648 §4).

`bytes` and a `str` holding the same base64 text encode identically: the verifier rebuilds the object from its
own typed schema, so both sides always agree on which fields are bytes. Signatures add a context string
(federation/signing.py) so an object of one kind can never be taken for another.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from whoelse.federation.errors import InvalidInput

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer every JSON reader (JavaScript included) represents exactly."""


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """Encode a mapping as canonical JSON (UTF-8 bytes). Raises InvalidInput naming the offending field."""
    if not isinstance(obj, Mapping):
        raise InvalidInput(f"a signed object must be a mapping, not {type(obj).__name__}")
    try:
        prepared = _prepare_plain(obj)
    except _NotPlain:
        prepared = _prepare(obj, "$")
    text = json.dumps(prepared, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate cannot be written as UTF-8
        raise InvalidInput("a signed object holds a string that is not valid Unicode") from exc


def _prepare(value: Any, path: str) -> Any:
    """Check one value against the subset and turn it into what json.dumps writes canonically."""
    # bool first: it is a subclass of int.
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise InvalidInput(f"{path}: integer {value} is outside ±(2**53 - 1) and cannot be signed")
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, float):
        raise InvalidInput(f"{path}: floating-point numbers cannot be signed; use an integer or a string")
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise InvalidInput(f"{path}: object key {key!r} is not a string")
        # RFC 8785 §3.2.3: sort by UTF-16 code units; json.dumps keeps insertion order when sort_keys=False.
        ordered = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return {key: _prepare(value[key], f"{path}.{key}") for key in ordered}
    if isinstance(value, Sequence):
        return [_prepare(item, f"{path}[{index}]") for index, item in enumerate(value)]
    raise InvalidInput(f"{path}: a {type(value).__name__} cannot be signed")


class _NotPlain(Exception):
    """Raised by _prepare_plain for anything it leaves to _prepare (which also names a bad field)."""


def _prepare_plain(value: Any) -> Any:
    """_prepare for the common case, with no field paths built: plain dicts with ASCII keys (sorted by
    code point, the same order as UTF-16 code units for ASCII), lists, tuples, str, bool, None, bytes and
    safe ints. Anything else, valid or not, raises _NotPlain and goes through _prepare, so both give the
    same bytes and the same errors."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise _NotPlain
    if kind is dict:
        keys = list(value)
        for key in keys:
            if type(key) is not str or not key.isascii():
                raise _NotPlain
        keys.sort()
        return {key: _prepare_plain(value[key]) for key in keys}
    if kind is list or kind is tuple:
        return [_prepare_plain(item) for item in value]
    if kind is bytes:
        return base64.b64encode(value).decode("ascii")
    raise _NotPlain
