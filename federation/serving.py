"""Running a server process until it is told to stop (SIGINT or SIGTERM)."""

from __future__ import annotations

import signal
import threading


def wait_for_stop(ready: threading.Event | None = None) -> None:
    """Block until SIGINT or SIGTERM; set `ready` (if given) once the handlers are in place."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if ready is not None:
        ready.set()
    stop.wait()
