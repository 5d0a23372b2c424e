"""`whoelse bench node` and `whoelse bench match` (filled in below)."""

from __future__ import annotations

from typing import Any


def register(benchmarks: Any) -> None:
    return None
