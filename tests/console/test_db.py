"""The engine's handling of pooled connections."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import time
from pathlib import Path

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


def test_commits_leave_the_write_ahead_log_to_the_tick(tmp_path: Path) -> None:
    """A commit that crosses SQLite's own threshold (1,000 pages) no longer folds the log into the
    database itself; `checkpoint_wal`, which each server's tick calls, does."""
    path = tmp_path / "wal.sqlite"
    fresh = Database(f"sqlite:///{path}")
    try:
        with fresh.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == (
                db.WAL_BACKSTOP_PAGES
            )
        with fresh.transaction() as session:
            session.execute(text("CREATE TABLE note (body TEXT)"))
            session.execute(text("INSERT INTO note VALUES ('in the log')"))
        # The database file alone, without its log, does not have the row yet...
        assert _rows_in_file_alone(path, tmp_path / "before.sqlite") is None
        fresh.checkpoint_wal()
        # ...and has it once checkpointed, while the log stays in place for the next writes.
        assert _rows_in_file_alone(path, tmp_path / "after.sqlite") == [("in the log",)]
    finally:
        fresh.dispose()


def _rows_in_file_alone(path: Path, copy: Path) -> list[tuple[str]] | None:
    shutil.copyfile(path, copy)
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        try:
            return conn.execute("SELECT body FROM note").fetchall()
        except sqlite3.OperationalError:  # no such table: it is still in the log
            return None
