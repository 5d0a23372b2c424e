"""Server log lines are JSON objects naming the request they belong to."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from whoelse.federation import logs


@pytest.fixture()
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    logs.configure(stream)
    try:
        yield stream
    finally:
        root.handlers, root.level = saved[0], saved[1]


def test_each_line_is_json_with_its_request_id(captured: io.StringIO) -> None:
    log = logging.getLogger("whoelse.test")
    with logs.request("q-7f3a"):
        log.warning("council %s did not answer", "E08000032")
    log.info("outside any request")
    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["event"] == "council E08000032 did not answer"
    assert (first["level"], first["logger"], first["request_id"]) == ("warning", "whoelse.test", "q-7f3a")
    assert first["timestamp"].endswith("Z")
    assert "request_id" not in second


def test_an_exception_is_one_json_line(captured: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("whoelse.test").exception("upkeep failed")
    [line] = captured.getvalue().splitlines()
    assert "ValueError: boom" in json.loads(line)["exception"]
