"""Server logs as JSON lines (structlog), each carrying the request id of the search or query it is about.

A request id is bound for the length of one request (`request(...)`): the practitioner's node makes one for
each search, a council answering a query and the directory routing it use the query id, so one search can
be followed through every log. Log lines MUST NOT hold a child's details: a search is named by its ids, a
record by the council's own record id.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

import structlog

_request_id: ContextVar[str] = ContextVar("whoelse_request_id", default="")


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def request(request_id: str) -> Iterator[str]:
    """Every line logged in this block (in this thread or task) names `request_id`."""
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)


class RequestIds(logging.Filter):
    """Stamps each record with the request id bound where it was logged (before any handler formats it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def _request_id_of(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    record = event.get("_record")
    request_id = getattr(record, "request_id", "") if record is not None else _request_id.get()
    if request_id:
        event["request_id"] = request_id
    return event


def json_formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _request_id_of,
            structlog.processors.format_exc_info,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )


def configure(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Send every log record in this process to `stream` (stderr) as one JSON object a line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIds())
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    return handler
