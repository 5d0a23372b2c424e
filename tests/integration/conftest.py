"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Federation
from tests.integration.test_federation import LEEDS, ZOE_LEEDS


@pytest.fixture()
def leeds_alone(tmp_path: Path) -> Iterator[Federation]:
    """A directory and one council (Leeds, holding Zoë): enough to test what every port does."""
    fed = Federation(tmp_path)
    try:
        fed.add_council(LEEDS, "Leeds", [ZOE_LEEDS])
        yield fed
    finally:
        fed.stop()
