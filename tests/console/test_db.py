"""The engine's handling of pooled connections."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from console import db
from console.db import Database


def _backend_pid(database: Database) -> int:
    with database.transaction(write=False) as session:
        return int(session.scalar(text("SELECT pg_backend_pid()")))


def test_an_idle_connection_the_server_dropped_is_replaced_unseen(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection that sat idle is pinged before use, so one the server closed meanwhile
    (a restart, an idle timeout) is replaced and the request goes through."""
    if database.is_sqlite:
        pytest.skip("a SQLite connection is a file, with no server to drop it")
    monkeypatch.setattr(db, "_PING_AFTER_IDLE", 0.05)
    fresh = Database(database.url, pool_size=1, max_overflow=0)
    try:
        dropped = _backend_pid(fresh)
        with database.engine.connect() as admin:
            assert admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
        time.sleep(0.1)
        assert _backend_pid(fresh) != dropped
    finally:
        fresh.dispose()


def test_a_connection_back_in_use_at_once_is_not_pinged(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Busy servers skip the ping's round trip: a connection just handed back is alive."""
    if database.is_sqlite:
        pytest.skip("SQLite's engine pings nothing")
    monkeypatch.setattr(db, "_PING_AFTER_IDLE", 60.0)
    fresh = Database(database.url, pool_size=1, max_overflow=0)
    pings: list[object] = []
    monkeypatch.setattr(fresh.engine.dialect, "do_ping", lambda conn: pings.append(conn) or True)
    try:
        first = _backend_pid(fresh)
        assert _backend_pid(fresh) == first
        assert pings == []
        monkeypatch.setattr(db, "_PING_AFTER_IDLE", 0.0)
        assert _backend_pid(fresh) == first
        assert len(pings) == 1
    finally:
        fresh.dispose()
