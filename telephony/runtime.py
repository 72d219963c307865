"""What telephony's webhooks, hooks and jobs share in one process.

`create_app` configures it through `telephony.init_app`; an RQ worker builds it lazily from the job
context. The Twilio REST transport and the job runner are swapped here by the simulator and tests.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from console.db import Database
from console.domain.hours import OpeningHours, load_hours
from console.settings import QueueSettings, Settings
from telephony.rest import TwilioRest
from telephony.settings import TelephonySettings, load_telephony_settings
from telephony.writers import WriterTurns


class Jobs(Protocol):
    def enqueue(self, path: str, *args: int | str | None, delay: float | None = None) -> None: ...


@dataclass
class Runtime:
    settings: Settings
    tset: TelephonySettings
    hours: OpeningHours
    database: Database
    rest: TwilioRest
    writers: WriterTurns
    jobs: Jobs | None = None
    # The base URL Twilio reached us on most recently: REST redirects need absolute URLs, and
    # HELPLINE_PUBLIC_BASE_URL may be unset on a line that is not behind a proxy.
    seen_base_url: str | None = None
    _open_cache: dict[int, bool] = field(default_factory=dict)
    # Small per-process caches of figures that barely move (answers per minute per language).
    cache: dict[str, tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    @property
    def queue(self) -> QueueSettings:
        return self.settings.queue

    def base_url(self) -> str:
        base = self.tset.public_base_url or self.seen_base_url
        if not base:
            raise RuntimeError(
                "HELPLINE_PUBLIC_BASE_URL is not set and no webhook has arrived yet: "
                "cannot build the URL Twilio should fetch"
            )
        return base

    def url(self, path: str) -> str:
        return self.base_url() + path

    def is_open(self, now: dt.datetime) -> bool:
        """Opening hours change on the minute at most; compute once per minute per process."""
        minute = int(now.timestamp() // 60)
        with self._lock:
            cached = self._open_cache.get(minute)
        if cached is not None:
            return cached
        result = self.hours.is_open(now)
        with self._lock:
            self._open_cache.clear()
            self._open_cache[minute] = result
        return result

    def enqueue(self, path: str, *args: int | str | None, delay: float | None = None) -> None:
        if self.jobs is None:
            from console.jobs.runner import JobRunner

            self.jobs = JobRunner(self.settings.redis_url)
        self.jobs.enqueue(path, *args, delay=delay)


_runtime: Runtime | None = None


def build(settings: Settings, database: Database, jobs: Jobs | None = None) -> Runtime:
    tset = load_telephony_settings(settings)
    return Runtime(
        settings=settings,
        tset=tset,
        hours=load_hours(settings.hours_path, settings.timezone),
        database=database,
        rest=TwilioRest(tset),
        jobs=jobs,
        writers=WriterTurns(database),
    )


def configure(runtime: Runtime) -> Runtime:
    global _runtime
    _runtime = runtime
    return _runtime


def get() -> Runtime:
    """The process's runtime; in a worker, built from the job context on first use."""
    if _runtime is None:
        from console.domain import crypto, records_config
        from console.jobs.context import get_context

        ctx = get_context()
        if not crypto.is_configured():
            # A callback attempt reads the number: the worker needs the identity key ring too.
            records_config.setup(ctx.settings, keep_ring=True)
        return configure(build(ctx.settings, ctx.database))
    return _runtime
