"""`GET /healthz`: 200 while contacts can be taken (the database answers), 503 otherwise.

Redis is reported but does not decide: without it the line still takes and routes contacts.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from console.settings import Settings
from console.web import database
from console.web.security import public

bp = Blueprint("health", __name__)


def _redis_state(url: str | None) -> str:
    if not url:
        return "not configured"
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5).ping()
    except (redis.RedisError, OSError):
        return "down"
    return "ok"


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    settings: Settings = current_app.config["HELPLINE_SETTINGS"]
    try:
        with database.database().read() as session:
            session.execute(text("SELECT 1"))
        db_state = "ok"
    except Exception:  # any failure means contacts cannot be taken
        db_state = "down"
    body = {
        "status": "ok" if db_state == "ok" else "unavailable",
        "database": db_state,
        "redis": _redis_state(settings.redis_url),
        "mode": "multi-process" if settings.redis_url else "embedded",
    }
    return jsonify(body), 200 if db_state == "ok" else 503
