"""Voice webhooks under load, against the real server as deployed.

    .venv/bin/python -m bench.voice [--seconds 15] [--workers 2] [--threads 16]

gunicorn serves the app with gunicorn.conf.py (gthread workers, one socket per worker with
SO_REUSEPORT, Flask-SocketIO in threading mode, Redis as its message queue when reachable), on a
fresh SQLite file. The same server also carries a bare Flask route (`POST /bench/bare`, "ok"), the
baseline, so both go through the same processes, middleware and access log.

Every voice request is signed as Twilio signs it (X-Twilio-Signature over the public URL and the
form), with a new CallSid and caller number per incoming call.

1. Open loop at a fixed 100 requests/s (requests leave on schedule whatever the server does;
   latency counts from the scheduled moment, so queueing is not hidden): p50/p99 of
   `POST /voice/incoming` (the figure, `voice_incoming_p99_ms`, target under 25 ms), of the wait
   URL (60 callers waiting), and of the bare route, in alternating rounds.
2. At saturation (closed loop, 48 keep-alive connections from 3 client processes), throughput of
   `/voice/incoming` and of the wait URL as a ratio of the bare route's (`voice_rps_vs_bare`,
   target at least 0.4), bare and voice runs interleaved so drift hits both.
3. Last (its backlog of waiting contacts would weigh on the others), the queue step, open loop
   at 20 calls joining per second (`--enqueue-rate`; a national line's peak is well under one):
   `voice_enqueue_p99_ms`, informational, with no target in the issue. It is the one webhook that
   writes (the contact and its call leg), and on SQLite every such write takes the database's
   single write lock in turn.

Progress goes to stderr; the figures end stdout as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue as stdlib_queue
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_BASE = "https://helpline.bench.invalid"
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = secrets.token_hex(16)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the server under test


def bench_app() -> Any:
    """gunicorn's app factory: the deployed app, plus the bare baseline route."""
    from flask import Response

    from console.extensions import csrf
    from console.web.security import public
    from console.wsgi import app

    @public
    def bare() -> Response:
        return Response("ok", mimetype="text/plain")

    app.add_url_rule("/bench/bare", "bench_bare", csrf.exempt(bare), methods=["POST"])
    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_url() -> str | None:
    url = os.environ.get("HELPLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception:
        return None
    return url


def start_server(workdir: Path, workers: int, threads: int) -> tuple[subprocess.Popen[bytes], int]:
    config = workdir / "config"
    shutil.copytree(ROOT / "config", config)
    # Open around the clock, so every run measures the same menu (not the closed message).
    lines = ['country = ""', "[weekdays]"] + [f'{d} = ["00:00-24:00"]' for d in WEEKDAYS]
    (config / "hours.toml").write_text("\n".join(lines) + "\n")
    from cryptography.fernet import Fernet

    port = _free_port()
    env = {
        **os.environ,
        "HELPLINE_DATABASE_URL": f"sqlite:///{workdir / 'helpline.sqlite3'}",
        "HELPLINE_SECRET_KEY": secrets.token_urlsafe(32),
        "HELPLINE_IDENTITY_KEYS": Fernet.generate_key().decode(),
        "HELPLINE_CONFIG_DIR": str(config),
        "HELPLINE_INSTANCE_DIR": str(workdir / "instance"),
        "HELPLINE_PUBLIC_BASE_URL": PUBLIC_BASE,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "HELPLINE_BIND": f"127.0.0.1:{port}",
        "HELPLINE_WORKERS": str(workers),
        "HELPLINE_THREADS": str(threads),
    }
    redis_url = _redis_url()
    if redis_url:
        env["HELPLINE_REDIS_URL"] = redis_url
    else:
        env.pop("HELPLINE_REDIS_URL", None)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [gunicorn, "-c", str(ROOT / "gunicorn.conf.py"), "bench.voice:bench_app()"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {workdir / 'server.log'}")
        try:
            conn = Connection(port)
            if conn.request(_get("/healthz"))[0] == 200:
                conn.close()
                break
        except OSError:
            time.sleep(0.2)
    else:
        raise SystemExit("gunicorn did not come up")
    say(
        f"gunicorn: {workers} gthread workers × {threads} threads, reuse_port, "
        f"redis {'on' if redis_url else 'off'}, port {port}"
    )
    return proc, port


# ---------------------------------------------------------------- a lean HTTP/1.1 client


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def _post(path: str, params: dict[str, str], signature: str | None) -> bytes:
    body = urlencode(params).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    if signature is not None:
        head += f"X-Twilio-Signature: {signature}\r\n"
    return head.encode() + b"\r\n" + body


class Connection:
    """One keep-alive connection; reads exactly one response (Content-Length bodies only)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        self.buffer = rest[length:]
        return status, rest[:length]

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------- what Twilio sends


def _sign(url: str, params: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(AUTH_TOKEN).compute_signature(url, params))


def _call_params(call_sid: str, number: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "From": number,
        "To": "+3225550100",
        "Caller": number,
        "Called": "+3225550100",
        **extra,
    }


def _new_call() -> tuple[str, str]:
    return "CA" + secrets.token_hex(16), f"+32470{secrets.randbelow(10**6):06d}"


def incoming_requests(count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        sid, number = _new_call()
        params = _call_params(sid, number, CallStatus="ringing")
        out.append(_post("/voice/incoming", params, _sign(f"{PUBLIC_BASE}/voice/incoming", params)))
    return out


def enqueue_requests(count: int) -> tuple[list[bytes], list[tuple[str, str]]]:
    """The queue step (after the menus): the one webhook that writes a contact."""
    out, calls = [], []
    for _ in range(count):
        sid, number = _new_call()
        params = _call_params(sid, number, Digits="0")
        path = "/voice/topic?l=en"
        out.append(_post(path, params, _sign(PUBLIC_BASE + path, params)))
        calls.append((sid, number))
    return out, calls


def wait_requests(calls: list[tuple[str, str]], count: int) -> list[bytes]:
    out = []
    path = "/voice/wait?l=en"
    for index in range(count):
        sid, number = calls[index % len(calls)]
        params = _call_params(
            sid,
            number,
            QueuePosition="3",
            QueueSid="QU" + "c" * 32,
            QueueTime="42",
            AvgQueueTime="40",
            CurrentQueueSize="9",
        )
        out.append(_post(path, params, _sign(PUBLIC_BASE + path, params)))
    return out


def bare_requests(count: int) -> list[bytes]:
    return [_post("/bench/bare", {"a": "1"}, None)] * count


# ---------------------------------------------------------------- load


def open_loop(port: int, requests: list[bytes], rate: float, workers: int = 48) -> list[float]:
    """Send `requests` at a fixed rate whatever happens; latency from the scheduled moment (ms)."""
    jobs: stdlib_queue.Queue[tuple[int, float] | None] = stdlib_queue.Queue()
    latencies: list[float] = [0.0] * len(requests)
    errors: list[str] = []

    def worker() -> None:
        conn = Connection(port)
        while True:
            item = jobs.get()
            if item is None:
                break
            index, scheduled = item
            try:
                status, _ = conn.request(requests[index])
                if status >= 400:
                    errors.append(f"HTTP {status}")
            except OSError as exc:
                errors.append(str(exc))
                conn = Connection(port)
            latencies[index] = (time.perf_counter() - scheduled) * 1000
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.3
    for index in range(len(requests)):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.put((index, scheduled))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    if errors:
        say(f"  {len(errors)} failed requests, e.g. {errors[0]}")
    say(
        f"  p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )
    return latencies


def _closed_loop_client(
    port: int, requests: list[bytes], connections: int, start: float, seconds: float, out: Any
) -> None:
    done = [0] * connections
    failed = [0] * connections

    def run(slot: int) -> None:
        conn = Connection(port)
        index = slot
        while time.time() < start:
            time.sleep(0.001)
        end = start + seconds
        while time.time() < end:
            try:
                status, _ = conn.request(requests[index % len(requests)])
                if status >= 400:
                    failed[slot] += 1
                else:
                    done[slot] += 1
            except OSError:
                failed[slot] += 1
                conn = Connection(port)
            index += connections
        conn.close()

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((sum(done), sum(failed)))


def saturate(
    port: int, requests: list[bytes], seconds: float, procs: int = 3, conns: int = 16
) -> float:
    """Requests per second completed by `procs` × `conns` keep-alive connections, flat out."""
    ctx = mp.get_context("fork")
    out: Any = ctx.Queue()
    start = time.time() + 0.5
    share = [requests[i::procs] for i in range(procs)]
    workers = [
        ctx.Process(target=_closed_loop_client, args=(port, share[i], conns, start, seconds, out))
        for i in range(procs)
    ]
    for worker in workers:
        worker.start()
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    done = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    if failed:
        raise SystemExit(f"{failed} requests failed at saturation")
    return done / seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def figure(
    name: str, value: float, unit: str, baseline: float, target: float | None, **extra: Any
) -> str:
    return json.dumps(
        {
            "name": name,
            "value": round(value, 2),
            "unit": unit,
            "baseline": round(baseline, 2),
            "target": target,
            **{k: round(v, 2) if isinstance(v, float) else v for k, v in extra.items()},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per open-loop phase")
    parser.add_argument("--saturate-seconds", type=float, default=6.0, help="per saturation run")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--waiting", type=int, default=60, help="calls waiting in the queue")
    parser.add_argument(
        "--enqueue-rate", type=float, default=20.0, help="calls joining the queue per second"
    )
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="helpline-bench-voice-"))
    proc, port = start_server(workdir, args.workers, args.threads)
    try:
        count = int(args.rate * args.seconds)
        # A long queue for a helpline (its every caller polls the wait URL); far longer, and every
        # process's routing tick would be measured instead of the webhooks.
        say(f"seeding {args.waiting} waiting calls for the wait URL")
        seed, calls = enqueue_requests(args.waiting)
        conn = Connection(port)
        for raw in seed:
            status, _ = conn.request(raw)
            assert status == 200, status
        conn.close()
        say("warming up")
        for kind in (bare_requests(300), incoming_requests(300), wait_requests(calls, 300)):
            open_loop(port, kind, rate=500)

        # Five rounds of bare, incoming, wait: a burst of noise on this machine (other processes)
        # then falls on all three, not on whichever phase happened to be running.
        rounds = 5
        share = count // rounds
        phases = {
            "bare": bare_requests(count),
            "incoming": incoming_requests(count),
            "wait": wait_requests(calls, count),
        }
        results: dict[str, list[float]] = {name: [] for name in phases}
        say(f"open loop at {args.rate:.0f}/s: {rounds} rounds of bare, incoming, wait")
        for index in range(rounds):
            for name, requests in phases.items():
                part = requests[index * share : (index + 1) * share]
                results[name] += open_loop(port, part, args.rate)

        say("saturation: bare, incoming and wait, interleaved")
        many = 20000
        pools = {
            "bare": bare_requests(many),
            "incoming": incoming_requests(many),
            "wait": wait_requests(calls, many),
        }
        rps: dict[str, list[float]] = {name: [] for name in pools}
        for _ in range(2):
            for name, requests in pools.items():
                rps[name].append(saturate(port, requests, args.saturate_seconds))
                say(f"  {name}: {rps[name][-1]:.0f} req/s")

        # Last, as it leaves a backlog of waiting contacts behind: the queue step, which writes.
        say(f"open loop: the queue step at {args.enqueue_rate:.0f}/s for {args.seconds:.0f} s")
        joins = int(args.enqueue_rate * args.seconds)
        results["enqueue"] = open_loop(port, enqueue_requests(joins)[0], args.enqueue_rate)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    log = (workdir / "server.log").read_text(errors="replace")
    keep = "Traceback" in log
    if keep:
        say(f"the server logged a traceback; see {workdir / 'server.log'}")
    # Other processes on this machine show in every tail: the figures say how busy it was.
    load = f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    bare_rps = statistics.fmean(rps["bare"])
    bare_p99 = percentile(results["bare"], 99)
    lines = [
        figure(
            "voice_incoming_p99_ms",
            percentile(results["incoming"], 99),
            "ms",
            bare_p99,
            25,
            p50=percentile(results["incoming"], 50),
            baseline_p50=percentile(results["bare"], 50),
            rate=args.rate,
            requests=count,
            load_average=load,
        ),
        figure(
            "voice_wait_p99_ms",
            percentile(results["wait"], 99),
            "ms",
            bare_p99,
            25,
            p50=percentile(results["wait"], 50),
            rate=args.rate,
        ),
        figure(
            "voice_enqueue_p99_ms",
            percentile(results["enqueue"], 99),
            "ms",
            bare_p99,
            None,
            p50=percentile(results["enqueue"], 50),
            rate=args.enqueue_rate,
            note="informational: the queue step, one write transaction per call",
        ),
        figure(
            "voice_rps_vs_bare",
            statistics.fmean(rps["incoming"]) / bare_rps,
            "ratio",
            bare_rps,
            0.4,
            incoming_rps=statistics.fmean(rps["incoming"]),
            connections=48,
        ),
        figure(
            "voice_wait_rps_vs_bare",
            statistics.fmean(rps["wait"]) / bare_rps,
            "ratio",
            bare_rps,
            0.4,
            wait_rps=statistics.fmean(rps["wait"]),
        ),
    ]
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    for line in lines:
        print(line, flush=True)


if __name__ == "__main__":
    main()
