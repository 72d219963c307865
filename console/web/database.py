"""Binds the process's `Database` to Flask: one session per request, closed at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from console.db import Database

_KEY = "helpline.database"


def init_app(app: Flask, database: Database) -> None:
    app.extensions[_KEY] = database

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()


def database() -> Database:
    db: Database = current_app.extensions[_KEY]
    return db


def session() -> Session:
    """The request's session: a writer for state-changing methods, a reader otherwise."""
    existing: Session | None = g.get("db_session")
    if existing is None:
        db = database()
        writes = request.method not in ("GET", "HEAD", "OPTIONS")
        existing = (db.write if writes else db.read)()
        g.db_session = existing
    return existing
