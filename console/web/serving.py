"""Werkzeug's request handler without client addresses in its log lines.

The development server (used by `helpline serve` and `helpline demo`) logs malformed requests
itself, outside our access log; this keeps addresses out of those lines too.
"""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class AnonymousRequestHandler(WSGIRequestHandler):
    def address_string(self) -> str:
        return "-"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The app's own access log records requests (route pattern, status, duration)."""
