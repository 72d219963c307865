"""Benchmarks: each module is run with `python -m bench.<name>` and ends with JSON lines."""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def no_collection() -> Iterator[None]:
    """The load generator does not collect garbage while it measures.

    Its hundreds of Socket.IO clients live in one process: a full collection of their objects
    stalls every message in flight, and would be measured as the server's latency (seen as
    ~200 ms stalls, on the app and its baseline alike). The load generator is not under test.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


class Watchdog:
    """Ends the whole run, servers included, if it overruns: the benchmark always stops."""

    def __init__(self, seconds: float, name: str) -> None:
        self.name = name
        self.processes: list[subprocess.Popen[bytes]] = []
        self.cleanups: list[Callable[[], None]] = []
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        print(
            f"[{self.name}] watchdog: the run took too long; stopping the servers and exiting",
            file=sys.stderr,
            flush=True,
        )
        for proc in self.processes:
            with contextlib.suppress(OSError):
                proc.kill()
        for cleanup in self.cleanups:
            with contextlib.suppress(Exception):
                cleanup()
        os._exit(3)


@contextlib.contextmanager
def temporary_database(
    database_url: str | None, workdir: Path, label: str, *, keep: bool = False
) -> Iterator[str]:
    """A fresh database of the benchmark's own: a SQLite file in `workdir` (or the SQLite URL
    given), or a PostgreSQL database created on the given server and dropped afterwards (as
    tests/conftest.py does), unless `keep`."""
    if not database_url or database_url.startswith("sqlite"):
        yield database_url or f"sqlite:///{workdir / f'{label}.sqlite3'}"
        return
    from sqlalchemy import create_engine, text

    admin_url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"helpline_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
