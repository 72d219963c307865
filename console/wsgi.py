"""The WSGI entry point for gunicorn (`gunicorn -c gunicorn.conf.py`; see gunicorn.conf.py).

Each worker process builds its own app from the environment: the settings, the database, the
Socket.IO message queue (Redis, needed once there are several workers) and the routing tick.
Logging is set up as `helpline serve` sets it up (HELPLINE_LOG_LEVEL, default info).
"""

from __future__ import annotations

import logging
import os

from console.app import create_app
from console.settings import load_settings

logging.basicConfig(
    level=getattr(logging, os.environ.get("HELPLINE_LOG_LEVEL", "info").upper(), logging.INFO),
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)
logging.getLogger("alembic").setLevel(logging.WARNING)

app = create_app(load_settings())
