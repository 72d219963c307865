"""Fixtures shared by every test package.

The database is SQLite by default; `HELPLINE_TEST_DATABASE_URL=postgresql://…/test` runs the same
suite on PostgreSQL, in a database of its own created for the run. Tests fail on unexpected log
output at WARNING or above (Zulip's rule): a test that expects a warning says so with `expect_logs`.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401  (loaded early: CPython 3.11.7 fails to compile it at session end)
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text

from console.app import create_app, shutdown
from console.db import Database
from console.domain import events
from console.migrate import target_metadata, upgrade
from console.settings import Settings, load_settings

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


# ---------------------------------------------------------------- database


def _postgres_database(admin_url: str) -> Iterator[str]:
    name = f"helpline_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("HELPLINE_TEST_DATABASE_URL", "").strip()
    if configured.startswith("postgresql"):
        url = configured.replace("postgresql://", "postgresql+psycopg://", 1)
        yield from _postgres_database(url)
        return
    path = tmp_path_factory.mktemp("db") / "helpline.sqlite3"
    yield f"sqlite:///{path}"  # noqa: PT022 - the PostgreSQL branch above tears down


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def _clear(database: Database) -> None:
    tables = [t for md in target_metadata() for t in md.sorted_tables]
    existing = set(inspect(database.engine).get_table_names())
    with database.write_engine.begin() as conn:
        if database.is_sqlite:
            # Append-only tables refuse DELETE by trigger; the reset lifts them, then restores them.
            guards = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND name LIKE '%append_only'"
            ).all()
            for name, _sql in guards:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            for table in reversed(tables):
                if table.name in existing:
                    conn.execute(table.delete())
            for _name, sql in guards:
                conn.exec_driver_sql(sql)
        else:
            names = ", ".join(f'"{t.name}"' for t in tables if t.name in existing)
            if names:
                # A test that leaves a transaction open fails here loudly instead of hanging.
                conn.execute(text("SET LOCAL lock_timeout = '15s'"))
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database(migrated_database: Database) -> Iterator[Database]:
    """A migrated, empty database for each test."""
    _clear(migrated_database)
    yield migrated_database
    _clear(migrated_database)


@pytest.fixture
def db_session(database: Database) -> Iterator[Any]:
    session = database.write()
    yield session
    session.rollback()
    session.close()


# ---------------------------------------------------------------- settings and app


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    env = {
        "HELPLINE_DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "test-auth-token-0123456789",
    }
    base = load_settings(mode="test", env=env, instance_dir=tmp_path / "instance")
    return base.with_overrides(background_tasks=False)


@pytest.fixture
def app(settings: Settings, database: Database) -> Iterator[Flask]:
    application = create_app(settings, database)
    yield application
    shutdown(application)


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    """Settings for a served app: background tasks on, a fast tick and short reservations."""
    from dataclasses import replace

    return settings.with_overrides(
        background_tasks=True,
        queue=replace(
            settings.queue, tick_interval=0.1, reservation_timeout=1.5, reoffer_cooldown=5
        ),
    )


@pytest.fixture
def live_app(live_settings: Settings, database: Database) -> Iterator[Any]:
    """The app served on a real port in this process; yields a `ThreadedServer`."""
    from tests.support import ThreadedServer

    application = create_app(live_settings, database)
    with ThreadedServer(application) as server:
        server.app = application  # type: ignore[attr-defined]
        yield server
    shutdown(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(autouse=True)
def _validate_events() -> Iterator[None]:
    events.set_validation(True)
    yield
    events.set_validation(False)


@pytest.fixture
def sent_events() -> Iterator[list[events.Event]]:
    """Every event that reached the senders (after commit) during the test."""
    seen: list[events.Event] = []
    events.add_sender(seen.append)
    yield seen
    events.remove_sender(seen.append)


# ---------------------------------------------------------------- redis


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis (db 15 by default), flushed around the test. CI must have it; a developer
    without Redis sees these tests skipped with the reason."""
    import redis

    url = os.environ.get("HELPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {url} is required in CI: {exc}")
        pytest.skip(f"no Redis at {url}: {exc}")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


# ---------------------------------------------------------------- logging


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.allowed: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _fail_on_unexpected_logs(request: pytest.FixtureRequest) -> Iterator[_Collector]:
    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)
    yield collector
    root.removeHandler(collector)
    if request.node.get_closest_marker("allow_logs"):
        return
    unexpected = [
        r
        for r in collector.records
        if not any(fragment in r.getMessage() for fragment in collector.allowed)
        and not r.name.startswith(("werkzeug", "urllib3", "asyncio", "engineio", "socketio"))
    ]
    if unexpected:
        lines = "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in unexpected)
        pytest.fail(f"unexpected log output:\n{lines}")


@pytest.fixture
def expect_logs(_fail_on_unexpected_logs: _Collector) -> Any:
    """`expect_logs("fragment")` allows warnings whose message contains the fragment."""

    def allow(*fragments: str) -> None:
        _fail_on_unexpected_logs.allowed.extend(fragments)

    return allow


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Playwright drives the system Chromium; its own browser download cannot work here."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("HELPLINE_CHROMIUM", "/usr/bin/chromium"),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_logs: the test may log warnings freely")
