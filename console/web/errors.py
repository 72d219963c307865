"""Every refusal becomes a clear 4xx with a message; nothing ever answers with a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from console.domain.errors import DomainError
from console.web.security import wants_json

log = logging.getLogger(__name__)


def _answer(status: int, code: str, message: str) -> ResponseReturnValue:
    if wants_json():
        return jsonify(error=code, message=message), status
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> ResponseReturnValue:
        return _answer(exc.status, exc.code, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> ResponseReturnValue:
        return _answer(
            400,
            "csrf",
            f"The page has expired ({exc.description}). Reload it and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        return _answer(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        # The traceback goes to the log for the maintainers, never to the browser or the caller.
        log.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return _answer(500, "internal", "Something went wrong on our side. Nothing was changed.")
