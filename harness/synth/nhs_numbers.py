"""Synthetic NHS numbers: unique per child, valid modulus-11 check digit, never a number issued in England.

England and Wales issue NHS numbers from 400 000 000x-499 999 999x and 600 000 000x-799 999 999x; we only
use 900 000 000x-999 999 999x, so a synthetic record can never carry a real child's number.
SPEC: https://www.datadictionary.nhs.uk/attributes/nhs_number.html (check digit: weights 10..2, mod 11).
"""

from __future__ import annotations

import operator
import random

_BASE = 900_000_000  # first nine digits start here
_SPAN = 100_000_000  # 900 000 000 .. 999 999 999
_PRIME = 100_000_007  # smallest prime above _SPAN: an affine map mod p is a permutation of 0..p-1


_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
# Weighted digit sums of each three-digit group, so allocating a number costs three look-ups.
_HIGH, _MID, _LOW = (
    tuple(sum(int(d) * w for d, w in zip(f"{n:03d}", weights, strict=True)) for n in range(1000))
    for weights in (_WEIGHTS[0:3], _WEIGHTS[3:6], _WEIGHTS[6:9])
)


def check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit for nine digits, or None when no valid number has them (remainder 10)."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("an NHS number's check digit needs exactly nine digits")
    total = sum(map(operator.mul, map(int, first_nine), _WEIGHTS))
    digit = 11 - total % 11
    if digit == 11:
        return 0
    return None if digit == 10 else digit


def is_valid(number: str) -> bool:
    """True for ten digits (spaces ignored) ending in the modulus-11 check digit of the first nine."""
    digits = number.replace(" ", "")
    return len(digits) == 10 and digits.isdigit() and check_digit(digits[:9]) == int(digits[9])


class NhsNumberAllocator:
    """Maps a person's index to a distinct valid number, scrambled by the seed (no shared state, no sets).

    Person i tries slots 4i..4i+3 of a seeded permutation; a slot whose check digit would be 10 is skipped.
    All four slots fail for about one person in 15,000, who then simply has no NHS number.
    """

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"nhs:{seed}")
        self._a = rng.randrange(1, _PRIME)
        self._b = rng.randrange(_PRIME)

    def _slot(self, x: int) -> int:
        y = (self._a * x + self._b) % _PRIME
        while y >= _SPAN:  # cycle-walk back into range: still a permutation of 0.._SPAN-1
            y = (self._a * y + self._b) % _PRIME
        return y

    def number(self, person_index: int) -> str:
        if not 0 <= person_index < _SPAN // 4:
            raise ValueError("person index out of range for synthetic NHS numbers")
        for slot in range(4 * person_index, 4 * person_index + 4):
            nine = _BASE + self._slot(slot)
            # the weighted digit sum of a nine-digit number, three digits at a time (see check_digit)
            remainder = (_HIGH[nine // 1_000_000] + _MID[nine // 1000 % 1000] + _LOW[nine % 1000]) % 11
            if remainder != 1:  # remainder 1 would need check digit 10: no valid number
                return f"{nine}{(11 - remainder) % 11}"
        return ""
