"""`helpline worker`: an RQ worker with the scheduler on, plus the periodic job clock.

Several workers may run; a Redis lock per job and interval makes each periodic job run once.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from rq import Queue, Worker

from console.db import Database
from console.domain import events
from console.jobs.context import set_context
from console.jobs.periodic import PERIODIC_JOBS
from console.jobs.runner import QUEUE_NAME
from console.sealed_queue import SealedRedisManager
from console.settings import Settings

log = logging.getLogger(__name__)


def _clock(connection: redis.Redis, queue: Queue, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        now = time.time()
        for job in PERIODIC_JOBS:
            slot = int(now // job.every)
            key = f"helpline:periodic:{job.func}:{slot}"
            try:
                if connection.set(key, "1", nx=True, ex=int(job.every) + 60):
                    queue.enqueue(job.func)
            except redis.RedisError:
                log.warning("periodic clock cannot reach redis")
                break


def _register_everything(settings: Settings, database: Database) -> None:
    """Build the app once, unserved, so every package registers its periodic jobs, hooks and
    event types here as in a server; its own event sender is detached (this worker's is below)."""
    from console.app import create_app

    app = create_app(settings.with_overrides(background_tasks=False), database)
    fanout = app.extensions.get("helpline.fanout")
    if fanout is not None:
        events.remove_sender(fanout.send)


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    if not settings.redis_url:
        raise SystemExit("helpline worker needs HELPLINE_REDIS_URL; without it jobs run in-process")
    database = Database(settings.database_url)
    set_context(settings, database)
    _register_everything(settings, database)
    from flask_socketio import SocketIO

    # Write-only: the worker emits to consoles through the message queue, with no app.
    emitter = SocketIO(
        message_queue=settings.redis_url,
        client_manager=SealedRedisManager(
            settings.redis_url,
            channel=settings.socketio_channel,
            secret_key=settings.secret_key,
            write_only=True,
        ),
    )

    def send(event: events.Event) -> None:
        emitter.emit(event.type, event.payload, to=event.room, namespace=event.namespace)

    events.add_sender(send)
    connection = redis.Redis.from_url(settings.redis_url)
    queue = Queue(QUEUE_NAME, connection=connection)
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_clock, args=(connection, queue, stop), daemon=True).start()
    try:
        Worker([queue], connection=connection, log_job_description=False).work(
            with_scheduler=True, burst=burst
        )
    finally:
        stop.set()
