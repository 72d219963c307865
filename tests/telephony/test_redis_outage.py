"""With Redis stopped mid-test, calls are still answered, queued and recorded, and the wait URL
works; once Redis is back the console catches up without a reload, and no contact is lost.

The test runs its own redis-server on a free port (never the shared one) so it can stop it.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from console.db import Database
from telephony.simulator import SimulatedCall, SimulatedTwilio
from tests.support import (
    free_port,
    http_login,
    live_server,
    make_operator,
    socket_client,
    wait_until,
)
from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN


class RedisProcess:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for this test"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_until(lambda: self._pong(client), timeout=10, what="redis-server")

    @staticmethod
    def _pong(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def _queue(twilio: SimulatedTwilio, number: str) -> SimulatedCall:
    call = twilio.call(from_=number).start()
    call.press("3")
    call.press("0")
    assert call.where == "queue"
    call.listen()  # the wait URL answers, with the place in the queue
    assert any(line.startswith("You are number") for line in call.heard)
    return call


@pytest.mark.redis
@pytest.mark.slow
def test_calls_survive_a_redis_outage_and_consoles_catch_up(
    database: Database, own_redis: RedisProcess, config_dir: Path, tmp_path: Path
) -> None:
    if database.is_sqlite and ":memory:" in database.url:
        pytest.skip("needs a database file shared with the server process")
    make_operator(database, "ana", presence=None)
    env = {
        "HELPLINE_DATABASE_URL": database.url,
        "HELPLINE_REDIS_URL": own_redis.url,
        "HELPLINE_SECRET_KEY": secrets.token_urlsafe(32),
        "HELPLINE_CONFIG_DIR": str(config_dir),
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    }
    with live_server(env, log_path=tmp_path / "server.log") as base:
        http, _ = http_login(base, "ana")
        seen: list[tuple[str, Any]] = []
        resynced = threading.Event()
        socket = socket_client(base, http)
        socket.on("contact.queued", lambda c: seen.append(("queued", c["id"])))
        socket.on("resync", lambda *_: (seen.append(("resync", None)), resynced.set()))
        twilio = SimulatedTwilio(base, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID)
        try:
            before = _queue(twilio, "+32470100001")
            wait_until(lambda: ("queued", _waiting_ids(http, base)[0]) in seen, what="live event")

            own_redis.stop()
            during = []
            for number in ("+32470100002", "+32470100003"):
                started = time.monotonic()
                during.append(_queue(twilio, number))
                # Answered at once: nothing on the webhook path waits for Redis.
                assert time.monotonic() - started < 5
            health = http.get(f"{base}/healthz", timeout=5).json()
            assert (health["status"], health["redis"]) == ("ok", "down")
            assert len(_waiting_ids(http, base)) == 3  # recorded in the database

            own_redis.start()
            assert resynced.wait(15), "the console was never told to resync"
            # What the console does on "resync": reload the snapshot. Nothing was lost.
            assert len(_waiting_ids(http, base)) == 3
            after = _queue(twilio, "+32470100004")
            wait_until(
                lambda: len([kind for kind, _ in seen if kind == "queued"]) >= 2,
                what="live events flowing again",
                timeout=10,
            )
            assert socket.connected  # caught up without reconnecting, let alone a reload
            for call in (before, *during, after):
                call.hang_up()
            assert _waiting_ids(http, base) == []
        finally:
            socket.disconnect()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log


def _waiting_ids(http: Any, base: str) -> list[int]:
    snapshot = http.get(f"{base}/api/queue", timeout=5).json()
    return [c["id"] for c in snapshot["waiting"]]
