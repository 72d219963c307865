"""Taking turns for SQLite's write lock: one writer at a time, across threads and processes.

SQLite lets one transaction write at a time. A writer that finds the lock taken sleeps in its busy
handler in growing steps (1, 2, 5, 10 … 100 ms), so under a burst of calls the lock often sits
idle while every waiter sleeps; that, not the writes, made the tail. Here waiters queue on an
exclusive `flock` of a file beside the database instead: the kernel wakes the next one the moment
the lock is released. Each thread holds its own descriptor (flock is per open file), so threads of
one process queue as well as processes do. On PostgreSQL it does nothing: rows lock there.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from console.db import Database


class WriterTurns:
    def __init__(self, database: Database) -> None:
        self.path: str | None = None
        if database.is_sqlite:
            path = database.url.split("///", 1)[-1]
            if path and path != ":memory:":
                self.path = f"{path}.writers"
        self._local = threading.local()

    def _fd(self) -> int:
        fd: int | None = getattr(self._local, "fd", None)
        if fd is None:
            assert self.path is not None
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._local.fd = fd
        return fd

    @contextmanager
    def turn(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        fd = self._fd()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
