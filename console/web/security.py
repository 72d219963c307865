"""Default-deny access control.

Every view must be declared either `@public` or `@roles(...)`. A view that is neither is refused to
everyone, so a new route cannot slip through unprotected; a test walks the URL map to prove it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])

STAFF = ("operator", "shift_lead", "admin")
LEADS = ("shift_lead", "admin")
ADMINS = ("admin",)


def public(view: F) -> F:
    """Open to anyone: the login page, the health check, signed webhooks, the visitor's chat."""
    view._helpline_public = True  # type: ignore[attr-defined]
    return view


def roles(*allowed: str) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view._helpline_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return mark


def wants_json() -> bool:
    return (
        request.path.startswith(("/api/", "/healthz"))
        or request.is_json
        or request.accept_mimetypes.best == "application/json"
    )


def view_policy(app: Flask, endpoint: str | None) -> tuple[bool, frozenset[str] | None]:
    """(is public, allowed roles) for an endpoint; static files are public."""
    if endpoint is None:
        return True, None
    if endpoint == "static" or endpoint.endswith(".static"):
        return True, None
    view = app.view_functions.get(endpoint)
    if view is None:
        return True, None  # 404s and 405s are answered by Flask itself
    if getattr(view, "_helpline_public", False):
        return True, None
    return False, getattr(view, "_helpline_roles", frozenset())


def init_app(app: Flask) -> None:
    @app.before_request
    def _guard() -> ResponseReturnValue | None:
        is_public, allowed = view_policy(current_app, request.endpoint)
        if is_public:
            return None
        if not current_user.is_authenticated:
            if wants_json() or request.method != "GET":
                return jsonify(error="login_required", message="Log in first."), 401
            return redirect(url_for("auth.login", next=request.path))
        if not allowed or current_user.role not in allowed:
            abort(403, description="Your role does not allow this.")
        return None
