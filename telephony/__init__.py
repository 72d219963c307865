"""The voice channel: anonymous calls through Twilio into the console's live queue.

Only `console.app.create_app` imports this package (through `init_app`), and `console.cli` attaches
its command groups. Telephony calls the console's domain API; the console never imports it.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def init_app(app: Any, settings: Any, database: Any) -> None:
    """Load telephony's settings (start-up fails on a bad one), register its webhooks, the
    operator's voice panel, the queue hooks and the periodic jobs."""
    from console.domain import retention
    from console.web.panels import ConsolePanel, register_panel
    from telephony import events, hooks, jobs, privacy, runtime  # noqa: F401  (jobs: periodic work)
    from telephony.web.console import bp as console_bp
    from telephony.web.webhooks import bp as webhooks_bp

    rt = runtime.configure(
        runtime.build(settings, database, jobs=app.extensions.get("helpline.jobs"))
    )
    app.extensions["telephony"] = rt
    if not rt.tset.token_configured:
        log.warning("TWILIO_AUTH_TOKEN is not set: every voice webhook will be refused (403)")
    elif settings.mode == "production" and settings.redis_url and not rt.tset.public_base_url:
        log.warning(
            "HELPLINE_PUBLIC_BASE_URL is not set: RQ workers cannot give Twilio the URLs that "
            "bridge accepted calls"
        )
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(console_bp)
    from console import demo

    demo.register_feed(app, "voice", _demo_calls)
    hooks.register()
    # A case's erasure and the retention sweep reach the call legs too.
    retention.register_eraser(privacy.erase_for_contacts)
    retention.register_purger("call_metadata", privacy.purge_call_metadata)
    events.register()
    register_panel(
        app,
        ConsolePanel(
            name="voice",
            template="telephony/voice_panel.html",
            static_endpoint="telephony.static",
            script="dist/voice-panel.js",
        ),
    )


def _demo_calls(app: Any) -> Any:
    """The demo's callers: signed webhooks from a simulated Twilio, one call every 20 s or so."""
    from telephony.simulator import start_demo_calls

    return start_demo_calls(app, interval=20.0)
