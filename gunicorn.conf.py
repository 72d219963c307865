"""gunicorn, as a line is deployed: several gthread workers, each with its own listening socket.

    gunicorn -c gunicorn.conf.py            # serves console.wsgi:app

`reuse_port` gives every worker its own socket (SO_REUSEPORT), so the kernel spreads connections;
on one shared socket a single worker can end up taking nearly all of them. Flask-SocketIO runs in
threading mode on gthread; with several workers set HELPLINE_REDIS_URL (its message queue) and use
sticky sessions at the proxy. The database is migrated once, before any worker starts (two workers
racing to switch a fresh SQLite file to WAL would fail). Environment overrides: HELPLINE_BIND,
HELPLINE_WORKERS, HELPLINE_THREADS.
"""

from __future__ import annotations

import os
from typing import Any

wsgi_app = "console.wsgi:app"
bind = os.environ.get("HELPLINE_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("HELPLINE_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("HELPLINE_THREADS", "16"))
reuse_port = True
keepalive = 5
timeout = 30
# Our own access log names the route pattern only; gunicorn's would write client addresses.
accesslog = None
errorlog = "-"
# gunicorn's own error lines name the client's address and quote what it sent: redacted.
logger_class = "console.gunicorn_logging.AnonymousLogger"


def on_starting(server: Any) -> None:
    from console.db import Database
    from console.migrate import upgrade
    from console.settings import load_settings

    database = Database(load_settings().database_url)
    try:
        upgrade(database)
    finally:
        database.dispose()


def post_worker_init(worker: Any) -> None:
    # The app's start-up objects (SQLAlchemy metadata, templates, config) live as long as the
    # worker: keep them out of the garbage collector's full passes, which shortens its pauses.
    import gc

    gc.collect()
    gc.freeze()
