"""Running a server process until it is told to stop (SIGINT or SIGTERM)."""

from __future__ import annotations

import gc
import signal
import threading


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
