"""Server-side portal sessions end after their idle and absolute limits, and say so to the node."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, session

from whoelse.node.portal.sessions import Lifetime, PortalSession, SessionStore, cookie_name

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def _app(clock: Clock, ended: list[dict[str, Any]]) -> Flask:
    app = Flask(__name__)
    app.session_interface = SessionStore(
        Lifetime(idle=dt.timedelta(minutes=20), absolute=dt.timedelta(hours=8)),
        cookie_name("E08000036"),
        clock=clock,
        on_end=ended.append,
    )

    @app.get("/in")
    def sign_in() -> str:
        assert isinstance(session, PortalSession)
        session.regenerate = True
        session["token"] = "node-token"
        return "in"

    @app.get("/who")
    def who() -> str:
        assert isinstance(session, PortalSession)
        return f"{session.get('token', '-')} ended={session.ended}"

    return app


def test_a_session_ends_after_20_idle_minutes_and_its_node_session_with_it() -> None:
    clock, ended = Clock(), list[dict[str, Any]]()
    client = _app(clock, ended).test_client()
    client.get("/in")
    clock.now += dt.timedelta(minutes=19)
    assert client.get("/who").text == "node-token ended=False"  # a request restarts the idle timer
    clock.now += dt.timedelta(minutes=19)
    assert client.get("/who").text == "node-token ended=False"
    clock.now += dt.timedelta(minutes=20)
    assert client.get("/who").text == "- ended=True"
    assert ended == [{"token": "node-token"}]


def test_a_session_ends_8_hours_after_sign_in_however_busy() -> None:
    clock, ended = Clock(), list[dict[str, Any]]()
    client = _app(clock, ended).test_client()
    client.get("/in")
    for _ in range(8 * 4 - 1):
        clock.now += dt.timedelta(minutes=15)
        assert client.get("/who").text == "node-token ended=False"
    clock.now += dt.timedelta(minutes=15)
    assert client.get("/who").text == "- ended=True"
    assert len(ended) == 1
    assert client.get("/who").text == "- ended=False"  # the ended session's cookie was removed


def test_the_cookie_is_a_fresh_random_id_with_strict_flags() -> None:
    clock: Clock = Clock()
    client = _app(clock, []).test_client()
    client.get("/who")
    assert client.get_cookie(cookie_name("E08000036")) is None  # nothing stored, nothing set
    first = client.get("/in").headers["Set-Cookie"]
    second = client.get("/in").headers["Set-Cookie"]
    assert first.split(";")[0] != second.split(";")[0]  # a new id at each sign-in
    flags = {part.strip() for part in first.split(";")[1:]}
    assert {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"} <= flags
    assert first.startswith("__Host-whoelse-E08000036=")
