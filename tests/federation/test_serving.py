"""A serving process keeps freed multi-megabyte buffers for reuse instead of faulting them in again for every
search (federation/serving.keep_large_buffers)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

# Run in a child process: what glibc does with an 8 MB buffer depends on the process's allocation history,
# and the test must not retune the allocator of the process running the other tests.
_PROBE = """
import ctypes, json, sys
from whoelse.federation.serving import keep_large_buffers

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
tuned = keep_large_buffers() if sys.argv[1] == "tuned" else None
before = libc.mallinfo2()
buffer = bytearray(8 * 1024 * 1024)
during = libc.mallinfo2()
del buffer
after = libc.mallinfo2()
print(json.dumps({
    "tuned": tuned,
    "mapped_for_it": during.hblkhd - before.hblkhd,
    "kept_free": after.fordblks,
}))
"""


def _probe(mode: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True, timeout=60
    )
    result: dict[str, int] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's allocator only"
)
def test_a_freed_large_buffer_stays_in_the_process_for_the_next_message() -> None:
    untuned = _probe("default")
    assert untuned["mapped_for_it"] >= 8 * 1024 * 1024  # glibc's default: mapped, and unmapped when freed

    tuned = _probe("tuned")
    assert tuned["tuned"] is True
    assert tuned["mapped_for_it"] == 0  # from the heap...
    assert tuned["kept_free"] >= 8 * 1024 * 1024  # ...and kept there for the next message
