"""Log-in and log-out for staff, with Flask-Login sessions, CSRF and lock-out."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from console.domain import operators
from console.domain.errors import AccountLocked, AuthenticationFailed
from console.extensions import login_manager
from console.web import database
from console.web.security import STAFF, public, roles
from console.web.user import StaffUser

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(user_id: str) -> StaffUser | None:
    try:
        key = int(user_id)
    except ValueError:
        return None
    # Its own short session: the user is loaded before the request's session exists, and a session
    # left open would hold a transaction (and PostgreSQL locks) for the life of a socket.
    with database.database().read() as session:
        operator = session.get(operators.Operator, key)
        if operator is None or not operator.active:
            return None
        return StaffUser(operator)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(role: str) -> str:
    return url_for("lead.page") if role in ("shift_lead", "admin") else url_for("operator.page")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_for(current_user.role))
    error = None
    status = 200
    if request.method == "POST":
        settings = current_app.config["HELPLINE_SETTINGS"]
        session = database.session()
        try:
            with database.database().transaction(write=False) as reader:
                check = operators.check_password(
                    reader, request.form.get("username", ""), request.form.get("password", "")
                )
            operator = operators.record_login(
                session,
                check,
                max_failures=settings.operators.failed_logins_before_lockout,
                lockout=dt.timedelta(minutes=settings.operators.lockout_minutes),
            )
        except (AuthenticationFailed, AccountLocked) as exc:
            session.commit()  # keep the failure count
            error, status = exc.message, exc.status
        else:
            session.commit()
            login_user(StaffUser(operator))
            return redirect(_safe_next(request.args.get("next")) or home_for(operator.role))
    return render_template("login.html", error=error), status


@bp.route("/logout", methods=["POST"])
@roles(*STAFF)
def logout() -> ResponseReturnValue:
    session = database.session()
    operator = operators.get_operator(session, current_user.operator_id)
    operators.set_presence(session, operator, operators.Presence.OFFLINE)
    session.commit()
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))


@bp.route("/")
@roles(*STAFF)
def index() -> ResponseReturnValue:
    return redirect(home_for(current_user.role))
