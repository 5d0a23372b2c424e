"""Running a server process until it is told to stop (SIGINT or SIGTERM), with its allocator set for the
large messages a search moves."""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import threading
from pathlib import Path

# glibc's mallopt(3) parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024


def keep_large_buffers() -> bool:
    """Let glibc reuse freed multi-megabyte buffers instead of returning each one to the kernel.

    A search moves a few large messages through each process: the origin's 152 sealed deliveries (2.5 MB),
    the directory's 152 padded answers (4.9 MB), gRPC's buffers for both. By default glibc gives every
    freed block above its mmap threshold straight back to the kernel, so the next message of that size
    faults in every page afresh; serialising the directory's answers took 12-20 ms instead of under 1 ms
    (docs/benchmarks.md, "Large buffers"). Raising the mmap and trim thresholds keeps up to
    TRIM_THRESHOLD_BYTES of freed memory in the process for reuse. Call it once, before serving. Returns
    False where the C library has no mallopt (not glibc), which changes nothing else."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


def write_ports(path: Path, ports: dict[str, int]) -> None:
    """Record the ports a server bound (it may have asked for port 0), all at once: a reader never sees a
    half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(ports), encoding="utf-8")
    os.replace(partial, path)


def wait_for_stop(ready: threading.Event | None = None) -> None:
    """Block until SIGINT or SIGTERM; set `ready` (if given) once the handlers are in place.

    What start-up built (settings, keys, the council list, gRPC and SQLAlchemy machinery) lives as long as
    the process, so it is moved out of the garbage collector's view first: otherwise every full collection
    while the server answers queries walks all of it again."""
    gc.collect()
    gc.freeze()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if ready is not None:
        ready.set()
    stop.wait()
