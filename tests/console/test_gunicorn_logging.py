"""gunicorn's error log keeps no client address and nothing a client sent."""

from __future__ import annotations

import pytest
from gunicorn.config import Config

from console.gunicorn_logging import AnonymousLogger, redact


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (
            "Invalid request from ip=203.0.113.9: Invalid HTTP Header: 'Zeb 0491'",
            "Invalid request refused",
        ),
        ("Error handling request GET /chat/w/abc?phone=0491556677", "Error handling a GET request"),
        ("Error handling request /chat/w/abc?x=1", "Error handling a request"),
        (
            "Closing connection to 2001:db8::7 and 198.51.100.4.",
            "Closing connection to [address] and [address].",
        ),
        ("Worker exiting (pid: 31563) at 12:34:56", "Worker exiting (pid: 31563) at 12:34:56"),
    ],
)
def test_lines_are_redacted(line: str, kept: str) -> None:
    assert redact(line) == kept


def test_gunicorns_own_call_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Config()
    cfg.set("errorlog", "-")
    logger = AnonymousLogger(cfg)
    # As gunicorn.workers.base.Worker.handle_error words it:
    logger.warning("Invalid request from ip=203.0.113.9: Invalid HTTP Header: 'X'")
    logger.info("Booting worker with pid: %s", 4242)
    err = capsys.readouterr().err
    assert "Invalid request refused" in err
    assert "Booting worker with pid: 4242" in err
    assert "203.0.113.9" not in err
