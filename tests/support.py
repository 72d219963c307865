"""Helpers shared by the test packages: accounts, logging in, live server processes, time."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from flask.testing import FlaskClient

from console.db import Database
from console.domain import operators

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def make_operator(
    database: Database,
    username: str,
    *,
    role: str = "operator",
    languages: list[str] | None = None,
    skills: list[str] | None = None,
    presence: str | None = "available",
    max_chats: int = 3,
) -> int:
    with database.transaction() as session:
        op = operators.create_operator(
            session,
            username=username,
            password=PASSWORD,
            role=role,
            languages=languages or ["nl", "fr", "en"],
            skills=skills,
            max_chats=max_chats,
        )
        if presence:
            operators.set_presence(session, op, presence)
        return op.id


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "page carries no CSRF token"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the real form; returns a CSRF token for later JSON requests."""
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    console = client.get("/console")
    return csrf_from(console.get_data(as_text=True))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(
    env: Mapping[str, str],
    *,
    args: list[str] | None = None,
    log_path: Path | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Run `helpline serve` as its own process and yield its base URL once /healthz answers.

    A given `port` lets a test start a successor on the same address after stopping one."""
    port = port or free_port()
    full_env = {**os.environ, **env}
    command = [
        sys.executable,
        "-m",
        "console.cli",
        "--mode",
        "test",
        "serve",
        "--port",
        str(port),
        *(args or []),
    ]
    out = log_path.open("wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(command, env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(base), timeout=30, what=f"server on {port}", proc=proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            out.close()  # type: ignore[union-attr]


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def wait_until(
    predicate: Any,
    *,
    timeout: float = 10,
    interval: float = 0.05,
    what: str = "condition",
    proc: subprocess.Popen[bytes] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} while waiting for {what}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def http_login(base: str, username: str, password: str = PASSWORD) -> tuple[requests.Session, str]:
    """Log in to a live server with `requests`; returns the session and a CSRF token."""
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=5)
    token = csrf_from(page.text)
    response = session.post(
        f"{base}/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302, response.text
    console = session.get(f"{base}/console", timeout=5)
    return session, csrf_from(console.text)


class ThreadedServer:
    """The app on a real socket (Werkzeug, threaded) inside the test process: real HTTP and
    Socket.IO, while the test can still call the domain and see every event."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.port = free_port()
        from console.web.serving import AnonymousRequestHandler

        self.server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=AnonymousRequestHandler
        )
        self.base = f"http://127.0.0.1:{self.port}"
        import threading

        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        wait_until(lambda: _healthy(self.base), timeout=10, what="threaded server")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def socket_client(base: str, http: requests.Session) -> Any:
    """A python-socketio client that connects with the logged-in HTTP session's cookie."""
    import socketio

    client = socketio.Client(reconnection=False)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    client.connect(base, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=10)
    return client


def sqlite_files(database: Database) -> list[bytes]:
    """The bytes of a live SQLite database's file and write-ahead log, read by another process.

    Opening and closing either file here would drop every POSIX lock this process holds on it
    (fcntl locks belong to the process, not to a descriptor), and SQLite's connections rely on
    them: another process closing the database would then take it for unused and delete the log
    and its index from under them, and the next connection opened here fails with a disk I/O
    error.
    """
    path = Path(database.url.removeprefix("sqlite:///"))
    return [
        subprocess.run(["cat", str(file)], check=True, capture_output=True).stdout
        for file in (path, Path(f"{path}-wal"))
        if file.exists()
    ]
