"""Socket.IO messages written by the emitting thread (`console.websocket_writes`): in order, never
blocked by a console that stops reading, and with engine.io's writer thread kept alive by pings."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import socketio
from flask import Flask
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from console import websocket_writes
from console.extensions import socketio as app_socketio
from console.websocket_writes import OfferingWebSocket, OrderedSocket
from tests.support import ThreadedServer, wait_until

pytestmark = pytest.mark.skipif(not websocket_writes.CAN_OFFER, reason="needs MSG_DONTWAIT")


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        chunk = sock.recv(size - len(got))
        assert chunk, "the peer closed early"
        got += chunk
    return bytes(got)


# ------------------------------------------------------------------ OrderedSocket


def test_a_send_the_kernel_takes_is_written_at_once() -> None:
    ours, peer = socket.socketpair()
    woken: list[int] = []
    ordered = OrderedSocket(ours)
    ordered.wake = lambda: woken.append(1)
    with ours, peer:
        assert ordered.send(b"42[hello]") == len(b"42[hello]")
        assert _read_exactly(peer, 9) == b"42[hello]"
        assert woken == []


def test_a_peer_that_stops_reading_never_blocks_the_sender_and_gets_every_byte_in_order() -> None:
    ours, peer = socket.socketpair()
    woken: list[int] = []
    ordered = OrderedSocket(ours)
    ordered.wake = lambda: woken.append(1)
    chunks = [f"{n:06d}".encode() * 1000 for n in range(1000)]  # 6 MB, far past the buffers

    taken: list[int] = []

    def send_all() -> None:
        for chunk in chunks:
            taken.append(ordered.send(chunk))

    sender = threading.Thread(target=send_all, daemon=True)
    with ours, peer:
        sender.start()
        sender.join(timeout=10)
        assert not sender.is_alive(), "a send blocked on a peer that does not read"
        assert taken == [len(chunk) for chunk in chunks]  # each taken whole, written or not
        assert woken == [1], "the writer is woken once for the backlog, not for every send"

        expected = b"".join(chunks)
        received = bytearray()

        def read() -> None:
            received.extend(_read_exactly(peer, len(expected)))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        ordered.flush()  # as the writer thread does once woken
        reader.join(timeout=10)
        assert bytes(received) == expected

        # The backlog is written: the next send goes straight out again, and wakes no one.
        ordered.send(b"after")
        assert _read_exactly(peer, 5) == b"after"
        assert woken == [1]


def test_before_the_writer_exists_a_send_blocks_as_a_plain_socket_does() -> None:
    ours, peer = socket.socketpair()
    ordered = OrderedSocket(ours)
    with ours, peer:
        assert ordered.send(b"HTTP/1.1 101") == 12
        assert _read_exactly(peer, 12) == b"HTTP/1.1 101"
        assert ordered.fileno() == ours.fileno()  # everything else is the socket's own


# ------------------------------------------------------------------ on a real server


def _healthy(_environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])  # ThreadedServer waits for it
    return [b"ok"]


class BareServer(ThreadedServer):
    """python-socketio in threading mode on Werkzeug, as the app runs, with the writes installed."""

    def __init__(self, **options: Any) -> None:
        self.sio = socketio.Server(async_mode="threading", **options)
        websocket_writes.install(self.sio.eio)
        self.sids: list[str] = []
        self.sio.on("connect", self._connect)
        super().__init__(socketio.WSGIApp(self.sio, _healthy))

    def _connect(self, sid: str, _environ: dict[str, Any], _auth: Any = None) -> None:
        self.sids.append(sid)
        self.sio.enter_room(sid, "all")


@pytest.fixture
def server() -> Iterator[BareServer]:
    with BareServer() as bare:
        yield bare


def _console(
    base: str, received: list[Any], transports: list[str] | None = None
) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.on("n", received.append)
    client.connect(base, transports=transports or ["websocket"], wait_timeout=10)
    return client


def _broadcast_in_order(server: BareServer, received: list[Any], count: int) -> None:
    for n in range(count):
        server.sio.emit("n", n, to="all")
    wait_until(lambda: len(received) == count, timeout=10, what=f"{count} broadcasts")
    assert received == list(range(count))


def test_broadcasts_reach_a_websocket_console_in_order_written_by_the_emitter(
    server: BareServer,
) -> None:
    received: list[Any] = []
    client = _console(server.base, received)
    try:
        (eio_socket,) = server.sio.eio.sockets.values()
        assert "send" in vars(eio_socket), "the connection should take the emitter's writes"
        _broadcast_in_order(server, received, 300)
    finally:
        client.disconnect()


def test_a_console_that_starts_on_long_polling_upgrades_and_keeps_engineios_writer(
    server: BareServer,
) -> None:
    received: list[Any] = []
    client = _console(server.base, received, transports=["polling", "websocket"])
    try:
        wait_until(lambda: client.transport() == "websocket", timeout=10, what="the upgrade")
        (eio_socket,) = server.sio.eio.sockets.values()
        assert "send" not in vars(eio_socket)
        _broadcast_in_order(server, received, 50)
    finally:
        client.disconnect()


def test_the_connection_outlives_the_writer_threads_queue_timeout() -> None:
    # engine.io's writer thread gives up when its queue stays empty for ping interval + timeout
    # (2 s here). Messages no longer go through that queue; pings still must.
    with BareServer(ping_interval=1, ping_timeout=1) as bare:
        received: list[Any] = []
        client = _console(bare.base, received)
        try:
            time.sleep(3.5)
            bare.sio.emit("n", 1, to="all")
            wait_until(lambda: received == [1], timeout=5, what="a broadcast after 3.5 s")
            assert client.connected
            assert len(bare.sio.eio.sockets) == 1
        finally:
            client.disconnect()


class StalledConsole:
    """A websocket console that connects, then stops reading: a browser on a frozen laptop."""

    def __init__(self, port: int) -> None:
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.sock.sendall(
            self.ws.send(Request(host="127.0.0.1", target="/socket.io/?EIO=4&transport=websocket"))
        )
        self.pending: list[str] = []
        self._partial = ""
        self._until(lambda e: isinstance(e, AcceptConnection))
        assert self.next_text().startswith("0")  # Engine.IO open
        self.sock.sendall(self.ws.send(TextMessage(data="40")))  # Socket.IO connect
        assert self.next_text().startswith("40")

    def _until(self, wanted: Any) -> None:
        while True:
            for event in self.ws.events():
                if isinstance(event, TextMessage):
                    self._partial += event.data
                    if event.message_finished:
                        self.pending.append(self._partial)
                        self._partial = ""
                if wanted(event):
                    return
            data = self.sock.recv(65536)
            assert data, "the server dropped the connection without closing the websocket"
            self.ws.receive_data(data)

    def read_to_close(self) -> list[str]:
        """Every text message until the server closes the websocket."""
        self._until(lambda e: isinstance(e, CloseConnection))
        texts, self.pending = self.pending, []
        return texts

    def next_text(self) -> str:
        while not self.pending:
            self._until(lambda e: isinstance(e, TextMessage))
        return self.pending.pop(0)


def test_a_console_that_stops_reading_holds_up_neither_the_emitter_nor_the_others(
    server: BareServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushes: list[int] = []
    flush = OrderedSocket.flush
    monkeypatch.setattr(OrderedSocket, "flush", lambda self: (flushes.append(1), flush(self))[1])
    stalled = StalledConsole(server.port)
    received: list[Any] = []
    client = _console(server.base, received)
    payload = "x" * 10_000
    try:
        wait_until(lambda: len(server.sio.eio.sockets) == 2, timeout=5, what="two consoles")

        def emit_all() -> None:
            # 8 MB to each console: twice what the kernel buffers for a socket here (4 MB at most).
            for n in range(800):
                server.sio.emit("n", [n, payload], to="all")

        emitter = threading.Thread(target=emit_all, daemon=True)
        emitter.start()
        emitter.join(timeout=5)
        assert not emitter.is_alive(), "the emitter waited on the stalled console"
        wait_until(lambda: len(received) == 800, timeout=20, what="the reading console's 800")
        assert [n for n, _ in received] == list(range(800))
        assert flushes, "the stalled console's bytes should have waited for its writer thread"

        # The server now closes its connection. Once it reads again, it gets every message,
        # whole and in order, then Engine.IO's close packet and the websocket's close frame.
        eio_sid = server.sio.manager.eio_sid_from_sid(server.sids[0], "/")
        disconnect = threading.Thread(
            target=server.sio.eio.disconnect, args=(eio_sid,), daemon=True
        )
        disconnect.start()
        texts = [t for t in stalled.read_to_close() if t != "2"]  # less any ping
        numbers = []
        for text in texts[:-1]:
            name, (n, body) = socketio.packet.Packet(encoded_packet=text[1:]).data
            assert (name, body) == ("n", payload)
            numbers.append(n)
        assert numbers == list(range(800))
        assert texts[-1] == "1"
        disconnect.join(timeout=5)
        assert not disconnect.is_alive()
    finally:
        client.disconnect()
        stalled.sock.close()


def test_the_app_installs_the_writes(app: Flask) -> None:
    assert app_socketio.server.eio._async["websocket"] is OfferingWebSocket
