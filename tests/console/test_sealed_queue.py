"""Socket.IO's Redis messages are sealed with a key derived from the line's secret key."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import InvalidToken

from console.sealed_queue import SealedJSON, message_key

MESSAGE = {
    "method": "emit",
    "event": "chat.message",
    "data": [{"text": "I am Zebulon, call me on 0491 55 66 77"}],
    "room": "operator:3",
}


def test_a_message_opens_as_it_was_and_shows_nothing_on_the_way() -> None:
    sealed = SealedJSON("the line's secret")
    raw = sealed.dumps(MESSAGE)
    for visible in (b"Zebulon", b"0491", b"chat.message"):
        assert visible not in raw
    assert SealedJSON("the line's secret").loads(raw) == MESSAGE


def test_another_lines_key_cannot_open_it() -> None:
    raw = SealedJSON("the line's secret").dumps(MESSAGE)
    with pytest.raises(InvalidToken):
        SealedJSON("another line's secret").loads(raw)


def test_the_key_is_derived_and_not_the_secret_itself() -> None:
    key = message_key("the line's secret")
    assert key == message_key("the line's secret") != message_key("another line's secret")
    assert b"secret" not in key


@pytest.mark.redis
def test_a_workers_emit_reaches_redis_sealed(redis_url: str) -> None:
    """As `helpline worker` emits: a write-only manager behind Flask-SocketIO, which hands the
    manager its own json module; the seal must survive that."""
    import time

    import redis
    from flask_socketio import SocketIO

    from console.sealed_queue import SealedRedisManager
    from console.settings import socketio_channel

    channel = socketio_channel(redis_url)
    tap = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    tap.subscribe(channel)
    emitter = SocketIO(
        message_queue=redis_url,
        client_manager=SealedRedisManager(
            redis_url, channel=channel, secret_key="the line's secret", write_only=True
        ),
    )
    try:
        emitter.emit("chat.message", MESSAGE["data"][0], to="operator:3", namespace="/")
        deadline = time.monotonic() + 5
        message = None
        while message is None and time.monotonic() < deadline:
            message = tap.get_message(timeout=0.5)
        assert message is not None, "nothing was published"
        assert b"Zebulon" not in message["data"]
        opened = SealedJSON("the line's secret").loads(message["data"])
        assert (opened["event"], opened["data"]) == ("chat.message", MESSAGE["data"])
    finally:
        tap.close()


@pytest.mark.redis
def test_an_emit_is_on_redis_before_this_processes_consoles_get_it(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So the other processes write to their consoles while this one writes to its own."""
    import socketio

    from console.sealed_queue import SealedRedisManager

    manager = SealedRedisManager(redis_url, channel="order-test", secret_key="the line's secret")
    order: list[tuple[str, Any]] = []
    monkeypatch.setattr(manager, "_publish", lambda message: order.append(("redis", message)))
    monkeypatch.setattr(
        socketio.Manager, "emit", lambda _self, event, *_a, **_k: order.append(("local", event))
    )
    manager.emit("contact.queued", {"ref": "AB12"}, namespace="/", room="staff")
    assert [where for where, _ in order] == ["redis", "local"]
    published = order[0][1]
    assert published["method"] == "emit"
    assert (published["event"], published["data"], published["room"]) == (
        "contact.queued",
        [{"ref": "AB12"}],
        "staff",
    )
    assert published["host_id"] == manager.host_id
