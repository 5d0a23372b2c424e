"""Running a server process until it is told to stop (SIGINT or SIGTERM)."""

from __future__ import annotations

import gc
import json
import os
import signal
import threading
from pathlib import Path


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
