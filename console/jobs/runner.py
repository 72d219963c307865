"""Where jobs run: an RQ queue when Redis is configured, in-process threads otherwise.

If Redis refuses a job, it runs in-process instead: the work is a sweep over the database, so
running it here is always correct, and nothing waits on Redis coming back.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from console.jobs.periodic import PERIODIC_JOBS

log = logging.getLogger(__name__)

QUEUE_NAME = "helpline"
JobArg = int | str | None


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    func: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return func


def _run_safely(path: str, args: tuple[JobArg, ...]) -> None:
    try:
        resolve(path)(*args)
    except Exception:
        log.warning("job %s failed", path, exc_info=True)


class JobRunner:
    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self._queue: Any = None
        self._last_run: dict[str, float] = {}
        if redis_url:
            import redis
            from rq import Queue

            connection = redis.Redis.from_url(
                redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
            )
            self._queue = Queue(QUEUE_NAME, connection=connection)

    def enqueue(self, path: str, *args: JobArg, delay: float | None = None) -> None:
        """Run `path(*args)` soon (after `delay` seconds). Arguments are IDs, never objects."""
        if self._queue is not None:
            try:
                if delay:
                    import datetime as dt

                    self._queue.enqueue_in(dt.timedelta(seconds=delay), path, *args)
                else:
                    self._queue.enqueue(path, *args)
                return
            except Exception:
                log.warning("redis refused job %s; running it in-process", path)
        if delay:
            timer = threading.Timer(delay, _run_safely, args=(path, args))
            timer.daemon = True
            timer.start()
        else:
            threading.Thread(target=_run_safely, args=(path, args), daemon=True).start()

    def run_due_periodic(self, now: float | None = None) -> None:
        """Embedded mode: run each periodic job in this process when its interval has passed."""
        now = time.monotonic() if now is None else now
        for job in PERIODIC_JOBS:
            last = self._last_run.get(job.func)
            if last is None:
                self._last_run[job.func] = now
                continue
            if now - last >= job.every:
                self._last_run[job.func] = now
                _run_safely(job.func, ())
