"""Socket.IO messages written to a console's websocket by the thread that emits them.

In threading mode engine.io gives every websocket a writer thread fed by a queue. A broadcast to
150 consoles then wakes 150 threads, each to write one small frame, and on 2 cores those wake-ups
and hand-offs of the interpreter lock cost more than the writes. Here the emitting thread frames
the message and offers it to the socket without blocking. Only bytes that a slow console's socket
cannot take at once are left to that console's writer thread, which writes them blocking, so a
slow console never holds up the others, and each console still gets its frames in order.

Only Socket.IO messages take this path, and only on connections that opened as a websocket (the
console's front end does). Pings, the close packet, and long-polling clients keep engine.io's
queue: the writer thread gives up on a queue that stays empty past the ping timeout, and pings
keep it fed.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import simple_websocket
from engineio import packet
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from wsproto.utilities import LocalProtocolError

log = logging.getLogger(__name__)

# Linux and the BSDs; elsewhere every message goes through engine.io's queue, as before.
CAN_OFFER = hasattr(socket, "MSG_DONTWAIT")
_SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket")
# How much of a backlog the writer thread takes at a time: a copy made under the lock that
# emitters wait on must stay small.
_FLUSH_CHUNK = 64 * 1024
# What a send meets on a connection that is closing; its reading loop ends the session.
_CLOSING = (OSError, simple_websocket.ConnectionClosed, LocalProtocolError)


class _Flush:
    """Queued for the writer thread, which passes `encode()` to `send`: write the backlog."""

    def encode(self) -> _Flush:
        return self


class OrderedSocket:
    """A connection's socket that any thread may send on, in order, without blocking.

    `send` writes what the kernel takes at once; the rest waits in a backlog that `flush` writes
    blocking, from the writer thread that `wake` rouses. While a backlog waits, later sends join
    it, so bytes leave in the order they were sent.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._backlog = bytearray()
        self._flushing = False
        # None until the writer thread exists; until then sends block, as plain sockets do.
        self.wake: Callable[[], None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def send(self, data: bytes) -> int:
        size = len(data)  # all of it is taken: sent now, or in the backlog
        with self._lock:
            if self.wake is None:
                self._sock.sendall(data)
                return size
            if not self._backlog:
                try:
                    sent = self._sock.send(data, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                if sent == size:
                    return size
                data = data[sent:]
            self._backlog += data
            wake = not self._flushing
            self._flushing = True
        if wake:
            self.wake()
        return size

    def flush(self) -> None:
        while True:
            with self._lock:
                chunk = bytes(self._backlog[:_FLUSH_CHUNK])
                if not chunk:
                    self._flushing = False
                    return
            # Outside the lock: senders meanwhile append behind `chunk`, which stays in the
            # backlog until written, so none of them can overtake it.
            self._sock.sendall(chunk)
            with self._lock:
                del self._backlog[: len(chunk)]


class OfferingWebSocket(SimpleWebSocketWSGI):  # type: ignore[misc]
    """engine.io's threading websocket, with Socket.IO messages written by the emitting thread."""

    def __init__(self, handler: Any, server: Any, **kwargs: Any) -> None:
        super().__init__(handler, server, **kwargs)
        self._frame_lock = threading.Lock()
        self._ordered: OrderedSocket | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        eio_socket = getattr(self.app, "__self__", None)
        key = next((k for k in _SOCKET_KEYS if k in environ), None)
        # A connected engine.io socket is upgrading from long-polling, with packets already in
        # its queue that a direct write could overtake. A TLS socket takes no send flags.
        if (
            not CAN_OFFER
            or key is None
            or type(environ[key]) is not socket.socket
            or eio_socket is None
            or eio_socket.connected
        ):
            return super().__call__(environ, start_response)
        self._ordered = ordered = OrderedSocket(environ[key])
        self.ws = simple_websocket.Server({**environ, key: ordered}, **self.server_args)
        ordered.wake = lambda: eio_socket.queue.put(_Flush())
        eio_socket.send = self._sender(eio_socket)
        ret = self.app(self)
        if self.ws.mode == "gunicorn":
            raise StopIteration()
        if self.ws.mode == "werkzeug":
            raise ConnectionError()
        return ret

    def send(self, message: Any) -> Any:
        if self._ordered is None:
            return super().send(message)
        if isinstance(message, _Flush):
            self._ordered.flush()
            return None
        # wsproto's framing and the write must happen in one step for frames to stay in order.
        with self._frame_lock:
            return super().send(message)

    def close(self) -> None:
        # The writer thread closes last: what waits in the backlog (the last messages, the
        # close packet) goes out first, as engine.io's own writer would have sent it.
        self._drain()
        super().close()
        self._drain()

    def _drain(self) -> None:
        if self._ordered is not None:
            with contextlib.suppress(OSError):
                self._ordered.flush()

    def _sender(self, eio_socket: Any) -> Callable[[packet.Packet], None]:
        queued = type(eio_socket).send

        def send(pkt: packet.Packet) -> None:
            if pkt.packet_type != packet.MESSAGE:
                queued(eio_socket, pkt)
                return
            if not eio_socket.check_ping_timeout():
                return
            try:
                self.send(pkt.encode())
            except _CLOSING:
                pass
            except Exception:
                # The broadcast goes on to the other consoles; this one is closed, as engine.io's
                # writer thread closes a websocket it cannot write to.
                log.exception("a console's websocket failed; closing it")
                with contextlib.suppress(Exception):
                    self.ws.close()  # not self.close(), which would wait for a slow console

        return send


def install(eio_server: Any) -> None:
    """Use `OfferingWebSocket` for this engine.io server's websockets (threading mode only)."""
    if eio_server.async_mode == "threading":
        eio_server._async = {**eio_server._async, "websocket": OfferingWebSocket}
