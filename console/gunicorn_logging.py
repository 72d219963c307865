"""gunicorn's error log, without who a client is.

gunicorn writes the client's address and what it sent into its own log lines: "Invalid request
from ip=…: Invalid HTTP Header: '…'" and "Error handling request <uri>". A caller's or visitor's
address, or a query string, must not reach a log (README: Privacy), so those lines keep only what
an administrator needs: that a request was refused or failed, and the traceback.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

from gunicorn.glogging import Logger

# Anything that might be an address; ipaddress decides (a time such as 12:34:56 is not one).
_CANDIDATE = re.compile(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*")
_FAILED = re.compile(r"Error handling request(?: (?P<method>[A-Z]+))? \S+$")


def _address(found: re.Match[str]) -> str:
    text = found.group(0)
    core = text.rstrip(".")  # a full stop ending the sentence
    try:
        ipaddress.ip_address(core)
    except ValueError:
        return text
    return "[address]" + text[len(core) :]


def redact(message: str) -> str:
    if message.startswith("Invalid request from ip="):
        # Its reason quotes what the client sent: a header, a request line.
        return "Invalid request refused"
    failed = _FAILED.match(message)
    if failed:
        method = failed.group("method")
        return f"Error handling a {method} request" if method else "Error handling a request"
    return _CANDIDATE.sub(_address, message)


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class AnonymousLogger(Logger):  # type: ignore[misc]
    """gunicorn's `logger_class` (gunicorn.conf.py)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(_Redact())
