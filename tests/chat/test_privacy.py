"""No address and no message text survive a chat: a planted address (the test client's remote
address) and a planted sentence are searched for in the database, Redis and every log line, after
the chat closes and the purge job has run through RQ."""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import inspect, select, text

from chat.ratelimit import RedisLimiter
from console.db import Database
from console.jobs.runner import QUEUE_NAME
from console.migrate import target_metadata
from tests.chat.conftest import Operator, Visitor, chat_contact_id
from tests.support import sqlite_files

PLANTED_ADDRESS = "203.0.113.199"
PLANTED_SENTENCE = "The purple giraffe sings at midnight 4417"
FORWARDED_ADDRESS = "198.18.7.231"


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''}")
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def all_logs() -> Iterator[_Everything]:
    """Every record at DEBUG and up, as if the helpline ran with HELPLINE_LOG_LEVEL=debug."""
    handler = _Everything()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


def database_text(database: Database) -> str:
    """Every value of every row of every table, as text (and the raw files on SQLite)."""
    parts: list[str] = []
    with database.engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        for metadata in target_metadata():
            for table in metadata.sorted_tables:
                if table.name in names:
                    for row in conn.execute(select(table)):
                        parts.append(repr(tuple(row)))
        if not database.is_sqlite:
            # Tables outside the ORM's metadata (full-text indexes and the like) too.
            rows = conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
            for name in set(rows) - names:
                query = text(f'SELECT * FROM "{name}"')  # noqa: S608 - names from pg_tables
                parts.extend(repr(tuple(r)) for r in conn.execute(query))
    if database.is_sqlite:
        parts.extend(stored.decode("latin-1") for stored in sqlite_files(database))
    return "\n".join(parts)


def redis_text(url: str) -> str:
    client = redis.Redis.from_url(url)
    parts: list[str] = []
    for key in client.scan_iter("*"):
        parts.append(key.decode("latin-1"))
        kind = client.type(key).decode()
        values: list[Any] = []
        if kind == "string":
            values = [client.get(key)]
        elif kind == "hash":
            values = list(client.hgetall(key).values())
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        for value in values:
            if isinstance(value, bytes):
                parts.append(value.decode("latin-1"))
                with contextlib.suppress(zlib.error):  # RQ's job payloads are compressed
                    parts.append(zlib.decompress(value).decode("latin-1"))
    return "\n".join(parts)


@pytest.mark.redis
def test_no_address_and_no_message_survive_the_chat(
    app: Flask, database: Database, redis_url: str, all_logs: _Everything
) -> None:
    rt = app.extensions["chat"]
    rt.limiter = RedisLimiter(redis_url)  # rate limits in Redis, as with several processes

    visitor = Visitor(app, address=PLANTED_ADDRESS)
    assert visitor.http.get("/chat?lang=en").status_code == 200
    assert visitor.http.get("/chat/api/config?lang=en").status_code == 200
    token = visitor.start()["token"]
    contact_id = chat_contact_id(database, token)
    ana = Operator(app, database, "ana")
    ana.accept(contact_id)
    assert visitor.say(PLANTED_SENTENCE, "v1")["ok"]
    ana.send(contact_id, f"You wrote: {PLANTED_SENTENCE}", "o1")
    assert visitor.wait_for("chat.widget.message", lambda p: p["seq"] == 2)
    visitor.emit("typing", {"typing": True})
    visitor.http.post("/chat/api/leave", data=token)
    ana.ok(f"/api/contacts/{contact_id}/end")
    ana.wrap_up(contact_id)
    assert visitor.emit("survey", {"token": token, "answers": {"helped": "yes"}})["ok"]

    # The purge job, through RQ like the worker runs it.
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(QUEUE_NAME, connection=connection)
    queue.enqueue("chat.jobs.purge_transcripts")
    assert SimpleWorker([queue], connection=connection).work(burst=True)

    assert all_logs.lines, "the test should have captured the app's logging"
    haystacks = {
        "database": database_text(database),
        "redis": redis_text(redis_url),
        "logs": "\n".join(all_logs.lines),
    }
    assert "chat:rl:" in haystacks["redis"]  # the rate limits really were in Redis
    for where, haystack in haystacks.items():
        assert PLANTED_ADDRESS not in haystack, f"the address is in the {where}"
        assert PLANTED_SENTENCE not in haystack, f"the sentence is in the {where}"
        assert "giraffe" not in haystack, f"part of the sentence is in the {where}"


def test_behind_a_proxy_the_forwarded_address_is_only_pseudonymised(
    app: Flask, database: Database, all_logs: _Everything
) -> None:
    rt = app.extensions["chat"]
    rt.settings = rt.settings.with_overrides(proxy_count=1)
    first = Visitor(app, address="10.0.0.1")
    first.http.environ_base["HTTP_X_FORWARDED_FOR"] = FORWARDED_ADDRESS
    second = Visitor(app, address="10.0.0.1")
    second.http.environ_base["HTTP_X_FORWARDED_FOR"] = "198.18.7.232"
    first.sio.disconnect(namespace="/chat")
    second.sio.disconnect(namespace="/chat")
    first.sio.connect(namespace="/chat")
    second.sio.connect(namespace="/chat")
    first.start()
    second.start()
    from chat.models import Conversation

    with database.transaction(write=False) as s:
        pseudonyms = {c.pseudonym for c in s.scalars(select(Conversation))}
    # Two visitors behind one proxy stay two (a block hits one of them, not everyone).
    assert len(pseudonyms) == 2
    assert None not in pseudonyms
    assert FORWARDED_ADDRESS not in database_text(database)
    assert FORWARDED_ADDRESS not in "\n".join(all_logs.lines)
