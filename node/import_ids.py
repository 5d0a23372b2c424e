"""The record ids an import has read, and the line each was first on, in 20 bytes an id.

An import must refuse a record id listed twice, naming both lines, and a full refresh must know every id
the export lists; a dictionary of a million ids costs about 130 MB. This table keeps a 128-bit BLAKE2b
digest of each id with its line in one flat bytearray (open addressing, linear probing, at most half
full), about 40 MB at a million ids. Two different ids share a digest with probability about n² / 2¹²⁹
(10⁻²⁷ at a million): they would be reported as one id listed twice, never merged.
"""

from __future__ import annotations

import hashlib

_DIGEST = 16
_LINE = 4
_SLOT = _DIGEST + _LINE
_EMPTY = bytes(_DIGEST)
_MIN_SLOTS = 1 << 10


def _digest(record_id: str) -> bytes:
    d = hashlib.blake2b(record_id.encode("utf-8", "surrogatepass"), digest_size=_DIGEST).digest()
    return d if d != _EMPTY else b"\x01" + d[1:]  # all zeros marks an empty slot


class RecordIds:
    """record id → the line it was first on (negative: that row was invalid). Grows as needed."""

    def __init__(self) -> None:
        self._table = bytearray(_MIN_SLOTS * _SLOT)
        self._mask = _MIN_SLOTS - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _find(self, digest: bytes) -> tuple[int, bool]:
        """(byte offset of digest's slot or of the empty slot where it would go, whether it is there)."""
        table, mask = self._table, self._mask
        slot = int.from_bytes(digest[:8], "little") & mask
        while True:
            at = slot * _SLOT
            stored = table[at : at + _DIGEST]
            if stored == digest:
                return at, True
            if stored == _EMPTY:
                return at, False
            slot = (slot + 1) & mask

    def get(self, record_id: str) -> int | None:
        at, found = self._find(_digest(record_id))
        return self._line(at) if found else None

    def __contains__(self, record_id: object) -> bool:
        return isinstance(record_id, str) and self._find(_digest(record_id))[1]

    def remember(self, record_id: str, line: int) -> int | None:
        """The line `record_id` was first on; or, for an id not seen before, None, and it is now on
        `line`."""
        digest = _digest(record_id)
        at, found = self._find(digest)
        if found:
            return self._line(at)
        self._table[at : at + _SLOT] = digest + line.to_bytes(_LINE, "little", signed=True)
        self._count += 1
        if 2 * self._count > self._mask + 1:
            self._grow()
        return None

    def _line(self, at: int) -> int:
        return int.from_bytes(self._table[at + _DIGEST : at + _SLOT], "little", signed=True)

    def _grow(self) -> None:
        old = self._table
        self._table = bytearray(2 * len(old))
        self._mask = 2 * (self._mask + 1) - 1
        for at in range(0, len(old), _SLOT):
            digest = bytes(old[at : at + _DIGEST])
            if digest != _EMPTY:
                new_at, _ = self._find(digest)
                self._table[new_at : new_at + _SLOT] = old[at : at + _SLOT]
