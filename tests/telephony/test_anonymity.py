"""The anonymity audit of the phone line.

A distinctive caller number is planted and taken through every flow: calls in each language, out
of hours, a hang-up while waiting, an answered call through its status callback, a callback with
three failed attempts, and a block (plus a withheld call beside them). Jobs go through RQ on the
real Redis and live events through Socket.IO's Redis channel. Afterwards the database (the SQLite
file with its WAL, or every PostgreSQL row), every Redis key and value (decompressed where RQ
compresses), every Socket.IO message and every log record are searched: the number is nowhere,
except encrypted under the callback's consent, and after erasure not even that.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography.fernet import InvalidToken
from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import select, text, update

from console.app import create_app, shutdown
from console.db import Database, utcnow
from console.domain import crypto
from console.domain.contacts import Contact
from console.domain.hours import load_hours
from console.domain.identity import IdentityValue
from console.jobs.runner import QUEUE_NAME
from console.sealed_queue import SealedJSON
from console.settings import load_settings, socketio_channel
from telephony import runtime
from telephony.models import Callback
from telephony.simulator import SimulatedCall, SimulatedTwilio, install
from tests.support import login, make_operator, sqlite_files
from tests.telephony.conftest import voice_env, write_hours

PLANTED = "+32491827364"
FORMS = ("32491827364", "491827364", "0491 82 73 64", "0491827364", "491 82 73 64")


def _found(blob: bytes | str) -> list[str]:
    data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
    return [form for form in FORMS if form.encode() in data]


@pytest.fixture
def audited_app(
    config_dir: Path, database_url: str, database: Database, redis_url: str, tmp_path: Path
) -> Iterator[Flask]:
    env = voice_env(database_url, HELPLINE_REDIS_URL=redis_url)
    settings = load_settings(
        mode="test", env=env, config_dir=config_dir, instance_dir=tmp_path / "instance"
    ).with_overrides(background_tasks=False)
    app = create_app(settings, database)
    app.extensions["helpline.fanout"].start()  # live events really go through Redis
    yield app
    shutdown(app)


class RedisChannel:
    """Everything published on Socket.IO's Redis channel while the flows run."""

    def __init__(self, url: str, secret_key: str) -> None:
        self.sealed = SealedJSON(secret_key)
        self.client = redis.Redis.from_url(url)
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(socketio_channel(url))
        self.messages: list[bytes] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def open(self, message: bytes) -> object | None:
        try:
            return self.sealed.loads(message)
        except InvalidToken:
            return None

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self.pubsub.get_message(timeout=0.1)
            if message and message["type"] == "message":
                self.messages.append(message["data"])

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.pubsub.close()


def _run_jobs(redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    SimpleWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection).work(burst=True)


def _queued(twilio: SimulatedTwilio, digit: str = "3", number: str = PLANTED) -> SimulatedCall:
    call = twilio.call(from_=number).start()
    call.press(digit)
    call.press("0")
    assert call.where == "queue"
    return call


def _latest(database: Database, call_sid: str) -> Contact:
    with database.transaction(write=False) as session:
        contact = session.scalar(
            select(Contact).where(Contact.channel_ref == call_sid).order_by(Contact.id.desc())
        )
        assert contact is not None
        return contact


def _database_text(database: Database) -> bytes:
    if database.is_sqlite:
        return b"\n".join(sqlite_files(database))
    with database.engine.connect() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        rows = []
        for table in list(tables):
            # Table names from the catalogue, not from input.
            query = text(f'SELECT row_to_json(t)::text FROM "{table}" t')  # noqa: S608
            rows += conn.execute(query).scalars()
    return "\n".join(rows).encode()


def _redis_dump(url: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    values: list[bytes] = []
    for key in client.scan_iter(count=500):
        values.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            values.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                values += [field, value]
        elif kind == "list":
            values += client.lrange(key, 0, -1)
        elif kind == "set":
            values += list(client.smembers(key))
        elif kind == "zset":
            values += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, entry in client.xrange(key):
                for field, value in entry.items():
                    values += [field, value]
    expanded = []
    for value in values:
        expanded.append(value)
        with contextlib.suppress(zlib.error):
            expanded.append(zlib.decompress(value))  # RQ keeps job data zlib-compressed
    return expanded


def _assert_nowhere(
    database: Database, redis_url: str, channel: RedisChannel, caplog: pytest.LogCaptureFixture
) -> None:
    assert _found(_database_text(database)) == [], "the number is in the database"
    leaks = [v[:80] for v in _redis_dump(redis_url) if _found(v)]
    assert leaks == [], "the number is in Redis"
    assert channel.messages, "the tap heard no live event: it listens on the wrong channel"
    # Sealed on Redis; opened, they are what consoles receive. A message this app's key cannot
    # open came from another app of the test run on the same channel (python-socketio drops
    # it too); its raw bytes are still searched.
    opened = [json.dumps(o) for o in map(channel.open, channel.messages) if o is not None]
    assert opened, "no live event of this app was heard"
    assert [m[:80] for m in opened if _found(m)] == [], "the number went to consoles"
    assert [m[:80] for m in channel.messages if _found(m)] == [], "the number crossed Redis"
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {json.dumps(r.args, default=str)}"
        for r in caplog.records
    )
    assert _found(logged) == [], "the number is in the logs"


@pytest.mark.redis
def test_the_planted_number_is_nowhere_after_every_flow(
    audited_app: Flask,
    database: Database,
    redis_url: str,
    config_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = RedisChannel(redis_url, audited_app.config["SECRET_KEY"])
    twilio = install(audited_app)
    rt = runtime.get()
    ana = make_operator(database, "ana", languages=["nl", "fr", "en", "ar"])
    client = audited_app.test_client()
    token = login(client, "ana")
    try:
        # In hours, in each language; a hang-up while waiting.
        for digit in ("1", "2", "3", "4"):
            _queued(twilio, digit).hang_up()
        # A withheld caller beside it.
        _queued(twilio, number="+266696687").hang_up()

        # An answered call, through to its status callback (the bridge job runs on RQ).
        call = _queued(twilio)
        contact = _latest(database, call.sid)
        accepted = client.post(
            f"/api/contacts/{contact.id}/accept", json={}, headers={"X-CSRFToken": token}
        )
        assert accepted.status_code == 200
        _run_jobs(redis_url)
        assert call.wait_in_queue(timeout=5)
        call.operator_answers()
        # The operator blocks this caller for an hour while on the call.
        blocked = client.post(
            f"/api/voice/calls/{contact.id}/block",
            json={"hours": 1},
            headers={"X-CSRFToken": token},
        )
        assert blocked.status_code == 200
        call.hang_up()
        assert _latest(database, call.sid).state == "wrap_up"
        wrapped = client.post(
            f"/api/contacts/{contact.id}/end", json={}, headers={"X-CSRFToken": token}
        )
        assert wrapped.status_code in (200, 409)
        assert twilio.call(from_=PLANTED).start().ended  # blocked now
        with database.transaction() as session:
            from telephony.models import Block

            session.execute(update(Block).values(expires_at=utcnow()))
        rt.enqueue("telephony.jobs.housekeeping")
        _run_jobs(redis_url)

        # A callback with consent and a window: kept encrypted, then three failed attempts.
        waiting = _queued(twilio)
        waiting.listen()
        waiting.press("9")
        waiting.press("1")
        waiting.press("1")
        assert waiting.ended
        with database.transaction(write=False) as session:
            (ciphertext,) = session.scalars(select(IdentityValue.ciphertext)).all()
        assert crypto.decrypt(ciphertext) == PLANTED  # encrypted under the consent, nowhere else
        _assert_nowhere(database, redis_url, channel, caplog)
        for _ in range(3):
            now = utcnow()
            with database.transaction() as session:
                session.execute(
                    update(Callback).values(
                        window_start=now.replace(year=now.year - 1),
                        next_attempt_at=now,
                    )
                )
            twilio.on_outbound(lambda placed: placed.no_answer())
            rt.enqueue("telephony.jobs.sweep")
            _run_jobs(redis_url)
            twilio.settle()
        with database.transaction(write=False) as session:
            callback = session.scalar(select(Callback))
            assert callback is not None
            assert (callback.state, callback.attempts) == ("failed", 3)
            assert session.scalar(select(IdentityValue)) is None

        # Out of hours.
        write_hours(config_dir, [])
        rt.hours = load_hours(config_dir / "hours.toml", rt.settings.timezone)
        rt._open_cache.clear()
        closed = twilio.call(from_=PLANTED).start()
        closed.press("3")
        assert closed.ended
        assert any(line.startswith("We are closed now.") for line in closed.heard)

        assert ana
        _assert_nowhere(database, redis_url, channel, caplog)
        assert ciphertext.encode() not in _database_text(database), "erased, not even ciphertext"
        assert len(twilio.webhooks) > 40  # every flow really went through the webhooks
    finally:
        channel.close()
