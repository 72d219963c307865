"""Queue benchmarks: how fast an operator's accept is decided, and how fast a new contact reaches
every console.

    .venv/bin/python -m bench.queue                       # SQLite (a temporary file)
    .venv/bin/python -m bench.queue --database-url postgresql://postgres@127.0.0.1:5432/test

Two figures, each with a baseline measured in the same run:

- claim: `queue.claim` inside `Database.transaction()` on a migrated database with 300 operators
  and 1,000 waiting contacts. In each round several threads (operators) accept the same waiting
  contact at the same instant, as in tests/console/test_claim_race.py; every attempt, won or lost,
  is one sample (contenders in one process take turns: console.domain.claim_turns). Baseline:
  the bare conditional UPDATE on the same table through the DB-API driver in autocommit, raced
  the same way, taking turns with the domain round by round.
- fan-out: from just before `POST /api/intake` on process A until the `contact.queued` event of
  that contact has reached all 300 consoles (see LeanConsole), half connected to each of two
  `helpline serve` processes sharing Redis. Baseline: two bare python-socketio servers (threading
  mode on Werkzeug, like the app; Redis message queue on a channel of their own) broadcasting to
  300 clients of their own, triggered by a POST to the first. Both sets run side by side and take
  turns, one contact at a time.

Taking turns matters on a shared machine: whatever else runs weighs on a figure and its baseline
alike. Progress goes to stderr; the figures end stdout as JSON lines. Run it as a module (`-m`):
run as a file, this module's name would shadow the standard library's `queue`.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:
    # Run as a file, bench/ leads sys.path and this file would be imported as the stdlib `queue`.
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here]
    sys.path.insert(0, str(Path(_here).parent))

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import io
import json
import math
import os
import pstats
import random
import re
import secrets
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench import Watchdog, no_collection, temporary_database

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-0123"  # noqa: S105 - the benchmark's own throwaway accounts
CLAIM_TARGET_MS = 10.0
FANOUT_TARGET_MS = 100.0
SOLO_CLAIMS = 200  # claims by one thread alone, to show the cost of a claim apart from queueing
BARE_CHANNEL = "helpline-bench-bare"

Attempt = Callable[[int, int], bool]


def log(message: str) -> None:
    print(f"[bench.queue] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least p% of samples at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def figure(
    name: str, value: float, baseline: float, target: float | None, **extra: object
) -> dict[str, object]:
    return {
        "name": name,
        "value": round(value, 2),
        "unit": "ms",
        "baseline": round(baseline, 2),
        "target": target,
        **extra,
        # Latencies on a shared 2-core machine mean little without the load they were taken at.
        "loadavg_1m": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }


# ------------------------------------------------------------------ bounded run


# ------------------------------------------------------------------ databases


@contextlib.contextmanager
def one_password_hash() -> Iterator[None]:
    """Every seeded account gets the same argon2 hash of PASSWORD, computed once at the default
    cost: seeding 300 accounts would otherwise spend ~15 s hashing, and logging in still verifies
    at the real cost without rehashing."""
    from argon2 import PasswordHasher

    from console.domain import operators

    class SharedHash(PasswordHasher):
        def __init__(self) -> None:
            super().__init__()
            self.value = super().hash(PASSWORD)

        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            return self.value

    saved = operators._hasher
    operators._hasher = SharedHash()
    try:
        yield
    finally:
        operators._hasher = saved


def seed_operators(url: str, count: int, *, prefix: str, max_chats: int) -> list[int]:
    from console.db import Database
    from console.domain import operators

    database = Database(url)
    ids: list[int] = []
    with one_password_hash(), database.transaction() as session:
        for i in range(count):
            op = operators.create_operator(
                session,
                username=f"{prefix}{i:03d}",
                password=PASSWORD,
                role="operator",
                languages=["nl", "fr", "en"],
                max_chats=max_chats,
            )
            operators.set_presence(session, op, operators.Presence.AVAILABLE)
            ids.append(op.id)
    database.dispose()
    return ids


def migrate(url: str) -> None:
    from console.db import Database
    from console.migrate import upgrade

    database = Database(url)
    upgrade(database)
    database.dispose()


# ------------------------------------------------------------------ claim


@dataclass
class RaceResult:
    attempts_ms: list[float] = field(default_factory=list)
    wins_ms: list[float] = field(default_factory=list)
    # CPU time of the claiming thread: the work itself, apart from waiting for locks or a core.
    cpu_ms: list[float] = field(default_factory=list)
    winners: dict[int, list[int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


AttemptFactory = Callable[[], contextlib.AbstractContextManager[Attempt]]


@dataclass
class Contender:
    """One way of claiming (the domain, or the bare UPDATE) and the contacts it claims."""

    name: str
    make_attempt: AttemptFactory
    contacts: list[int]
    result: RaceResult = field(default_factory=RaceResult)


def race(
    contenders: list[Contender], operators: list[int], threads: int, *, unmeasured: int = 0
) -> None:
    """Round by round, every thread tries to claim the same contact at the same instant, each as
    its own next operator; exactly one should win each round. The contenders take turns round by
    round, so a machine busy with other work weighs on the figure and its baseline alike. The
    first `unmeasured` rounds of each warm connections and caches up and are not timed."""
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    shares = [operators[t::threads] for t in range(threads)]
    rounds = min(len(c.contacts) for c in contenders)

    def worker(t: int) -> None:
        ops = shares[t]
        with contextlib.ExitStack() as stack:
            attempts = [stack.enter_context(c.make_attempt()) for c in contenders]
            for round_no in range(rounds):
                operator_id = ops[round_no % len(ops)]
                for contender, attempt in zip(contenders, attempts, strict=True):
                    contact_id = contender.contacts[round_no]
                    try:
                        barrier.wait(timeout=60)
                    except threading.BrokenBarrierError:
                        return
                    started = time.perf_counter()
                    cpu_started = time.thread_time()
                    try:
                        won = attempt(contact_id, operator_id)
                    except Exception as exc:
                        with lock:
                            contender.result.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                        continue
                    elapsed = (time.perf_counter() - started) * 1000
                    cpu = (time.thread_time() - cpu_started) * 1000
                    result = contender.result
                    with lock:
                        if won:
                            result.winners.setdefault(contact_id, []).append(operator_id)
                        if round_no < unmeasured:
                            continue
                        result.attempts_ms.append(elapsed)
                        result.cpu_ms.append(cpu)
                        if won:
                            result.wins_ms.append(elapsed)

    workers = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def domain_attempts(url: str, profiles: list[cProfile.Profile] | None) -> AttemptFactory:
    from console.db import Database
    from console.domain import queue
    from console.domain.errors import DomainError

    # As the embedded server runs it: the one process writing to its SQLite file.
    database = Database(url, sole_writer=True)

    @contextlib.contextmanager
    def make() -> Iterator[Attempt]:
        profile = cProfile.Profile() if profiles is not None else None

        def attempt(contact_id: int, operator_id: int) -> bool:
            if profile is not None:
                profile.enable()
            try:
                with database.transaction() as session:
                    queue.claim(session, contact_id, operator_id)
            except DomainError:
                return False  # another operator has it: the expected outcome for all but one
            finally:
                if profile is not None:
                    profile.disable()
            return True

        yield attempt
        if profile is not None and profiles is not None:
            profiles.append(profile)

    return make


_CLAIM_SQL = (
    "UPDATE contacts SET state = 'active', operator_id = {op}, offered_to_id = NULL, "
    "offer_expires_at = NULL, accepted_at = {now}, version = version + 1 "
    "WHERE id = {cid} AND state IN ('waiting', 'offered') "
    "AND (offered_to_id IS NULL OR offered_to_id = {op}) "
    "AND (target_operator_id IS NULL OR target_operator_id = {op})"
)


def bare_attempts(url: str) -> AttemptFactory:
    """The conditional UPDATE alone, per thread on its own DB-API connection, in autocommit."""

    @contextlib.contextmanager
    def make_sqlite() -> Iterator[Attempt]:
        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
        # The same pragmas as console.db, so only the ORM and the domain's extra work differ.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        sql = _CLAIM_SQL.format(op=":op", now=":now", cid=":cid")

        def attempt(contact_id: int, operator_id: int) -> bool:
            # SQLAlchemy's SQLite DateTime text format, so the rows read back like the ORM's own.
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            cursor = conn.execute(sql, {"op": operator_id, "now": now, "cid": contact_id})
            return cursor.rowcount == 1

        try:
            yield attempt
        finally:
            conn.close()

    @contextlib.contextmanager
    def make_postgres() -> Iterator[Attempt]:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        conn = psycopg.connect(dsn, autocommit=True)
        sql = _CLAIM_SQL.format(op="%(op)s", now="%(now)s", cid="%(cid)s")

        def attempt(contact_id: int, operator_id: int) -> bool:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            cursor = conn.execute(sql, {"op": operator_id, "now": now, "cid": contact_id})
            return cursor.rowcount == 1

        try:
            yield attempt
        finally:
            conn.close()

    return make_sqlite if url.startswith("sqlite") else make_postgres


def check_exactly_once(url: str, contender: Contender) -> list[str]:
    """Every contact won by exactly one operator, and the database agrees."""
    from sqlalchemy import select

    from console.db import Database
    from console.domain.contacts import Contact

    winners = contender.result.winners
    problems = []
    lost = [c for c in contender.contacts if c not in winners]
    doubled = [c for c, ops in winners.items() if len(ops) != 1]
    if lost:
        problems.append(f"{len(lost)} contacts claimed by no one")
    if doubled:
        problems.append(f"{len(doubled)} contacts claimed twice")
    database = Database(url)
    with database.transaction(write=False) as session:
        rows = {
            contact_id: operator_id
            for contact_id, operator_id in session.execute(
                select(Contact.id, Contact.operator_id).where(
                    Contact.id.in_(contender.contacts), Contact.state == "active"
                )
            )
        }
    database.dispose()
    expected = {c: ops[0] for c, ops in winners.items() if len(ops) == 1}
    if rows != expected:
        problems.append("the database's owners differ from the winners the threads saw")
    return [f"{contender.name}: {p}" for p in problems]


@contextlib.contextmanager
def checkpointing(url: str, every: float) -> Iterator[None]:
    """Folds SQLite's write-ahead log into the database in the background, as each server
    process's tick does (`Database.checkpoint_wal`); the claims' commits leave it to that."""
    from console.db import Database

    database = Database(url)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            database.checkpoint_wal()

    thread = threading.Thread(target=loop, name="checkpoint", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        database.dispose()


def bench_claim(
    url: str,
    *,
    operators: int,
    contacts: int,
    threads: int,
    warmup: int,
    profile_out: Path | None,
) -> tuple[RaceResult, RaceResult, list[str]]:
    """(domain, baseline, problems)."""
    from console.db import Database
    from console.domain import queue
    from console.settings import load_settings

    migrate(url)
    per_contender = contacts + warmup + SOLO_CLAIMS
    log(f"claim: seeding {operators} operators and {2 * per_contender} waiting chats")
    operator_ids = seed_operators(url, operators, prefix="claim", max_chats=per_contender)
    settings = load_settings(mode="test", env={"HELPLINE_DATABASE_URL": url})
    database = Database(url)
    with database.transaction() as session:
        ids = [
            queue.enqueue(session, channel="chat", language="nl", cfg=settings.queue).id
            for _ in range(2 * per_contender)
        ]
    database.dispose()
    # Alternate ids, so both contenders drain the same queue from the front, side by side.
    domain_ids, bare_ids = ids[0::2], ids[1::2]

    solo = [
        Contender("domain", domain_attempts(url, None), domain_ids[:SOLO_CLAIMS]),
        Contender("bare", bare_attempts(url), bare_ids[:SOLO_CLAIMS]),
    ]
    with checkpointing(url, settings.queue.tick_interval):
        race(solo, operator_ids, 1, unmeasured=warmup)
    for contender in solo:
        res = contender.result
        log(
            f"claim {contender.name}, one thread (uncontended): "
            f"p50={percentile(res.wins_ms, 50):.2f} p99={percentile(res.wins_ms, 99):.2f} ms "
            f"over {len(res.wins_ms)} claims; CPU per claim p50={percentile(res.cpu_ms, 50):.2f} ms"
        )

    log(
        f"claim: {threads} threads racing for each contact, taking turns: queue.claim in "
        "Database.transaction(), and the bare conditional UPDATE"
    )
    profiles: list[cProfile.Profile] | None = [] if profile_out else None
    raced = [
        Contender("domain", domain_attempts(url, profiles), domain_ids[SOLO_CLAIMS:]),
        Contender("bare", bare_attempts(url), bare_ids[SOLO_CLAIMS:]),
    ]
    with checkpointing(url, settings.queue.tick_interval):
        race(raced, operator_ids, threads, unmeasured=warmup)
    if profiles and profile_out:
        write_profile(profiles, profile_out)
    problems: list[str] = []
    for contender in [*solo, *raced]:
        problems += check_exactly_once(url, contender)
    for contender in raced:
        res = contender.result
        log(
            f"claim {contender.name}: attempts={len(res.attempts_ms)} wins={len(res.wins_ms)} "
            f"errors={len(res.errors)}; all attempts p50={percentile(res.attempts_ms, 50):.2f} "
            f"p99={percentile(res.attempts_ms, 99):.2f} max={max(res.attempts_ms, default=0):.2f}"
            f" ms; wins p50={percentile(res.wins_ms, 50):.2f} "
            f"p99={percentile(res.wins_ms, 99):.2f} ms; CPU per attempt "
            f"p50={percentile(res.cpu_ms, 50):.2f} ms"
        )
        for error in res.errors[:3]:
            log(f"claim {contender.name} error: {error}")
    return raced[0].result, raced[1].result, problems


def write_profile(profiles: list[cProfile.Profile], out: Path) -> None:
    stats = pstats.Stats(profiles[0])
    for extra in profiles[1:]:
        stats.add(extra)
    stats.dump_stats(str(out))
    text = io.StringIO()
    pstats.Stats(str(out), stream=text).sort_stats("cumulative").print_stats(40)
    out.with_suffix(".txt").write_text(text.getvalue())
    log(f"claim: merged cProfile of every thread's claims in {out} and {out.with_suffix('.txt')}")


# ------------------------------------------------------------------ server processes


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> Callable[[], bool]:
    import requests

    def check() -> bool:
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    return check


def redis_answers(url: str) -> Callable[[], bool]:
    import redis

    def check() -> bool:
        try:
            return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    return check


@contextlib.contextmanager
def private_redis(workdir: Path, watchdog: Watchdog) -> Iterator[str]:
    """A redis-server of the run's own. Pub/sub channels ignore database numbers, so on the
    shared server the benchmark's 300-console broadcasts would reach any helpline process or test
    of this machine on the same channel (and theirs would reach ours), and load the server."""
    port = free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port)]
    command += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    url = f"redis://127.0.0.1:{port}/0"
    with server_process(command, {}, redis_answers(url), workdir / "redis.log", watchdog):
        yield url


class RedisTap:
    """When each Socket.IO message crossed Redis, which splits the fan-out into the publisher's
    part (request, commit, emit) and the delivery. The subscriber runs in a process of its own:
    in this one, it would wait for the event loop busy with 300 clients and stamp late.
    perf_counter is CLOCK_MONOTONIC on Linux, the same clock in every process."""

    def __init__(
        self, url: str, channel: str, out: Path, watchdog: Watchdog, secret_key: str = ""
    ) -> None:
        """`secret_key`: the line's, to open the app's sealed messages (console.sealed_queue)."""
        command = [sys.executable, "-m", "bench.queue", "--redis-tap", str(out)]
        command += ["--redis-url", url, "--channel", channel]
        self.out = out
        env = {"HELPLINE_SECRET_KEY": secret_key} if secret_key else {}
        self._server = server_process(command, env, self._ready, out.with_suffix(".log"), watchdog)
        self.seen: dict[str, float] = {}
        self._offset = 0

    def _ready(self) -> bool:
        return self.out.exists() and self.out.read_text().startswith("ready")

    def __enter__(self) -> RedisTap:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(None, None, None)

    def first_with(self, ref: str) -> float | None:
        with self.out.open() as fh:
            fh.seek(self._offset)
            for line in fh:
                if not line.endswith("\n"):
                    break  # half written: read it next time
                self._offset += len(line)
                stamp, *refs = line.split()
                for found in refs:
                    self.seen.setdefault(found, float(stamp))
        return self.seen.get(ref)


def tap_redis(url: str, channel: str, out: Path) -> None:
    import redis
    from cryptography.fernet import InvalidToken

    from console.sealed_queue import SealedJSON

    pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe(channel)
    refs = re.compile(rb"\b[0-9A-F]{12}\b")
    secret_key = os.environ.get("HELPLINE_SECRET_KEY")
    opener = SealedJSON(secret_key) if secret_key else None

    with out.open("w") as fh:
        fh.write("ready\n")
        fh.flush()
        for message in pubsub.listen():
            stamp = time.perf_counter()
            data = message.get("data")
            if isinstance(data, bytes):
                if opener is not None:
                    try:
                        data = json.dumps(opener.loads(data)).encode()
                    except InvalidToken:
                        continue  # another line's message on a shared server
                found = " ".join(sorted({m.decode() for m in refs.findall(data)}))
                fh.write(f"{stamp:.6f} {found}\n")
                fh.flush()


@contextlib.contextmanager
def server_process(
    command: list[str],
    env: dict[str, str],
    ready: Callable[[], bool],
    log_path: Path,
    watchdog: Watchdog,
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        watchdog.processes.append(proc)
        try:
            deadline = time.monotonic() + 60
            while not ready():
                if proc.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {proc.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} was not ready within 60 s")
                time.sleep(0.1)
            yield proc
        except BaseException:
            tail = log_path.read_text(errors="replace").splitlines()[-30:]
            log(f"{log_path.name} (last lines):\n" + "\n".join(tail))
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            watchdog.processes.remove(proc)


LOGIN_RETRIES: list[str] = []


def http_login(base: str, username: str, attempts: int = 3) -> tuple[str, str]:
    """Log in through the real form; returns the session cookie header and a CSRF token.

    The login view checks the argon2 hash inside its write transaction, so concurrent logins
    serialise on SQLite's write lock and one may time out ("database is locked", a 500): retry.
    """
    for attempt in range(attempts):
        try:
            return _login_once(base, username)
        except RuntimeError as exc:
            if attempt == attempts - 1:
                raise
            LOGIN_RETRIES.append(f"{username}: {exc}")
    raise AssertionError("unreachable")


def _login_once(base: str, username: str) -> tuple[str, str]:
    import requests

    http = requests.Session()
    page = http.get(f"{base}/login", timeout=30)
    token = _csrf(page.text)
    response = http.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302:
        raise RuntimeError(f"login of {username} answered {response.status_code}")
    console = http.get(f"{base}/console", timeout=30)
    token = _csrf(console.text)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    return cookie, token


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    if match is None:
        raise RuntimeError("the page carries no CSRF token")
    return match.group(1)


# ------------------------------------------------------------------ fan-out


class Arrivals:
    """When each client received each contact's event, keyed by the contact's random ref: ids
    restart at 1 in every fresh database."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.times: dict[str, dict[int, float]] = {}
        self.done: dict[str, asyncio.Event] = {}
        self.other_events: Counter[str] = Counter()

    def handler(self, client_no: int) -> Callable[[dict[str, Any]], None]:
        def on_queued(payload: dict[str, Any]) -> None:
            now = time.perf_counter()
            ref = payload.get("ref") if isinstance(payload, dict) else None
            if not isinstance(ref, str):
                return
            seen = self.times.setdefault(ref, {})
            seen.setdefault(client_no, now)
            if len(seen) == self.expected:
                self.event(ref).set()

        return on_queued

    def count_other(self, event: str, *_args: Any) -> None:
        self.other_events[event] += 1

    def event(self, ref: str) -> asyncio.Event:
        return self.done.setdefault(ref, asyncio.Event())

    def forget(self, ref: str) -> None:
        self.times.pop(ref, None)
        self.done.pop(ref, None)


@dataclass
class FanoutResult:
    all_ms: list[float] = field(default_factory=list)  # POST sent → the last console has it
    first_ms: list[float] = field(default_factory=list)  # POST sent → the first console has it
    post_ms: list[float] = field(default_factory=list)  # POST sent → its response read
    redis_ms: list[float] = field(default_factory=list)  # POST sent → the message seen on Redis
    missing: int = 0
    other_events_per_console: dict[str, float] = field(default_factory=dict)


Connect = Callable[[int, str, str | None], Awaitable[Any]]


async def connect_clients(
    targets: list[tuple[str, str | None]], connect_one: Connect, parallel: int = 4
) -> list[Any]:
    """Connect every client, a few at a time: connecting is not what is measured, and each
    connect takes a database connection from a server's pool of 5 + 10 for its user loader."""
    gate = asyncio.Semaphore(parallel)
    clients: list[Any] = []

    async def one(client_no: int, base: str, cookie: str | None) -> None:
        async with gate:
            clients.append(await connect_one(client_no, base, cookie))

    try:
        await asyncio.gather(*(one(i, base, cookie) for i, (base, cookie) in enumerate(targets)))
    except BaseException:
        await disconnect_clients(clients)
        raise
    return clients


def python_socketio_client(arrivals: Arrivals) -> Connect:
    async def connect(client_no: int, base: str, cookie: str | None) -> Any:
        import socketio

        client = socketio.AsyncClient(reconnection=False)
        client.on("contact.queued", arrivals.handler(client_no))
        client.on("*", arrivals.count_other)
        await client.connect(
            base,
            headers={"Cookie": cookie} if cookie else {},
            transports=["websocket"],
            wait_timeout=30,
        )
        return client

    return connect


def lean_client(arrivals: Arrivals, http: Any) -> Connect:
    async def connect(client_no: int, base: str, cookie: str | None) -> Any:
        on_queued = arrivals.handler(client_no)

        def on_event(name: str, payload: Any) -> None:
            if name == "contact.queued":
                on_queued(payload)
            else:
                arrivals.count_other(name)

        return await LeanConsole.connect(http, base, cookie, on_event)

    return connect


class LeanConsole:
    """A console reduced to its wire protocol: Engine.IO 4 and Socket.IO 5 over a websocket, as
    python-socketio's client speaks them, on aiohttp's C frame reader, and nothing more.

    The 300 consoles stand in for 300 browsers on 300 machines. In one Python process on this
    2-core machine, python-socketio's client spent about 45 ms of CPU on each broadcast (measured),
    a core the servers under test then lacked; this one spends about 20 ms."""

    def __init__(self, ws: Any, task: asyncio.Task[None]) -> None:
        self.ws, self.task = ws, task

    @classmethod
    async def connect(
        cls, http: Any, base: str, cookie: str | None, on_event: Callable[[str, Any], None]
    ) -> LeanConsole:
        url = base.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        ws = await http.ws_connect(
            url, headers={"Cookie": cookie} if cookie else {}, autoping=False, max_msg_size=0
        )
        opened = await ws.receive_str(timeout=30)  # Engine.IO "open"
        await ws.send_str("40")  # Socket.IO "connect" to the default namespace
        accepted = await ws.receive_str(timeout=30)
        if not (opened.startswith("0") and accepted.startswith("40")):
            await ws.close()
            raise RuntimeError(f"the server refused the console: {accepted[:80]}")
        return cls(ws, asyncio.create_task(cls._read(ws, on_event)))

    @staticmethod
    async def _read(ws: Any, on_event: Callable[[str, Any], None]) -> None:
        import aiohttp

        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.data
            if data == "2":  # Engine.IO ping
                await ws.send_str("3")
            elif data.startswith("42"):  # Socket.IO event: ["name", payload]
                name, *args = json.loads(data[2:])
                on_event(name, args[0] if args else None)

    async def disconnect(self) -> None:
        self.task.cancel()
        # Leave as python-socketio's client does, so no server thread pings a vanished console.
        with contextlib.suppress(Exception):
            await self.ws.send_str("41")  # Socket.IO "disconnect"
            await self.ws.send_str("1")  # Engine.IO "close"
            await asyncio.wait_for(self._closed_by_server(), 2)
        await self.ws.close()

    async def _closed_by_server(self) -> None:
        import aiohttp

        while (await self.ws.receive()).type not in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
        ):
            pass


async def disconnect_clients(clients: list[Any]) -> None:
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


@dataclass
class Side:
    """One set of servers under test (the app, or the bare baseline) and its 300 clients."""

    name: str
    targets: list[tuple[str, str | None]]  # (server base URL, session cookie) per client
    post: Callable[[Any], Awaitable[str]]  # triggers one broadcast; returns the contact's ref
    tap: RedisTap
    arrivals: Arrivals = field(init=False)
    clients: list[Any] = field(default_factory=list)
    result: FanoutResult = field(default_factory=FanoutResult)
    sent_at: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.arrivals = Arrivals(len(self.targets))


async def measure_fanout(
    sides: list[Side], *, events: int, warmup: int, timeout: float, seed: int, lean: bool
) -> None:
    """The sides take turns, one contact at a time, in an order shuffled each round: a machine
    busy with other work weighs on the figure and its baseline alike."""
    import aiohttp

    rng = random.Random(seed)
    # One connection each: aiohttp's default pool would hold the 101st websocket back.
    consoles_http = aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), connector=aiohttp.TCPConnector(limit=0)
    )
    try:
        for side in sides:
            started = time.perf_counter()
            connect = (
                lean_client(side.arrivals, consoles_http)
                if lean
                else python_socketio_client(side.arrivals)
            )
            side.clients = await connect_clients(side.targets, connect)
            log(
                f"fan-out {side.name}: {len(side.clients)} clients connected in "
                f"{time.perf_counter() - started:.1f} s"
            )
        await asyncio.sleep(1.0)  # let the connect burst (and its lead.stats pushes) settle
        with no_collection():  # the 600 clients' objects: see bench.no_collection
            for side in sides:
                side.arrivals.other_events.clear()
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
                for n in range(warmup + events):
                    for side in rng.sample(sides, len(sides)):
                        await one_broadcast(side, http, measured=n >= warmup, timeout=timeout)
                        # Irregular gaps, so arrivals do not beat in step with the 1 s routing tick.
                        await asyncio.sleep(rng.uniform(0.05, 0.25))
        for side in sides:
            for ref, sent in side.sent_at.items():
                published = side.tap.first_with(ref)
                if published is not None:
                    side.result.redis_ms.append((published - sent) * 1000)
            side.result.other_events_per_console = {
                event: round(count / max(1, len(side.clients)), 1)
                for event, count in side.arrivals.other_events.items()
            }
    finally:
        for side in sides:
            await disconnect_clients(side.clients)
        await consoles_http.close()


async def one_broadcast(side: Side, http: Any, *, measured: bool, timeout: float) -> None:
    result, arrivals = side.result, side.arrivals
    sent = time.perf_counter()
    ref = await side.post(http)
    answered = time.perf_counter()
    try:
        await asyncio.wait_for(arrivals.event(ref).wait(), timeout)
    except TimeoutError:
        if measured:
            result.missing += 1
            result.all_ms.append(timeout * 1000)
    else:
        seen = arrivals.times[ref].values()
        if measured:
            result.all_ms.append((max(seen) - sent) * 1000)
            result.first_ms.append((min(seen) - sent) * 1000)
            result.post_ms.append((answered - sent) * 1000)
            side.sent_at[ref] = sent
    arrivals.forget(ref)


def log_fanout(name: str, res: FanoutResult) -> None:
    slowest = " ".join(f"{v:.0f}" for v in sorted(res.all_ms)[-5:])
    log(f"fan-out {name}: the five slowest samples, every console (ms): {slowest}")

    def spread(values: list[float]) -> str:
        return f"p50={percentile(values, 50):.1f} p99={percentile(values, 99):.1f}"

    log(
        f"fan-out {name}: samples={len(res.all_ms)} missing={res.missing}; from just before the "
        f"POST (ms): every console {spread(res.all_ms)} max={max(res.all_ms, default=0):.1f}; "
        f"first console {spread(res.first_ms)}; on Redis {spread(res.redis_ms)}; "
        f"POST answered {spread(res.post_ms)}; other events per console during the run: "
        f"{res.other_events_per_console or 'none'}"
    )


@contextlib.contextmanager
def bare_side(redis_url: str, consoles: int, workdir: Path, watchdog: Watchdog) -> Iterator[Side]:
    ports = [free_port(), free_port()]
    command = [sys.executable, "-m", "bench.queue", "--bare-server", "--redis-url", redis_url]
    with contextlib.ExitStack() as stack:
        for i, port in enumerate(ports):
            stack.enter_context(
                server_process(
                    [*command, "--port", str(port)],
                    {},
                    answers(f"http://127.0.0.1:{port}/healthz"),
                    workdir / f"bare-{i}.log",
                    watchdog,
                )
            )
        bases = [f"http://127.0.0.1:{port}" for port in ports]

        async def post(http: Any) -> str:
            async with http.post(f"{bases[0]}/emit") as response:
                if response.status != 200:
                    raise RuntimeError(f"bare server answered {response.status}")
                body = await response.json()
                return str(body["ref"])

        tap = stack.enter_context(
            RedisTap(redis_url, BARE_CHANNEL, workdir / "tap-bare.txt", watchdog)
        )
        yield Side("baseline", [(bases[i % 2], None) for i in range(consoles)], post, tap)


@contextlib.contextmanager
def app_side(
    url: str, redis_url: str, consoles: int, workdir: Path, watchdog: Watchdog
) -> Iterator[Side]:
    migrate(url)  # before the servers start: two processes racing to migrate SQLite lock up
    log(f"fan-out: seeding {consoles} operators, each on a call, and a shift lead")
    operator_ids = seed_operators(url, consoles, prefix="console", max_chats=3)
    from console.db import Database
    from console.domain import operators, queue
    from console.settings import load_settings, socketio_channel

    cfg = load_settings(mode="test", env={"HELPLINE_DATABASE_URL": url}).queue
    database = Database(url)
    with one_password_hash(), database.transaction() as session:
        operators.create_operator(
            session, username="intake", password=PASSWORD, role="shift_lead", languages=["nl"]
        )
        # Every operator busy on a call: new contacts wait and are watched, as in a rush hour.
        # With free operators and nobody accepting, the routing tick would offer each contact
        # and re-offer it every reservation timeout, adding broadcasts the test does not ask for.
        for operator_id in operator_ids:
            call = queue.enqueue(session, channel="voice", language="nl", cfg=cfg)
            queue.claim(session, call.id, operator_id)
    database.dispose()

    env = {
        "HELPLINE_DATABASE_URL": url,
        "HELPLINE_REDIS_URL": redis_url,
        "HELPLINE_SECRET_KEY": secrets.token_urlsafe(32),
        "HELPLINE_INSTANCE_DIR": str(workdir / "instance"),
    }
    ports = [free_port(), free_port()]
    with contextlib.ExitStack() as stack:
        for i, port in enumerate(ports):
            command = [sys.executable, "-m", "console.cli", "--mode", "test", "serve"]
            stack.enter_context(
                server_process(
                    [*command, "--port", str(port)],
                    env,
                    answers(f"http://127.0.0.1:{port}/healthz"),
                    workdir / f"app-{'ab'[i]}.log",
                    watchdog,
                )
            )
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        started = time.perf_counter()
        # Two at a time: the login view verifies the password inside a write transaction, so
        # logins serialise on SQLite anyway, and more waiters only starve in its busy handler.
        with ThreadPoolExecutor(max_workers=2) as pool:
            logins = list(
                pool.map(lambda i: http_login(bases[i % 2], f"console{i:03d}")[0], range(consoles))
            )
        intake_cookie, intake_token = http_login(bases[0], "intake")
        log(
            f"fan-out: {consoles} operators logged in in {time.perf_counter() - started:.1f} s "
            f"({len(LOGIN_RETRIES)} logins retried after an error)"
        )

        async def post(http: Any) -> str:
            async with http.post(
                f"{bases[0]}/api/intake",
                json={"language": "nl"},
                headers={"Cookie": intake_cookie, "X-CSRFToken": intake_token},
            ) as response:
                if response.status != 201:
                    raise RuntimeError(f"intake answered {response.status}")
                body = await response.json()
                return str(body["contact"]["ref"])

        tap = stack.enter_context(
            RedisTap(
                redis_url,
                socketio_channel(redis_url),
                workdir / "tap-app.txt",
                watchdog,
                secret_key=env["HELPLINE_SECRET_KEY"],
            )
        )
        targets = [(bases[i % 2], cookie) for i, cookie in enumerate(logins)]
        yield Side("app", list(targets), post, tap)
    for name in ("app-a.log", "app-b.log"):
        text = (workdir / name).read_text(errors="replace")
        if "Traceback" in text or " WARNING " in text or " ERROR " in text:
            log(f"fan-out: {name} holds warnings or tracebacks (last lines):")
            for line in text.splitlines()[-15:]:
                log(f"  {line}")


def bench_fanout(
    url: str,
    redis_url: str,
    consoles: int,
    events: int,
    workdir: Path,
    watchdog: Watchdog,
    *,
    lean: bool,
) -> tuple[FanoutResult, FanoutResult]:
    """(app, baseline): both sets of servers run side by side and take turns."""
    with (
        app_side(url, redis_url, consoles, workdir, watchdog) as app,
        bare_side(redis_url, consoles, workdir, watchdog) as bare,
    ):
        log(
            f"fan-out: {events} contacts each, taking turns: 2 helpline serve processes and "
            f"2 bare python-socketio servers, {consoles} consoles each"
        )
        asyncio.run(
            measure_fanout([app, bare], events=events, warmup=10, timeout=5, seed=2, lean=lean)
        )
    return app.result, bare.result


# ------------------------------------------------------------------ the bare baseline server


def serve_bare(port: int, redis_url: str | None) -> None:
    """A python-socketio server and nothing else: threading mode on Werkzeug, as the app runs."""
    import socketio
    from werkzeug.serving import run_simple

    manager = socketio.RedisManager(redis_url, channel=BARE_CHANNEL) if redis_url else None
    sio = socketio.Server(async_mode="threading", client_manager=manager, cors_allowed_origins=[])
    counter = iter(range(1, 1_000_000))

    @sio.event
    def connect(sid: str, _environ: dict[str, Any], _auth: Any = None) -> None:
        sio.enter_room(sid, "staff")

    def fallback(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/emit" and environ.get("REQUEST_METHOD") == "POST":
            # A payload shaped and sized like Contact.to_public().
            ref = secrets.token_hex(6).upper()
            payload = {
                "id": next(counter),
                "ref": ref,
                "channel": "callback",
                "language": "nl",
                "topic": None,
                "priority": 30,
                "source": "self",
                "state": "waiting",
                "urgent": False,
                "operator_id": None,
                "offered_to_id": None,
                "enqueued_at": dt.datetime.now(dt.UTC).isoformat(),
                "accepted_at": None,
                "closed_at": None,
                "overflowed": False,
            }
            sio.emit("contact.queued", payload, to="staff")
            body = json.dumps({"ref": ref}).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    app = socketio.WSGIApp(sio, fallback)
    run_simple("127.0.0.1", port, app, threaded=True)


# ------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.queue", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL (postgresql://…/db); the benchmark creates and drops a "
        "database of its own there. Default: a temporary SQLite file.",
    )
    parser.add_argument(
        "--redis-url",
        default=None,
        help="Redis for the Socket.IO message queue. Default: a redis-server of the run's own on "
        "a free port (a shared server would carry these broadcasts to every helpline process "
        "on the same database's channel)",
    )
    parser.add_argument("--operators", type=int, default=300)
    parser.add_argument("--contacts", type=int, default=1000, help="waiting contacts to claim")
    parser.add_argument(
        "--claim-threads", type=int, default=8, help="operators racing for each contact"
    )
    parser.add_argument("--consoles", type=int, default=300)
    parser.add_argument("--events", type=int, default=300, help="contacts enqueued for fan-out")
    parser.add_argument(
        "--console-client",
        choices=["lean", "python-socketio"],
        default="lean",
        help="what each simulated console runs: the wire protocol alone, or python-socketio",
    )
    parser.add_argument("--skip-claim", action="store_true")
    parser.add_argument("--skip-fanout", action="store_true")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="write a cProfile of the domain claims (all threads merged) to this .prof file",
    )
    parser.add_argument("--max-seconds", type=float, default=900, help="hard stop for the run")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the server logs (and SQLite files) in this directory instead of a temporary one",
    )
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis-tap", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--channel", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_server:
        serve_bare(args.port, args.redis_url or None)
        return 0
    if args.redis_tap:
        tap_redis(args.redis_url, args.channel, args.redis_tap)
        return 0
    if args.database_url and not args.database_url.startswith("postgresql"):
        log("--database-url: expected postgresql://…; SQLite is the default")
        return 2
    engine = "postgresql" if args.database_url else "sqlite"
    watchdog = Watchdog(args.max_seconds, "bench.queue")
    watchdog.start()
    lines: list[dict[str, object]] = []
    problems: list[str] = []
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = args.workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="helpline-")))
        if not args.skip_claim:
            with temporary_database(args.database_url, workdir, "claim") as url:
                domain, bare_claims, claim_problems = bench_claim(
                    url,
                    operators=args.operators,
                    contacts=args.contacts,
                    threads=args.claim_threads,
                    warmup=20,
                    profile_out=args.profile,
                )
            problems += claim_problems
            common: dict[str, object] = {
                "database": engine,
                "threads": args.claim_threads,
                "samples": len(domain.attempts_ms),
            }
            for p in (50, 99):
                lines.append(
                    figure(
                        f"claim_p{p}_ms",
                        percentile(domain.attempts_ms, p),
                        percentile(bare_claims.attempts_ms, p),
                        CLAIM_TARGET_MS if p == 99 else None,
                        **common,
                    )
                )
        if not args.skip_fanout:
            redis_url = args.redis_url or stack.enter_context(private_redis(workdir, watchdog))
            with temporary_database(args.database_url, workdir, "fanout") as url:
                app, bare = bench_fanout(
                    url,
                    redis_url,
                    args.consoles,
                    args.events,
                    workdir,
                    watchdog,
                    lean=args.console_client == "lean",
                )
            log_fanout("app", app)
            log_fanout("baseline", bare)
            if app.missing:
                problems.append(f"fan-out: {app.missing} contacts did not reach every console")
            common = {
                "database": engine,
                "consoles": args.consoles,
                "processes": 2,
                "samples": len(app.all_ms),
            }
            for p in (50, 99):
                lines.append(
                    figure(
                        f"fanout_p{p}_ms",
                        percentile(app.all_ms, p),
                        percentile(bare.all_ms, p),
                        FANOUT_TARGET_MS if p == 99 else None,
                        **common,
                    )
                )
    watchdog.cancel()
    for problem in problems:
        log(f"PROBLEM: {problem}")
    for line in lines:
        print(json.dumps(line), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
