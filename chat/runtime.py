"""What the chat needs in whichever process it runs: a server process or the jobs worker.

Domain hooks and job functions receive only a session or nothing, so they find the chat's settings
here. `create_app` configures it through `chat.init_app`; a worker builds it from the job context.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat.pseudonyms import Pseudonyms
from chat.ratelimit import Limiter, make_limiter
from chat.settings import ChatSettings, load_chat_settings
from console.db import Database
from console.domain import crypto
from console.domain.hours import OpeningHours, load_hours
from console.settings import Settings


@dataclass
class ChatRuntime:
    settings: Settings
    chat: ChatSettings
    database: Database
    limiter: Limiter
    pseudonyms: Pseudonyms
    hours: OpeningHours


_current: ChatRuntime | None = None


def build(settings: Settings, database: Database, chat: ChatSettings | None = None) -> ChatRuntime:
    chat = chat or load_chat_settings(settings)
    if not crypto.is_configured():
        # Transcripts are free text: they are stored only as tokens of the identity key ring.
        crypto.configure_from_settings(settings)
    return ChatRuntime(
        settings=settings,
        chat=chat,
        database=database,
        limiter=make_limiter(settings.redis_url),
        pseudonyms=Pseudonyms(database, chat.rotation_seconds, settings.secret_key),
        hours=load_hours(settings.hours_path, settings.timezone),
    )


def configure(runtime: ChatRuntime) -> ChatRuntime:
    global _current
    _current = runtime
    return runtime


def current() -> ChatRuntime:
    if _current is None:
        from console.jobs.context import get_context

        ctx = get_context()
        return configure(build(ctx.settings, ctx.database))
    return _current
