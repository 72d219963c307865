"""The web chat channel: an anonymous widget for visitors, and the operator's chat panel.

Only the console's app factory imports this package: `load_settings` before the console's realtime
setup (for the origins allowed to embed the widget), then `init_app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from chat.settings import ChatSettings
    from console.db import Database
    from console.settings import Settings


def load_settings(settings: Settings) -> ChatSettings:
    from chat.settings import load_chat_settings

    return load_chat_settings(settings)


def init_app(
    app: Flask, settings: Settings, database: Database, chat_settings: ChatSettings
) -> None:
    """Blueprints, the visitors' socket namespace, hooks, jobs and the console panel."""
    from chat import events, hooks, jobs, runtime, socket, visitor
    from chat import operator as operator_views
    from console.domain import retention
    from console.extensions import csrf
    from console.web.panels import ConsolePanel, register_panel

    events.register()
    rt = runtime.configure(runtime.build(settings, database, chat_settings))
    app.extensions["chat"] = rt
    hooks.register()
    _register_encrypted_column()
    jobs.register_periodic()
    retention.register_eraser(jobs.erase_for_contacts)
    # The visitor's POSTs (the quick-exit beacon) carry the chat token instead of a CSRF token.
    csrf.exempt(visitor.bp)
    app.register_blueprint(visitor.bp)
    app.register_blueprint(operator_views.bp)
    socket.init_app(app, rt)
    from console import demo

    demo.register_feed(app, "chat", _demo_visitors)
    register_panel(
        app,
        ConsolePanel(
            name="chat",
            template="chat/panel.html",
            static_endpoint="chat_visitor.static",
            script="dist/panel.js",
        ),
    )


def _demo_visitors(app: Flask) -> object:
    """The demo's visitors: chats started through the chat's domain API, one every 30 s or so,
    with someone behind them who answers the operator."""
    from chat.demo import start_demo_visitors

    return start_demo_visitors(app, interval=30.0)


def _register_encrypted_column() -> None:
    """`helpline keys rotate` re-encrypts retained transcripts along with the console's columns."""
    from chat.models import Message
    from console.domain import rotation

    rotation.register(rotation.EncryptedColumn("chat_messages", Message, "id", "body"))
