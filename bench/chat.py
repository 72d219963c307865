"""Chat benchmark: 500 concurrent visitor chats over 2 server processes sharing Redis, with
operators answering, against a bare python-socketio relay under the same load in the same run.

    .venv/bin/python -m bench.chat                        # SQLite (a temporary file)
    .venv/bin/python -m bench.chat --database-url postgresql://postgres@127.0.0.1:5432/test

What is measured:

- chat_msg_p99_ms (and p50): visitor-to-operator message latency, from just before a visitor's
  socket emits a message until the handling operator's console receives it as `chat.message`.
  On the way the app checks the rate limit, encrypts and stores the message, commits, and fans the
  event out through Redis to the process that holds the operator's socket.
- chat_msgs_per_s: messages handled per second during the measured phase (visitors' messages and
  operators' replies, which go through the HTTP API and reach the visitor's socket), beside the
  load offered; and chat_server_cpu_ms_per_msg, the two servers' CPU time per message handled.

Visitors (python-socketio AsyncClients on the `/chat` namespace) and operators (staff sockets plus
HTTP sessions) alternate between the two processes, so most messages cross from one process to the
other through Redis. Every visitor starts a chat; the routing tick offers it; an operator accepts;
then for `--duration` seconds each visitor writes at random (Poisson) intervals of `--interval`
seconds on average, and its operator answers each message.

The baseline is two bare python-socketio servers (threading mode on Werkzeug, as the app runs; a
Redis message queue on a channel of their own) relaying the same messages between the same number
of clients: what the transport costs without the helpline's work.

Progress goes to stderr; the figures end stdout as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import Watchdog, no_collection, temporary_database

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-0123"  # noqa: S105 - the benchmark's own throwaway accounts
TARGET_P99_MS = 100.0
REFUSALS: Counter[str] = Counter()
BARE_CHANNEL = "helpline-bench-chat-bare"
ALWAYS_OPEN = "[weekdays]\n" + "".join(
    f'{day} = ["00:00-24:00"]\n'
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)


def log(message: str) -> None:
    print(f"[bench.chat] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least p% of samples at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_operators(url: str, count: int, max_chats: int) -> None:
    """Migrate, then add available operators sharing one argon2 hash (computed once)."""
    from argon2 import PasswordHasher

    from console.db import Database
    from console.domain import operators
    from console.migrate import upgrade

    database = Database(url)
    upgrade(database)
    hashed = PasswordHasher().hash(PASSWORD)
    with database.transaction() as session:
        for i in range(count):
            op = operators.create_operator(
                session,
                username=f"chat{i:03d}",
                password="placeholder-password",
                languages=["nl", "fr", "en"],
                max_chats=max_chats,
            )
            op.password_hash = hashed
            operators.set_presence(session, op, operators.Presence.AVAILABLE)
    database.dispose()


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def server_process(
    command: list[str], env: dict[str, str], port: int, log_path: Path, watchdog: Watchdog
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        watchdog.processes.append(proc)
        try:
            deadline = time.monotonic() + 60
            while not _answers(f"http://127.0.0.1:{port}/healthz"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"a server did not start; see {log_path}")
                time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def http_login(base: str, username: str) -> tuple[str, str]:
    """Log in through the real form; returns the session cookie header and a CSRF token."""
    import requests

    http = requests.Session()
    token = _csrf(http.get(f"{base}/login", timeout=30).text)
    response = http.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302:
        raise RuntimeError(f"login of {username} answered {response.status_code}")
    token = _csrf(http.get(f"{base}/console", timeout=30).text)
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies), token


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    if match is None:
        raise RuntimeError("the page carries no CSRF token")
    return match.group(1)


@dataclass
class Load:
    visitors: int
    operators: int
    duration: float
    interval: float
    seed: int


@dataclass
class Result:
    latency_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    sent: int = 0
    received: int = 0
    replies: int = 0
    seconds: float = 0.0
    lost: int = 0
    refused: int = 0
    server_cpu_s: float = 0.0

    @property
    def cpu_ms_per_message(self) -> float:
        handled = self.received + self.replies
        return self.server_cpu_s * 1000 / handled if handled else math.nan

    @property
    def per_second(self) -> float:
        return (self.received + self.replies) / self.seconds if self.seconds else 0.0


class Clock:
    """Send times by message token; arrival completes a sample."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.done: dict[str, asyncio.Event] = {}

    def send(self, token: str) -> None:
        self.sent[token] = time.perf_counter()
        self.done[token] = asyncio.Event()

    def arrive(self, token: str) -> None:
        if token in self.sent and token not in self.arrived:
            self.arrived[token] = time.perf_counter()
            self.done[token].set()


async def gathered(coroutines: list[Any], parallel: int) -> list[Any]:
    gate = asyncio.Semaphore(parallel)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coroutines)))


async def visitor_messages(
    send: Callable[[str, str], Any], clock: Clock, load: Load, rng: random.Random, result: Result
) -> None:
    """One visitor's messages at random intervals (a Poisson stream) for the measured duration;
    each waits for its acknowledgement, as the widget does."""
    deadline = time.perf_counter() + load.duration
    k = 0
    while True:
        gap = rng.expovariate(1 / load.interval)
        await asyncio.sleep(min(gap, max(0.0, deadline - time.perf_counter())))
        if time.perf_counter() >= deadline:
            break
        k += 1
        token = secrets.token_hex(6)
        clock.send(token)
        started = time.perf_counter()
        answer = await send(token, f"m {token} {k}")
        result.sent += 1
        if isinstance(answer, dict) and answer.get("ok") is False:
            result.refused += 1
            continue
        result.ack_ms.append((time.perf_counter() - started) * 1000)


async def settle(
    clock: Clock, senders: list[Callable[[str, str], Any]], *, timeout: float = 240
) -> float:
    """Wait until the start-up storm has drained: a few probe messages in a row arrive within the
    target. Every chat starting within seconds broadcasts thousands of queue events to every
    console; real chats do not all start at once, and the figure is about messages."""
    started = time.perf_counter()
    good = n = 0
    while good < 5 and time.perf_counter() - started < timeout:
        token = f"probe{n}"
        clock.send(token)
        await senders[n % len(senders)](token, f"p {token} 0")
        n += 1
        try:
            await asyncio.wait_for(clock.done[token].wait(), 15)
        except TimeoutError:
            good = 0
            continue
        good = good + 1 if (clock.arrived[token] - clock.sent[token]) * 1000 < TARGET_P99_MS else 0
        await asyncio.sleep(0.5)
    clock.sent.clear()
    clock.arrived.clear()
    clock.done.clear()
    return time.perf_counter() - started


async def measure(
    clock: Clock, senders: list[Callable[[str, str], Any]], load: Load, result: Result
) -> None:
    rng = random.Random(load.seed)
    with no_collection():  # hundreds of clients' objects: see bench.no_collection
        started = time.perf_counter()
        await asyncio.gather(
            *(
                visitor_messages(s, clock, load, random.Random(rng.random()), result)
                for s in senders
            )
        )
        # Let the last messages arrive (or count them lost).
        pending = [clock.done[t].wait() for t in clock.sent if t not in clock.arrived]
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending), timeout=10)
    last = max(clock.arrived.values(), default=started)
    result.seconds = max(load.duration, last - started)
    for token, sent in clock.sent.items():
        arrived = clock.arrived.get(token)
        if arrived is None:
            result.lost += 1
        else:
            result.latency_ms.append((arrived - sent) * 1000)
    result.received = len(clock.arrived)


# ------------------------------------------------------------------ the app


def chat_config(workdir: Path) -> Path:
    """The default config, always open, and without the per-address limit on new chats (every
    benchmark visitor comes from 127.0.0.1)."""
    config = workdir / "config"
    shutil.copytree(ROOT / "config", config, dirs_exist_ok=True)
    (config / "hours.toml").write_text(ALWAYS_OPEN)
    chat = (config / "chat.toml").read_text()
    (config / "chat.toml").write_text(
        chat.replace("starts_per_hour = 6", "starts_per_hour = 100000")
    )
    return config


class AppOperator:
    """A console: a staff socket hearing offers and chat messages, an HTTP session answering."""

    def __init__(self, base: str, cookie: str, token: str, clock: Clock, result: Result) -> None:
        self.base = base
        self.cookie = cookie
        self.token = token
        self.clock = clock
        self.result = result
        self.http: Any = None
        self.sio: Any = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.accepted: set[int] = set()

    async def start(self) -> None:
        import aiohttp
        import socketio

        self.http = aiohttp.ClientSession(
            headers={"Cookie": self.cookie, "X-CSRFToken": self.token},
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("offer.created", self.on_offer)
        self.sio.on("chat.message", self.on_message)
        await self.sio.connect(
            self.base,
            headers={"Cookie": self.cookie},
            transports=["websocket"],
            wait_timeout=30,
        )

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def on_offer(self, offer: dict[str, Any]) -> None:
        self.spawn(self.accept(offer["contact"]["id"]))

    async def accept(self, contact_id: int) -> None:
        async with self.http.post(f"{self.base}/api/contacts/{contact_id}/accept", json={}) as r:
            if r.status == 200:
                self.accepted.add(contact_id)
            else:
                body = await r.json(content_type=None)
                REFUSALS[f"{r.status} {body.get('error')}"] += 1

    async def on_message(self, message: dict[str, Any]) -> None:
        if message.get("sender") != "visitor":
            return
        token = str(message["text"]).split(" ")[1]
        self.clock.arrive(token)
        self.spawn(self.reply(message["contact_id"], token))

    async def reply(self, contact_id: int, token: str) -> None:
        started = time.perf_counter()
        url = f"{self.base}/api/chat/contacts/{contact_id}/messages"
        body = {"client_id": f"r{token}", "text": f"r {token}"}
        async with self.http.post(url, json=body) as response:
            if response.status == 200:
                self.result.replies += 1
                self.result.reply_ms.append((time.perf_counter() - started) * 1000)

    async def stop(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.sio is not None:
            await self.sio.disconnect()
        if self.http is not None:
            await self.http.close()


class AppVisitor:
    def __init__(self, base: str) -> None:
        self.base = base
        self.sio: Any = None
        self.active = asyncio.Event()
        self.replies = 0

    async def start(self) -> None:
        import socketio

        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("chat.widget.status", self.on_status, namespace="/chat")
        self.sio.on("chat.widget.message", self.on_message, namespace="/chat")
        await self.sio.connect(
            self.base, namespaces=["/chat"], transports=["websocket"], wait_timeout=30
        )
        answer = await self.sio.call("start", {"language": "nl"}, namespace="/chat", timeout=30)
        if not answer.get("ok"):
            raise RuntimeError(f"a chat could not start: {answer}")

    async def on_status(self, status: dict[str, Any]) -> None:
        if status.get("status") == "active":
            self.active.set()

    async def on_message(self, message: dict[str, Any]) -> None:
        if message.get("sender") == "operator":
            self.replies += 1

    async def send(self, token: str, text: str) -> Any:
        return await self.sio.call(
            "message", {"client_id": token, "text": text}, namespace="/chat", timeout=30
        )

    async def stop(self) -> None:
        if self.sio is not None:
            await self.sio.disconnect()


async def run_app_load(
    bases: list[str], logins: list[tuple[str, str]], load: Load, pids: list[int]
) -> Result:
    clock = Clock()
    result = Result()
    operators = [
        AppOperator(bases[i % 2], cookie, token, clock, result)
        for i, (cookie, token) in enumerate(logins)
    ]
    visitors = [AppVisitor(bases[(i + 1) % 2]) for i in range(load.visitors)]
    try:
        await gathered([op.start() for op in operators], parallel=8)
        log(f"app: {len(operators)} operator consoles connected")
        started = time.perf_counter()
        await gathered([v.start() for v in visitors], parallel=16)
        log(f"app: {len(visitors)} chats started in {time.perf_counter() - started:.1f} s")
        try:
            await asyncio.wait_for(
                asyncio.gather(*(v.active.wait() for v in visitors)), timeout=120
            )
        except TimeoutError:
            waiting = sum(1 for v in visitors if not v.active.is_set())
            accepted = sum(len(op.accepted) for op in operators)
            log(f"app: {waiting} chats still unanswered; {accepted} accepted; refusals {REFUSALS}")
            raise
        log(f"app: every chat answered after {time.perf_counter() - started:.1f} s")
        waited = await settle(clock, [v.send for v in visitors])
        log(f"app: settled after {waited:.1f} s")
        result.replies = 0
        result.reply_ms.clear()
        cpu = cpu_seconds(pids)
        await measure(clock, [v.send for v in visitors], load, result)
        result.server_cpu_s = cpu_seconds(pids) - cpu
        await asyncio.sleep(1.0)
    finally:
        await asyncio.gather(*(v.stop() for v in visitors), return_exceptions=True)
        await asyncio.gather(*(op.stop() for op in operators), return_exceptions=True)
    return result


def bench_app(url: str, redis_url: str, load: Load, workdir: Path, watchdog: Watchdog) -> Result:
    from cryptography.fernet import Fernet

    log(f"app: migrating and seeding {load.operators} operators")  # before the servers start
    seed_operators(url, load.operators, max_chats=-(-load.visitors // load.operators))
    env = {
        "HELPLINE_DATABASE_URL": url,
        "HELPLINE_REDIS_URL": redis_url,
        "HELPLINE_SECRET_KEY": secrets.token_urlsafe(32),
        "HELPLINE_IDENTITY_KEYS": Fernet.generate_key().decode(),
        "HELPLINE_INSTANCE_DIR": str(workdir / "instance"),
        "HELPLINE_CONFIG_DIR": str(chat_config(workdir)),
        "HELPLINE_LOG_LEVEL": "warning",
    }
    ports = [free_port(), free_port()]
    with contextlib.ExitStack() as stack:
        pids = []
        for i, port in enumerate(ports):
            command = [sys.executable, "-m", "console.cli", "--mode", "test", "serve"]
            proc = stack.enter_context(
                server_process(
                    [*command, "--port", str(port)], env, port, workdir / f"app-{i}.log", watchdog
                )
            )
            pids.append(proc.pid)
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        logins = [http_login(bases[i % 2], f"chat{i:03d}") for i in range(load.operators)]
        return asyncio.run(run_app_load(bases, logins, load, pids))


# ------------------------------------------------------------------ the bare baseline


def serve_bare(port: int, redis_url: str) -> None:
    """A python-socketio relay and nothing else: threading mode on Werkzeug, as the app runs."""
    import socketio
    from werkzeug.serving import run_simple

    manager = socketio.RedisManager(redis_url, channel=BARE_CHANNEL)
    sio = socketio.Server(async_mode="threading", client_manager=manager, cors_allowed_origins=[])

    @sio.on("join")
    def join(sid: str, room: str) -> dict[str, bool]:
        sio.enter_room(sid, room)
        return {"ok": True}

    @sio.on("join", namespace="/chat")
    def join_visitor(sid: str, room: str) -> dict[str, bool]:
        sio.enter_room(sid, room, namespace="/chat")
        return {"ok": True}

    @sio.on("message", namespace="/chat")
    def message(sid: str, data: dict[str, Any]) -> dict[str, bool]:
        sio.emit("chat.message", {"sender": "visitor", "text": data["text"]}, to=data["to"])
        return {"ok": True}

    @sio.on("reply")
    def reply(sid: str, data: dict[str, Any]) -> dict[str, bool]:
        payload = {"sender": "operator", "text": data["text"]}
        sio.emit("chat.widget.message", payload, to=data["to"], namespace="/chat")
        return {"ok": True}

    def fallback(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    run_simple("127.0.0.1", port, socketio.WSGIApp(sio, fallback), threaded=True)


async def run_bare_load(bases: list[str], load: Load, pids: list[int]) -> Result:
    import socketio

    clock = Clock()
    result = Result()
    operators: list[Any] = []
    visitors: list[Any] = []

    async def operator(i: int) -> None:
        sio = socketio.AsyncClient(reconnection=False)

        async def on_message(message: dict[str, Any]) -> None:
            _, token, visitor_no = str(message["text"]).split(" ")[:3]
            clock.arrive(token)
            started = time.perf_counter()
            await sio.call("reply", {"to": f"v{visitor_no}", "text": f"r {token}"}, timeout=30)
            result.replies += 1
            result.reply_ms.append((time.perf_counter() - started) * 1000)

        sio.on("chat.message", on_message)
        await sio.connect(bases[i % 2], transports=["websocket"], wait_timeout=30)
        await sio.call("join", f"op{i}", timeout=30)
        operators.append(sio)

    async def visitor(i: int) -> Callable[[str, str], Any]:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            bases[(i + 1) % 2], namespaces=["/chat"], transports=["websocket"], wait_timeout=30
        )
        await sio.call("join", f"v{i}", namespace="/chat", timeout=30)
        visitors.append(sio)
        room = f"op{i % load.operators}"

        async def send(token: str, text: str) -> Any:
            parts = text.split(" ")
            body = {"to": room, "text": f"{parts[0]} {token} {i} {parts[2]}"}
            return await sio.call("message", body, namespace="/chat", timeout=30)

        return send

    try:
        await gathered([operator(i) for i in range(load.operators)], parallel=8)
        senders = await gathered([visitor(i) for i in range(load.visitors)], parallel=16)
        log(f"bare: {len(operators)} operators and {len(visitors)} visitors connected")
        waited = await settle(clock, senders)
        log(f"bare: settled after {waited:.1f} s")
        result.replies = 0
        result.reply_ms.clear()
        cpu = cpu_seconds(pids)
        await measure(clock, senders, load, result)
        result.server_cpu_s = cpu_seconds(pids) - cpu
        await asyncio.sleep(1.0)
    finally:
        await asyncio.gather(
            *(c.disconnect() for c in operators + visitors), return_exceptions=True
        )
    return result


def bench_bare(redis_url: str, load: Load, workdir: Path, watchdog: Watchdog) -> Result:
    ports = [free_port(), free_port()]
    command = [sys.executable, "-m", "bench.chat", "--bare-server", "--redis-url", redis_url]
    with contextlib.ExitStack() as stack:
        pids = []
        for i, port in enumerate(ports):
            proc = stack.enter_context(
                server_process(
                    [*command, "--port", str(port)], {}, port, workdir / f"bare-{i}.log", watchdog
                )
            )
            pids.append(proc.pid)
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        return asyncio.run(run_bare_load(bases, load, pids))


# ------------------------------------------------------------------ main


def describe(name: str, res: Result) -> None:
    log(
        f"{name}: sent={res.sent} received={res.received} lost={res.lost} refused={res.refused} "
        f"replies={res.replies} in {res.seconds:.1f} s ({res.per_second:.0f} msg/s); "
        f"visitor→operator p50={percentile(res.latency_ms, 50):.1f} "
        f"p99={percentile(res.latency_ms, 99):.1f} ms; ack p99="
        f"{percentile(res.ack_ms, 99):.1f} ms; reply p99={percentile(res.reply_ms, 99):.1f} ms; "
        f"servers' CPU {res.cpu_ms_per_message:.1f} ms per message "
        f"({res.server_cpu_s / res.seconds if res.seconds else 0:.2f} s/s)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="postgresql://… (default: SQLite)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--visitors", type=int, default=500)
    parser.add_argument("--operators", type=int, default=50)
    parser.add_argument("--duration", type=float, default=40, help="seconds of messages")
    parser.add_argument(
        "--interval", type=float, default=10.0, help="mean seconds between a visitor's messages"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_server:
        serve_bare(args.port, args.redis_url)
        return 0
    engine = "postgresql" if args.database_url else "sqlite"
    load = Load(args.visitors, args.operators, args.duration, args.interval, args.seed)
    watchdog = Watchdog(args.max_seconds, "bench.chat")
    watchdog.start()
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = args.workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="helpline-")))
        bare = Result()
        if not args.skip_baseline:
            log(f"bare: {load.visitors} visitors, {load.operators} operators, 2 servers")
            bare = bench_bare(args.redis_url, load, workdir, watchdog)
            describe("bare", bare)
        with temporary_database(args.database_url or None, workdir, "chat") as url:
            log(f"app: {load.visitors} chats over 2 processes on {engine} and Redis")
            app = bench_app(url, args.redis_url, load, workdir, watchdog)
        describe("app", app)
    watchdog.cancel()
    common = {
        "database": engine,
        "visitors": load.visitors,
        "operators": load.operators,
        "samples": len(app.latency_ms),
        "lost": app.lost,
        "refused": app.refused,
        # What was asked of the servers: visitors' messages per second, each answered once.
        "offered_msgs_per_s": round(2 * load.visitors / load.interval, 1),
    }
    lines: list[dict[str, object]] = [
        {
            "name": "chat_msg_p50_ms",
            "value": round(percentile(app.latency_ms, 50), 2),
            "unit": "ms",
            "baseline": round(percentile(bare.latency_ms, 50), 2),
            "target": None,
            **common,
        },
        {
            "name": "chat_msg_p99_ms",
            "value": round(percentile(app.latency_ms, 99), 2),
            "unit": "ms",
            "baseline": round(percentile(bare.latency_ms, 99), 2),
            "target": TARGET_P99_MS,
            **common,
        },
        {
            "name": "chat_msgs_per_s",
            "value": round(app.per_second, 1),
            "unit": "msg/s",
            "baseline": round(bare.per_second, 1),
            "target": None,
            **common,
        },
        {
            # The servers' CPU time per message handled: capacity, independent of what else runs.
            "name": "chat_server_cpu_ms_per_msg",
            "value": round(app.cpu_ms_per_message, 2),
            "unit": "ms",
            "baseline": round(bare.cpu_ms_per_message, 2),
            "target": None,
            **common,
        },
    ]
    for line in lines:
        print(json.dumps(line))
    return 0 if app.lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
