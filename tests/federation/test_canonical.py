"""Canonical JSON: the bytes a signature covers must not depend on who built the object or how."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from whoelse.federation.canonical import MAX_SAFE_INTEGER, canonical_json
from whoelse.federation.errors import InvalidInput


def test_key_order_and_whitespace_do_not_matter() -> None:
    one = {"b": 1, "a": [True, None, "x"], "c": {"z": 0, "y": -1}}
    other = OrderedDict([("c", OrderedDict([("y", -1), ("z", 0)])), ("a", (True, None, "x")), ("b", 1)])
    assert canonical_json(one) == canonical_json(other) == b'{"a":[true,null,"x"],"b":1,"c":{"y":-1,"z":0}}'


def test_keys_sort_by_utf16_code_units_as_rfc8785_section_3_2_3() -> None:
    # The RFC's own sorting example: code-point order would put U+FB33 before the emoji.
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    encoded = canonical_json({key: index for index, key in enumerate(keys)}).decode()
    assert encoded == '{"\\r":1,"1":3,"\u0080":5,"\u00f6":6,"\u20ac":0,"\U0001f600":4,"\ufb33":2}'


def test_strings_are_utf8_with_only_the_rfc8785_escapes() -> None:
    assert canonical_json({"s": 'Zoë "O\'Neill"\n\t\x01/'}) == 'Zoë \\"O\'Neill\\"\\n\\t\\u0001/'.join(
        ['{"s":"', '"}']
    ).encode("utf-8")


def test_bytes_are_written_as_padded_base64() -> None:
    assert canonical_json({"tag": b"\x00\xff\x10"}) == b'{"tag":"AP8Q"}'
    assert canonical_json({"tag": b"\xff"}) == b'{"tag":"/w=="}'


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"score": 0.5}, r"\$\.score: floating-point"),
        ({"n": MAX_SAFE_INTEGER + 1}, r"\$\.n: integer .* outside"),
        ({"a": [1, {"b": object()}]}, r"\$\.a\[1\]\.b: a object cannot be signed"),
        ({"a": {1: "x"}}, r"\$\.a: object key 1 is not a string"),
        ({"s": "\ud800"}, "not valid Unicode"),
    ],
)
def test_values_outside_the_subset_are_refused_naming_the_field(obj: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        canonical_json(obj)


def test_the_largest_safe_integers_are_allowed() -> None:
    assert canonical_json({"n": -MAX_SAFE_INTEGER}) == b'{"n":-9007199254740991}'


def test_plain_and_unusual_containers_give_the_same_bytes() -> None:
    # Plain dicts with ASCII keys take a quicker path; anything else takes the general one. Same bytes.
    plain = {"z": [1, "a", None, True], "b": {"y": b"\x00\xff", "x": (2, 3)}, "é": {"k": "v"}}
    unusual = OrderedDict(
        [
            ("é", OrderedDict(k="v")),
            ("b", {"x": [2, 3], "y": bytearray(b"\x00\xff")}),
            ("z", (1, "a", None, True)),
        ]
    )
    expected = '{"b":{"x":[2,3],"y":"AP8="},"z":[1,"a",null,true],"é":{"k":"v"}}'.encode()
    assert canonical_json(plain) == canonical_json(unusual) == expected
    assert canonical_json({"m": memoryview(b"\xff")}) == canonical_json({"m": b"\xff"}) == b'{"m":"/w=="}'
    with pytest.raises(InvalidInput, match=r"\$\.b\.x\[1\]: integer"):
        canonical_json({"b": {"x": [0, MAX_SAFE_INTEGER + 1]}})
