"""The composition root: `create_app(settings)` binds the domain, the web UI and the channels."""

from __future__ import annotations

import logging
import time

from flask import Flask, g, request
from flask.typing import ResponseReturnValue
from werkzeug.middleware.proxy_fix import ProxyFix

from console.db import Database
from console.domain.outcomes import load_outcome_taxonomy
from console.extensions import csrf, login_manager
from console.jobs.context import set_context
from console.jobs.runner import JobRunner
from console.settings import Settings
from console.web import inputs

access_log = logging.getLogger("helpline.access")

# The Twilio Voice SDK (the console's phone) signals over wss:, reports call quality to Twilio's
# event gateway and plays its ringtones from sdk.twilio.com.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss: https://eventgw.twilio.com; "
    "media-src 'self' blob: https://sdk.twilio.com; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def create_app(settings: Settings, database: Database | None = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["int"] = inputs.BoundedInt  # before any route is added
    app.config.update(
        SECRET_KEY=settings.secret_key,
        HELPLINE_SETTINGS=settings,
        HELPLINE_OUTCOMES=load_outcome_taxonomy(settings.config_dir / "taxonomy.toml"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.mode == "production",
        REMEMBER_COOKIE_DURATION=0,
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        WTF_CSRF_SSL_STRICT=settings.mode == "production",
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
        TESTING=settings.mode == "test",
    )
    if settings.proxy_count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=0, x_proto=settings.proxy_count, x_host=settings.proxy_count
        )

    database = database or Database(settings.database_url)
    set_context(settings, database)
    jobs = JobRunner(settings.redis_url)
    app.extensions["helpline.jobs"] = jobs

    from console import i18n, realtime
    from console.web import database as web_database
    from console.web import errors, security
    from console.web.panels import ConsolePanel, register_panel

    web_database.init_app(app, database)
    login_manager.init_app(app)
    # Flask-Login's protection hashes the client address into the session; we keep no addresses.
    login_manager.session_protection = None
    csrf.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    i18n.init_app(app, settings)
    import chat

    chat_settings = chat.load_settings(settings)
    fanout = realtime.init_app(app, settings, database, chat_settings.allowed_origins)

    from console.web.auth import bp as auth_bp
    from console.web.health import bp as health_bp
    from console.web.intake import bp as intake_bp
    from console.web.kb import bp as kb_bp
    from console.web.lead import bp as lead_bp
    from console.web.operator import bp as operator_bp

    for bp in (auth_bp, health_bp, operator_bp, lead_bp, intake_bp, kb_bp):
        app.register_blueprint(bp)
    register_panel(
        app, ConsolePanel(name="kb", template="kb/panel.html", script="dist/kb-panel.js")
    )
    from console.web import kb_admin

    kb_admin.init_app(app, settings)  # checks config/knowledge.toml; a mistake stops start-up

    from console.web import records

    # Taxonomy, triage, retention and the identity key ring: a mistake stops start-up here.
    records.init_app(app, settings)

    _install_headers_and_access_log(app)

    ticker = realtime.Ticker(settings, database, extra=[jobs.run_due_periodic])
    app.extensions["helpline.ticker"] = ticker
    chat.init_app(app, settings, database, chat_settings)
    import telephony

    telephony.init_app(app, settings, database)
    if settings.background_tasks:
        fanout.start()
        ticker.start()
    return app


def shutdown(app: Flask) -> None:
    """Stop this app's background tasks and detach its event sender (tests build many apps)."""
    from console.domain import events

    fanout = app.extensions.get("helpline.fanout")
    if fanout is not None:
        events.remove_sender(fanout.send)
        fanout.stop()
    ticker = app.extensions.get("helpline.ticker")
    if ticker is not None:
        ticker.stop()
    app.extensions["helpline.database"].dispose()


def _install_headers_and_access_log(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _headers(response: ResponseReturnValue) -> ResponseReturnValue:
        headers = response.headers  # type: ignore[union-attr]
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        # The access log names the route pattern, never the address, path values or query.
        rule = request.url_rule.rule if request.url_rule else "-"
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access_log.info(
            "%s %s %s %.1fms",
            request.method,
            rule,
            response.status_code,  # type: ignore[union-attr]
            elapsed,
        )
        return response
