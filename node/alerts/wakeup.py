"""Waking the alert sender when a change queues alerts, instead of leaving them for the next poll.

The outbox stays the durable record; a wake-up only says "look now". The contract:
- A wake-up MUST be sent only once the transaction that queued the alerts has committed (a rolled-back
  change wakes nobody), and losing one MUST NOT lose an alert: the sender still polls as a fallback.
- PostgreSQL: `enqueue` issues NOTIFY in the queuing transaction, which the server delivers at commit to
  every listening node, whichever process made the change.
- SQLite: after commit, waiters in the same process are woken directly, and a node in another process
  (`whoelse node import` beside a running node) by a datagram on a socket beside the database file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from whoelse.node.storage.database import Database

log = logging.getLogger(__name__)
CHANNEL = "whoelse_alert_outbox"
_QUEUED = "whoelse_alerts_queued"
_SOCKET_SUFFIX = ".alerts-wake"
_MAX_SOCKET_PATH = 100  # sockaddr_un holds 108 bytes

_waiters: dict[str, set[OutboxWaker]] = {}
_waiters_lock = threading.Lock()


def _key(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _socket_path(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).resolve()
    wake = path.with_name(path.name + _SOCKET_SUFFIX)
    return wake if len(os.fsencode(wake)) <= _MAX_SOCKET_PATH else None


def alerts_queued(session: Session) -> None:
    """Called by `enqueue` in the transaction that queues alerts: wake the sender once it commits."""
    session.info[_QUEUED] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))  # delivered by the server at commit, not before


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if not session.info.pop(_QUEUED, False):
        return
    url = session.get_bind().engine.url
    with _waiters_lock:
        local = list(_waiters.get(_key(url), ()))
    for waker in local:
        waker.wake()
    path = _socket_path(url)
    if path is not None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
            sock.setblocking(False)
            sock.sendto(b"!", str(path))  # no node listening: nothing to wake


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_QUEUED, None)


class OutboxWaker:
    """What the sender waits on: set by a commit that queued alerts here, by NOTIFY from PostgreSQL, or by a
    datagram from another process on SQLite. `wait` returns early when woken, else after the timeout."""

    def __init__(self, db: Database) -> None:
        self._url = db.url
        self._event = threading.Event()
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socket: socket.socket | None = None
        self._socket_path: Path | None = None
        with _waiters_lock:
            _waiters.setdefault(_key(self._url), set()).add(self)
        if self._url.get_backend_name() == "postgresql":
            self._start(self._listen_postgres, "alerts-listen")
        else:
            self._bind_socket()

    def _start(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def wake(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Wait until woken or `timeout` seconds pass; True if woken. Clears the wake-up either way."""
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken

    def close(self) -> None:
        self._closed.set()
        self._event.set()
        with _waiters_lock:
            _waiters.get(_key(self._url), set()).discard(self)
        if self._socket is not None:
            self._socket.close()
            if self._socket_path is not None:
                with contextlib.suppress(OSError):
                    self._socket_path.unlink()
        for thread in self._threads:
            thread.join(timeout=2)

    # --- SQLite: a datagram socket beside the database file -----------------------------------------------

    def _bind_socket(self) -> None:
        path = _socket_path(self._url)
        if path is None:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # left by a node that was killed
            sock.bind(str(path))
            path.chmod(0o600)
        except OSError as exc:
            sock.close()
            log.warning("alerts: no wake-up socket at %s (%s); queued alerts wait for the poll", path, exc)
            return
        self._socket, self._socket_path = sock, path
        self._start(self._read_socket, "alerts-wake")

    def _read_socket(self) -> None:
        sock = self._socket
        assert sock is not None
        while not self._closed.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], 0.5)
                if ready:
                    sock.recv(64)
                    self._event.set()
            except (OSError, ValueError):  # closed
                return

    # --- PostgreSQL: LISTEN on a connection of its own ----------------------------------------------------

    def _listen_postgres(self) -> None:
        import psycopg

        conninfo = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._closed.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._event.set()  # anything queued while not listening is looked at now
                    while not self._closed.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self._event.set()
            except psycopg.Error as exc:
                log.warning("alerts: LISTEN %s failed (%s); retrying, polled meanwhile", CHANNEL, exc)
                self._closed.wait(1.0)
