"""Embedded mode's SQLite writers take turns on a lock in the process (console.db)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from console.db import Database


def test_turns_pass_on_commit_rollback_and_error(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'w.sqlite3'}", sole_writer=True)
    try:
        with database.transaction() as session:
            session.execute(text("CREATE TABLE t (n INTEGER)"))

        def failing_view() -> None:
            with database.transaction() as session:
                session.execute(text("INSERT INTO t VALUES (1)"))
                raise RuntimeError("the view failed")

        with pytest.raises(RuntimeError):
            failing_view()
        session = database.write()
        session.execute(text("INSERT INTO t VALUES (2)"))
        session.close()  # closed without commit or rollback: the turn passes all the same

        order: list[str] = []
        held = threading.Event()

        def first() -> None:
            with database.transaction() as s:
                s.execute(text("INSERT INTO t VALUES (3)"))
                held.set()
                time.sleep(0.2)
                order.append("first")

        def second() -> None:
            held.wait(5)
            started = time.perf_counter()
            with database.transaction() as s:
                s.execute(text("INSERT INTO t VALUES (4)"))
                order.append("second")
            order.append(f"waited {time.perf_counter() - started:.2f}")

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert order[:2] == ["first", "second"]
        assert float(order[2].split()[1]) < 1.0  # woken at the commit, not after a busy sleep
        with database.transaction(write=False) as s:
            assert sorted(s.scalars(text("SELECT n FROM t"))) == [3, 4]
    finally:
        database.dispose()
