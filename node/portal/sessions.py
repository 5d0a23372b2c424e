"""Server-side portal sessions: the browser holds only a random id; the state stays in this process.

A session ends `idle` after its last request or `absolute` after it began, whichever comes first. The node
applies its own limits to the practitioner's node session as well (node/accounts/service.py).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict


def cookie_name(council_code: str) -> str:
    """__Host-: Secure, path /, no Domain, so no other site or path can set it. Browsers keep cookies per
    host, not per port, so each council's portal names its own (two portals on one machine, in the demo)."""
    return f"__Host-whoelse-{council_code}"


Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Lifetime:
    idle: dt.timedelta = dt.timedelta(minutes=20)
    absolute: dt.timedelta = dt.timedelta(hours=8)
    warn_before: dt.timedelta = dt.timedelta(minutes=3)  # the timeout warning: at least 2 minutes ahead


class PortalSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, sid: str, initial: dict[str, Any] | None = None, *, ended: bool = False) -> None:
        def changed(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, changed)
        self.sid = sid
        self.ended = ended  # the browser presented a session that had timed out or been signed out
        self.modified = False
        self.regenerate = False


@dataclass
class _Stored:
    data: dict[str, Any]
    created_at: dt.datetime
    last_seen_at: dt.datetime


class SessionStore(SessionInterface):
    """In-memory sessions for one portal process (one council's node)."""

    def __init__(
        self,
        lifetime: Lifetime,
        cookie: str,
        clock: Clock = utc_now,
        on_end: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.lifetime = lifetime
        self.cookie = cookie
        self._clock = clock
        self._on_end = on_end
        self._sessions: dict[str, _Stored] = {}
        self._lock = threading.Lock()
        self._swept_at = clock()

    def _expired(self, stored: _Stored, now: dt.datetime) -> bool:
        return (
            now >= stored.created_at + self.lifetime.absolute
            or now >= stored.last_seen_at + self.lifetime.idle
        )

    def _sweep(self, now: dt.datetime) -> list[_Stored]:
        """Drop every expired session (called with the lock held, at most once a minute)."""
        if now - self._swept_at < dt.timedelta(minutes=1):
            return []
        self._swept_at = now
        gone = [sid for sid, stored in self._sessions.items() if self._expired(stored, now)]
        return [self._sessions.pop(sid) for sid in gone]

    def _end(self, stored: _Stored) -> None:
        if self._on_end is not None:
            self._on_end(stored.data)

    def open_session(self, app: Flask, request: Request) -> PortalSession:
        sid = request.cookies.get(self.cookie, "")
        now = self._clock()
        with self._lock:
            ended = self._sweep(now)
            stored = self._sessions.get(sid)
            if stored is not None and self._expired(stored, now):
                ended.append(self._sessions.pop(sid))
                stored = None
            if stored is not None:
                stored.last_seen_at = now
        for gone in ended:
            self._end(gone)
        if stored is None:
            return PortalSession(secrets.token_urlsafe(32), ended=bool(sid))
        return PortalSession(sid, dict(stored.data))

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, PortalSession)
        now = self._clock()
        with self._lock:
            if session.regenerate:  # a new id at sign-in and sign-out, so an id seen before is worthless
                self._sessions.pop(session.sid, None)
                session.sid = secrets.token_urlsafe(32)
            if not session:
                self._sessions.pop(session.sid, None)
                if session.regenerate or session.ended:
                    response.delete_cookie(
                        self.cookie, path="/", secure=True, httponly=True, samesite="Strict"
                    )
                return
            stored = self._sessions.get(session.sid)
            if stored is None:
                stored = self._sessions[session.sid] = _Stored({}, now, now)
            stored.data = dict(session)
        response.set_cookie(self.cookie, session.sid, path="/", secure=True, httponly=True, samesite="Strict")

    def end_all(self) -> None:
        with self._lock:
            ended, self._sessions = list(self._sessions.values()), {}
        for stored in ended:
            self._end(stored)
