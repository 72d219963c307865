"""Socket.IO's Redis message queue, sealed: what crosses Redis is ciphertext.

Live events carry chat text, topics and operators' names. Pub/Sub keeps nothing, but anyone who
can SUBSCRIBE or MONITOR on the Redis server would read them, and Redis is not where a visitor's
words may go. Every process of a line (servers and workers) shares the line's secret key, so each
derives the same message key from it; a message that does not open under it (another line, a
forgery) is dropped by python-socketio as unreadable.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import socketio
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from socketio.packet import Packet

# Apart from the session cookie's use of the same secret: one key per purpose.
_PURPOSE = b"helpline socket.io message queue"


def message_key(secret_key: str) -> bytes:
    """The Fernet key of the line's message queue, derived from its secret key."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(
        secret_key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(derived)


class SealedJSON:
    """The `json` a python-socketio pub/sub manager encodes its messages with, sealed (Fernet)."""

    def __init__(self, secret_key: str) -> None:
        self._fernet = Fernet(message_key(secret_key))

    def dumps(self, data: Any, **kwargs: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(data, separators=(",", ":"), **kwargs).encode())

    def loads(self, message: bytes | str, **kwargs: Any) -> Any:
        return json.loads(self._fernet.decrypt(message), **kwargs)


class SealedRedisManager(socketio.RedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager, sealing what it publishes and opening what it hears."""

    def __init__(
        self, url: str, *, channel: str, secret_key: str, write_only: bool = False
    ) -> None:
        self._sealed = SealedJSON(secret_key)
        super().__init__(url, channel=channel, write_only=write_only, json=self._sealed)

    def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: str | None = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """As python-socketio's, but the message is on Redis before this process's consoles get it.

        python-socketio sends to this process's consoles first and publishes after, so the other
        processes begin only once this one has written to every socket of its own; published
        first, they write to theirs at the same time, on another core.
        """
        room = to or room
        if kwargs.get("ignore_queue") or callback is not None or Packet.data_is_binary([data]):
            return super().emit(event, data, namespace, room, skip_sid, callback, **kwargs)
        namespace = namespace or "/"
        self._publish(
            {
                "method": "emit",
                "event": event,
                "data": list(data) if isinstance(data, tuple) else [data],
                "binary": False,
                "namespace": namespace,
                "room": room,
                "skip_sid": skip_sid,
                "callback": None,
                "host_id": self.host_id,
            }
        )
        return super().emit(event, data, namespace, room, skip_sid, ignore_queue=True)

    def set_server(self, server: Any) -> None:
        super().set_server(server)
        # python-socketio puts the server's (plain) json module back here.
        self.json = self._sealed
