"""Engine, sessions and the shared column types of the SQLAlchemy 2.0 typed ORM.

Domain functions take an explicit `Session`; nothing here knows about Flask.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    String,
    create_engine,
    event,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The largest value an INTEGER column takes on PostgreSQL (the narrowest of the two engines): an
# id or count from outside beyond it is refused before it reaches a statement.
INTEGER_MAX = 2**31 - 1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC and hands back aware UTC, identically on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


intpk = Annotated[int, mapped_column(primary_key=True)]
str16 = Annotated[str, mapped_column(String(16))]
str32 = Annotated[str, mapped_column(String(32))]
str64 = Annotated[str, mapped_column(String(64))]
str200 = Annotated[str, mapped_column(String(200))]
timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime())]
created_at = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=utcnow)]
json_list = Annotated[list[str], mapped_column(JSON, default=list)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


# SQLite's own threshold is 1,000 pages (4 MiB); ticks keep the log far below this one.
WAL_BACKSTOP_PAGES = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets consoles read while a claim writes; busy_timeout queues writers instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten, so erased identity and purged text leave no bytes in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    # SQLite folds the log into the database in whichever commit crosses the threshold, and that
    # commit then waits for the copy and its fsync: a claim took 5-7 ms at p99 instead of 2. Each
    # server's tick checkpoints every second instead (`checkpoint_wal`); this is the backstop.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
    cursor.close()


def make_engine(
    url: str, *, immediate: bool = False, sole_writer: bool = False, **kwargs: Any
) -> Engine:
    """An engine; on SQLite `immediate=True` makes every transaction BEGIN IMMEDIATE.

    pysqlite defers BEGIN, so two transactions that read and then write can both hold a read lock
    and fail on upgrade; writers that take the write lock at BEGIN queue on busy_timeout instead.
    """
    # An error's text reaches the log: it must not carry the values a statement was given.
    kwargs.setdefault("hide_parameters", True)
    if not url.startswith("sqlite"):
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        engine = create_engine(url, **kwargs)
        _ping_when_idle(engine)
        return engine

    if ":memory:" not in url and "mode=memory" not in url:
        # A server runs many threads; a connection opened past the pool's size would be closed on
        # return and reopened, pragmas and all, at every request.
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 30)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs)
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, _record)
        dbapi_connection.isolation_level = None

    if not (immediate and sole_writer):

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        return engine

    # The sole writing process (embedded mode) queues its writers on a Python lock before BEGIN
    # IMMEDIATE. SQLite's own busy handler sleeps in steps of 1 to 100 ms, so a writer waiting
    # behind a few short transactions would sleep far longer than they took; the lock wakes it the
    # moment the last one ends. Not with several processes: the lock hands the database from one
    # of this process's writers to the next before a sleeping writer elsewhere wakes, and could
    # starve the other processes.
    lock = _writer_lock(url)

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Any) -> None:
        if not lock.acquire(timeout=_WRITER_WAIT):
            raise sqlite3.OperationalError("database is locked: no write turn within 10 s")
        conn.info[_HOLDS_LOCK] = True
        try:
            conn.exec_driver_sql(begin)
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop(_HOLDS_LOCK, False):
            lock.release()

    def _release_record(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
        # A connection returned or invalidated mid-transaction must not keep the turn.
        if record.info.pop(_HOLDS_LOCK, False):
            lock.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    event.listen(engine, "checkin", _release_record)
    event.listen(engine, "invalidate", _release_record)
    return engine


# A connection handed back less than this many seconds ago is used without a ping. A server restart
# takes longer, so a connection that lived through one sat idle at least that long and is pinged.
_PING_AFTER_IDLE = 1.0
_RETURNED_AT = "helpline.returned_at"


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection at checkout only if it sat idle, unlike `pool_pre_ping`.

    A ping is a round trip; on a busy server it would add one to every request (an accept that
    loses its race makes three), while a connection handed back moments ago is alive. A dead one
    fails the checkout with `DisconnectionError`, and the pool replaces it and tries again.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < _PING_AFTER_IDLE:
            return  # new, or just returned
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("the pooled connection failed its ping") from exc


def checkpoint_wal(engine: Engine) -> None:
    """On SQLite, fold what the write-ahead log holds into the database file, waiting for no one.

    PASSIVE: writers go on appending meanwhile, and frames a reader still needs wait for the next
    call. Nothing to do on PostgreSQL.
    """
    if engine.dialect.name == "sqlite":
        _wal_checkpoint(engine, "PASSIVE")


def _wal_checkpoint(engine: Engine, mode: str) -> tuple[int, int, int] | None:
    raw = engine.raw_connection()
    try:
        # Outside any transaction: the engine's BEGIN IMMEDIATE would make SQLite refuse it.
        cursor = raw.cursor()
        cursor.execute(f"PRAGMA wal_checkpoint({mode})")
        row = cursor.fetchone()
        cursor.close()
    finally:
        raw.close()
    return tuple(row) if row else None


def truncate_wal(engine: Engine) -> bool:
    """On SQLite, fold the write-ahead log into the database file and truncate it, so erased
    values (secure_delete zeroes them in the pages) do not live on in old log frames.

    Best effort: a reader holding an old snapshot delays it to the next erasure or job. True when
    the log was emptied, and always on PostgreSQL, which keeps no such file.
    """
    if engine.dialect.name != "sqlite":
        return True
    row = _wal_checkpoint(engine, "TRUNCATE")
    return not (row and row[0])


_WRITER_WAIT = 10.0  # seconds, as SQLite's busy_timeout
_HOLDS_LOCK = "helpline.holds_writer_lock"
_writer_locks: dict[str, threading.Lock] = {}
_writer_locks_guard = threading.Lock()


def _writer_lock(url: str) -> threading.Lock:
    with _writer_locks_guard:
        return _writer_locks.setdefault(url, threading.Lock())


class Database:
    """The engines and session factories of one process.

    Reads and writes get separate factories so that SQLite writers serialise at BEGIN while readers
    stay concurrent; on PostgreSQL both share one pool.
    """

    def __init__(self, url: str, *, sole_writer: bool = False, **kwargs: Any) -> None:
        """`sole_writer`: on SQLite, this process is the only one writing (embedded mode)."""
        self.url = url
        self.engine = make_engine(url, **kwargs)
        self.write_engine = (
            make_engine(url, immediate=True, sole_writer=sole_writer, **kwargs)
            if self.is_sqlite
            else self.engine
        )
        self.read = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.write = sessionmaker(bind=self.write_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        session = (self.write if write else self.read)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def checkpoint_wal(self) -> None:
        """See `checkpoint_wal`. A checkpoint is not a write transaction: a reading connection
        does, and leaves the writers' connections to the writers."""
        checkpoint_wal(self.engine)

    def truncate_wal(self) -> bool:
        """See `truncate_wal`."""
        return truncate_wal(self.write_engine)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
