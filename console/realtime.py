"""Live consoles over Flask-SocketIO, and the per-process routing tick.

Events from the domain's choke point are queued here and emitted by one background task, so a slow
or missing Redis never holds up the request that committed them. Each server process runs the
routing tick (offer timeouts, overflow, offers); the queue's conditional updates make that safe to
run in several processes at once and keep calls answered when Redis is away.
"""

from __future__ import annotations

import logging
import queue as stdlib_queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request
from flask_login import current_user
from flask_socketio import join_room

from console import websocket_writes
from console.db import Database
from console.domain import events, live_stats, queue
from console.extensions import socketio
from console.sealed_queue import SealedRedisManager
from console.settings import Settings

log = logging.getLogger(__name__)

# Events after which the shift lead's figures are recomputed and pushed.
_STATS_TRIGGERS = frozenset({"contact.queued", "contact.updated", "operator.presence"})

# The wallboard's snapshot reads every live contact and operator: with hundreds of each, tens of
# milliseconds of the interpreter lock that the requests need too. So a process computes it only
# while a lead's console is connected to it, for those consoles, and at most this often (seconds).
WALLBOARD_EVERY = 1.0


class Fanout:
    """Hands committed events to Socket.IO from one background task."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self._queue: stdlib_queue.Queue[events.Event | None] = stdlib_queue.Queue()
        self._stats_due = threading.Event()
        self._live_due = False  # this process changed the queue: lead.stats, to every lead
        self._board_due = False  # any process did: the wallboard of this process's leads
        self._stopped = threading.Event()
        self._started = False
        self._tasks: list[Any] = []

    def send(self, event: events.Event) -> None:
        self._queue.put(event)
        if event.type in _STATS_TRIGGERS:
            self._live_due = self._board_due = True
            self._stats_due.set()

    def heard(self, event_type: str) -> None:
        """Another process's event came through Redis: its lead.stats come from that process,
        but the wallboard of the leads connected here is out of date."""
        if event_type in _STATS_TRIGGERS:
            self._board_due = True
            self._stats_due.set()

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._tasks = [
            socketio.start_background_task(self._emit_loop),
            socketio.start_background_task(self._stats_loop),
        ]

    def stop(self) -> None:
        self._stopped.set()
        self._queue.put(None)
        self._stats_due.set()
        _join(self._tasks)

    def _emit_loop(self) -> None:
        while not self._stopped.is_set():
            item = self._queue.get()
            if item is None:
                break
            try:
                socketio.emit(
                    item.type,
                    item.payload,
                    to=item.room,
                    namespace=item.namespace,
                    ignore_queue=item.local,
                )
            except Exception:
                log.warning("could not emit %s", item.type, exc_info=True)

    def _stats_loop(self) -> None:
        board_at = 0.0  # the wallboard is not recomputed before this (monotonic) time
        while not self._stopped.is_set():
            wait = max(0.0, board_at - time.monotonic()) if self._board_due else None
            if self._stats_due.wait(wait):
                if self._stopped.is_set():
                    break
                # Coalesce bursts: one recomputation for everything that changed in 100 ms.
                time.sleep(0.1)
                self._stats_due.clear()
                if self._live_due:
                    self._live_due = False
                    self.push_live_stats()
            if self._board_due and time.monotonic() >= board_at:
                self._board_due = False
                if self.leads_watching():
                    self.push_wallboard()
                    board_at = time.monotonic() + WALLBOARD_EVERY

    def leads_watching(self) -> bool:
        """A shift lead's console is connected to this process."""
        server = socketio.server
        if server is None:
            return False
        return any(True for _ in server.manager.get_participants("/", events.ROOM_LEADS))

    def push_live_stats(self) -> None:
        """The lead's few live figures, to every lead (cheap: a few counts)."""
        try:
            with self.database.transaction(write=False) as session:
                payload = live_stats.snapshot(session, self.settings.tz)
            events.send_now("lead.stats", payload)
        except Exception:
            log.warning("could not compute live statistics", exc_info=True)

    def push_wallboard(self) -> None:
        """The wallboard's snapshot, to the leads connected to this process."""
        from console.domain import wallboard

        try:
            wallboard.push(self.database, local=True)
        except Exception:
            log.warning("could not compute the wallboard", exc_info=True)


class Ticker:
    """Runs the queue's timed work every `tick_interval` seconds in this process."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        extra: list[Callable[[], None]] | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.extra = extra or []
        self._stopped = threading.Event()
        self._started = False
        self._tasks: list[Any] = []

    def tick(self) -> None:
        with self.database.transaction(write=False) as session:
            if not queue.routing_due(session, self.settings.queue):
                return
        with self.database.transaction() as session:
            queue.expire_offers(session)
            queue.route(session, self.settings.queue)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._tasks = [socketio.start_background_task(self._loop)]

    def stop(self) -> None:
        self._stopped.set()
        _join(self._tasks)

    def _loop(self) -> None:
        while not self._stopped.wait(self.settings.queue.tick_interval):
            for work in [self.tick, self.database.checkpoint_wal, *self.extra]:
                try:
                    work()
                except Exception:
                    log.warning(
                        "tick step %s failed", getattr(work, "__name__", work), exc_info=True
                    )


def _join(tasks: list[Any], timeout: float = 5.0) -> None:
    """Wait for background tasks to finish what they were doing, so that nothing still reads or
    writes the database once `stop` returns (a test empties it next; a process exits)."""
    for task in tasks:
        if task is not threading.current_thread() and hasattr(task, "join"):
            task.join(timeout)


def same_host(origin: str | None, host: str | None) -> bool:
    """True when a browser's Origin names the host it connected to (or there is no Origin)."""
    if not origin:
        return True
    return bool(host) and urlsplit(origin).netloc.lower() == str(host).lower()


class OriginPolicy:
    """Socket.IO's origin check: our own pages, plus the sites allowed to embed a chat widget."""

    def __init__(self, extra_origins: Sequence[str] = ()) -> None:
        self.extra = frozenset(o.rstrip("/").lower() for o in extra_origins)

    def __call__(self, origin: str | None, environ: dict[str, Any]) -> bool:
        if not origin:
            return True
        return same_host(origin, environ.get("HTTP_HOST")) or origin.lower() in self.extra


class ResyncingRedisManager(SealedRedisManager):
    """Socket.IO's Redis message queue, telling this process's consoles to resync after an outage.

    While Redis is down, events this process publishes are dropped (the database keeps the truth).
    When the listener subscribes again, local consoles get "resync" directly (not through Redis)
    and reload their snapshot, so no one has to reload the page. Retries are capped at 2 s, where
    python-socketio's own back off to a minute.
    """

    # Told the type of each event another process published (Fanout.heard).
    heard: Callable[[str], None] | None = None

    def _handle_emit(self, message: dict[str, Any]) -> None:
        super()._handle_emit(message)
        if self.heard is not None and message.get("host_id") != self.host_id:
            self.heard(str(message.get("event")))

    def _redis_listen_with_retries(self) -> Any:
        retry_sleep = 0.5
        lost = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                if lost:
                    lost = False
                    log.info("socket.io reached redis again; consoles resync")
                    self.emit(
                        "resync", {}, namespace="/", room=events.ROOM_STAFF, ignore_queue=True
                    )
                retry_sleep = 0.5
                yield from self.pubsub.listen()
            except Exception:
                if not lost:
                    log.warning("socket.io lost redis; live updates pause until it is back")
                lost = True
                time.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, 2.0)


def init_app(
    app: Flask, settings: Settings, database: Database, extra_origins: Sequence[str] = ()
) -> Fanout:
    kwargs: dict[str, Any] = {
        "async_mode": "threading",
        "cors_allowed_origins": OriginPolicy(extra_origins),
        "logger": False,
        "engineio_logger": False,
        "manage_session": False,
        # Explicit even when unset: SocketIO keeps options across init_app calls, and an app
        # without Redis must not inherit the message queue of one built before it.
        "message_queue": None,
        "client_manager": None,
    }
    if settings.redis_url:
        kwargs["message_queue"] = settings.redis_url
        kwargs["channel"] = settings.socketio_channel
        kwargs["client_manager"] = ResyncingRedisManager(
            settings.redis_url,
            channel=settings.socketio_channel,
            secret_key=settings.secret_key,
        )
    socketio.init_app(app, **kwargs)
    websocket_writes.install(socketio.server.eio)
    fanout = Fanout(settings, database)
    if isinstance(kwargs["client_manager"], ResyncingRedisManager):
        kwargs["client_manager"].heard = fanout.heard
    events.add_sender(fanout.send)
    app.extensions["helpline.fanout"] = fanout
    return fanout


@socketio.on("connect")
def _connect(_auth: Any = None) -> bool:
    """Staff only; each joins the staff room, their own room, and the leads' room if a lead."""
    if not current_user.is_authenticated:
        return False
    # A site allowed to embed the chat widget may open sockets, but never a staff one.
    if not same_host(request.headers.get("Origin"), request.host):
        return False
    join_room(events.ROOM_STAFF)
    join_room(events.operator_room(current_user.operator_id))
    if current_user.is_lead:
        join_room(events.ROOM_LEADS)
    if current_user.role == "admin":
        join_room("admins")  # console.domain.kb_review.ROOM_ADMINS: review-due notices
    return True
