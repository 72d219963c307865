"""`helpline demo`: demo accounts, and a stream of simulated contacts so the queue moves.

The simulated contacts go through the same domain API as real ones. Two simulated colleagues take
contacts that have waited a while, so the shift lead's page shows a working line.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import threading
import tomllib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from console.db import Database, utcnow
from console.domain import operators, outcomes, queue
from console.domain.contacts import Contact, State
from console.domain.errors import DomainError
from console.domain.operators import Operator, Presence, Role
from console.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str


ACCOUNTS: list[tuple[str, str, Role, list[str]]] = [
    ("operator", "Demo Operator", Role.OPERATOR, ["nl", "fr", "en"]),
    ("operator2", "Second Operator", Role.OPERATOR, ["en", "ar"]),
    ("lead", "Demo Shift Lead", Role.SHIFT_LEAD, ["nl", "fr", "en"]),
    ("admin", "Demo Admin", Role.ADMIN, ["en"]),
]
# Simulated colleagues: they never log in (their passwords are random and never shown).
BOTS: list[tuple[str, str, list[str]]] = [
    ("sim_anna", "Anna (simulated)", ["nl", "en"]),
    ("sim_karim", "Karim (simulated)", ["fr", "ar", "en"]),
]


def seed(database: Database, settings: Settings) -> list[DemoAccount]:
    """Create or reset the demo accounts with fresh passwords, returned to be printed once."""
    shown: list[DemoAccount] = []
    with database.transaction() as session:
        for username, name, role, languages in ACCOUNTS:
            password = secrets.token_urlsafe(9)
            _upsert(session, username, name, role, languages, password, settings)
            shown.append(DemoAccount(username, password, role.value))
        for username, name, languages in BOTS:
            _upsert(
                session,
                username,
                name,
                Role.OPERATOR,
                languages,
                secrets.token_urlsafe(24),
                settings,
            )
    return shown


def _upsert(
    session: Any,
    username: str,
    name: str,
    role: Role,
    languages: list[str],
    password: str,
    settings: Settings,
) -> None:
    existing = session.scalar(select(Operator).where(Operator.username == username))
    if existing is None:
        operators.create_operator(
            session,
            username=username,
            password=password,
            display_name=name,
            role=role,
            languages=languages,
            max_chats=settings.operators.max_chats,
        )
        return
    existing.password_hash = operators._hasher.hash(password)
    existing.failed_logins = 0
    existing.locked_until = None


# Calls twice as often as chats and callback requests (referrals from intake).
STREAM_CHANNELS = ("voice", "voice", "chat", "callback")


class ContactStream:
    """Simulated callers and visitors arriving, some giving up, simulated colleagues answering."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        rng: random.Random | None = None,
        sleep: Callable[[float], bool] | None = None,
        channels: tuple[str, ...] = STREAM_CHANNELS,
    ) -> None:
        self.settings = settings
        self.database = database
        self.rng = rng or random.Random()
        # The channels this stream brings: those without a simulated feed of their own.
        self.channels = channels
        self.taxonomy: outcomes.OutcomeTaxonomy | None = None
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self.max_waiting = 12

    def stop(self) -> None:
        self._stop.set()

    def step(self) -> None:
        with self.database.transaction() as session:
            waiting = list(queue.queue_snapshot(session))
            if len(waiting) < self.max_waiting:
                self._arrive(session)
            for contact in waiting:
                if contact.channel not in self.channels or contact.channel == "callback":
                    continue  # a feed's contacts leave as its people do; a referral waits
                waited = (utcnow() - contact.enqueued_at).total_seconds()
                if waited > 45 and self.rng.random() < 0.05:
                    with contextlib.suppress(DomainError):
                        queue.abandon(session, contact.id, reason="demo")
        self._colleagues()

    def _arrive(self, session: Any) -> Contact | None:
        # Drawn from every channel, so a fed channel's turn passes and each keeps its share.
        channel = self.rng.choice(STREAM_CHANNELS)
        if channel not in self.channels:
            return None
        codes = list(self.settings.language_codes)
        weights = [5 if i == 0 else 3 if i == 1 else 1 for i in range(len(codes))]
        language = self.rng.choices(codes, weights)[0]
        topic = self.rng.choice([*self.settings.topic_codes, None])
        return queue.enqueue(
            session, channel=channel, language=language, topic=topic, cfg=self.settings.queue
        )

    def _record(self) -> dict[str, Any]:
        """A plausible anonymous record, drawn from the helpline's own taxonomy file."""
        with (self.settings.config_dir / "taxonomy.toml").open("rb") as fh:
            form = tomllib.load(fh)

        def codes(name: str) -> list[str]:
            return [str(item["code"]) for item in form.get(name, [])] or ["other"]

        return {
            "caller_role": self.rng.choice(codes("caller_role")),
            "victimisation": [self.rng.choice(codes("victimisation"))],
            "needs": self.rng.sample(codes("need"), k=min(2, len(codes("need")))),
            "heard_from": self.rng.choice(codes("heard_from")),
            "triage_track": self.rng.choices(
                ["less_serious", "serious", "very_serious"], [70, 25, 5]
            )[0],
        }

    def _colleagues(self) -> None:
        taxonomy = self.taxonomy or outcomes.load_outcome_taxonomy(
            self.settings.config_dir / "taxonomy.toml"
        )
        with self.database.transaction() as session:
            bots = list(
                session.scalars(select(Operator).where(Operator.username.in_([b[0] for b in BOTS])))
            )
            for bot in bots:
                held = queue.held_by(session, bot.id)
                if held:
                    contact = held[0]
                    talked = (utcnow() - (contact.accepted_at or utcnow())).total_seconds()
                    if talked > self.rng.uniform(20, 60):
                        # Most contacts are real conversations; a few are silent or hang-ups.
                        data = [c.code for c in taxonomy.codes if not c.non_data]
                        other = [c.code for c in taxonomy.codes if c.non_data]
                        pool = data if self.rng.random() < 0.85 or not other else other
                        code = self.rng.choice(pool)
                        outcomes.wrap_up(
                            session,
                            contact.id,
                            bot.id,
                            code=code,
                            taxonomy=taxonomy,
                            details=self._record(),
                            form_version=taxonomy.version,
                        )
                        operators.set_presence(session, bot, Presence.BREAK)
                    continue
                if bot.presence == Presence.OFFLINE:
                    operators.set_presence(session, bot, Presence.BREAK)
                patient = [
                    c
                    for c in queue.queue_snapshot(session)
                    if c.state == State.WAITING
                    and (utcnow() - c.enqueued_at).total_seconds() > 30
                    and c.language in bot.languages
                ]
                if patient:
                    operators.set_presence(session, bot, Presence.AVAILABLE)
                    try:
                        queue.claim(session, patient[0].id, bot.id)
                    except DomainError:
                        operators.set_presence(session, bot, Presence.BREAK)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:
                log.warning("demo stream step failed", exc_info=True)
            interval = self.settings.demo_contact_interval
            if self._sleep(self.rng.uniform(interval * 0.5, interval * 1.5)):
                break


# A channel's simulated contacts for the demo: started with the app, returns what it started.
DemoFeed = Callable[[Any], Any]
_FEEDS = "helpline.demo_feeds"


def register_feed(app: Any, channel: str, start: DemoFeed) -> None:
    """Channels offer a simulated stream of their own (telephony: signed calls through a simulated
    Twilio), which the demo runs instead of bare queue entries for that channel."""
    app.extensions.setdefault(_FEEDS, {})[channel] = start


def start_feeds(app: Any) -> dict[str, Any]:
    feeds: dict[str, DemoFeed] = app.extensions.get(_FEEDS, {})
    return {channel: start(app) for channel, start in feeds.items()}


def stream_channels(fed: Collection[str]) -> tuple[str, ...]:
    """The demo stream's channels, less those a feed brings."""
    return tuple(c for c in STREAM_CHANNELS if c not in fed)


def start_stream(app: Any, settings: Settings, database: Database) -> ContactStream:
    from console.extensions import socketio

    stream = ContactStream(settings, database, channels=stream_channels(start_feeds(app)))
    stream.taxonomy = app.config.get("HELPLINE_OUTCOMES")
    app.extensions["helpline.demo_stream"] = stream
    socketio.start_background_task(stream.run)
    return stream
