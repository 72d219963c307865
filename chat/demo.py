"""The demo's chat visitors: simulated people who write in through the chat's own domain API, as
the widget does, so an operator who accepts a demo chat has someone to talk to.

A visitor starts a chat now and then, writes once an operator has it, answers each of the
operator's messages after a moment, and says goodbye and leaves after a few turns. Their words are
stock lines in the chat's language; they name nobody.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from chat import conversations
from chat.models import Conversation, Message
from chat.runtime import ChatRuntime
from console.db import utcnow
from console.domain.contacts import QUEUED, State

log = logging.getLogger(__name__)

# (openers, replies, goodbye) per language; English for any other.
LINES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "en": (
        (
            "Hello. Something happened last week and I don't know who to talk to.",
            "Hi, I was told to ask you what happens after I report a crime.",
        ),
        (
            "Thank you. I didn't know that.",
            "Can I still do that if I have waited a few weeks?",
            "That helps. What would the next step be?",
        ),
        "Thank you, that gives me something to go on. I have to go now. Goodbye.",
    ),
    "nl": (
        (
            "Hallo. Er is vorige week iets gebeurd en ik weet niet met wie ik moet praten.",
            "Dag, ik kreeg de raad u te vragen wat er gebeurt nadat ik aangifte doe.",
        ),
        (
            "Dank u. Dat wist ik niet.",
            "Kan dat nog als ik een paar weken gewacht heb?",
            "Dat helpt. Wat zou de volgende stap zijn?",
        ),
        "Dank u, daar kan ik mee verder. Ik moet nu gaan. Dag.",
    ),
    "fr": (
        (
            "Bonjour. Il s'est passé quelque chose la semaine dernière et je ne sais pas à qui "
            "en parler.",
            "Bonjour, on m'a conseillé de vous demander ce qui se passe après une plainte.",
        ),
        (
            "Merci. Je ne le savais pas.",
            "Est-ce encore possible si j'ai attendu quelques semaines ?",
            "Cela m'aide. Quelle serait la prochaine étape ?",
        ),
        "Merci, cela m'aide à avancer. Je dois partir maintenant. Au revoir.",
    ),
    "ar": (
        (
            "مرحبًا. حدث شيء الأسبوع الماضي ولا أعرف مع من أتحدث.",
            "مرحبًا، نصحوني أن أسألكم عما يحدث بعد تقديم شكوى.",
        ),
        (
            "شكرًا. لم أكن أعرف ذلك.",
            "هل ما زال ذلك ممكنًا إذا انتظرت بضعة أسابيع؟",
            "هذا يساعدني. ما هي الخطوة التالية؟",
        ),
        "شكرًا، هذا يساعدني على المضي قدمًا. يجب أن أذهب الآن. وداعًا.",
    ),
}
TURNS = 3  # the visitor's messages before the goodbye
WAITING_AT_MOST = 2  # demo chats waiting at once; the calls and the stream bring the rest


@dataclass
class _Visitor:
    conversation_id: int
    language: str
    said: int = 0
    # When the visitor next writes: set once an operator has the chat or has just written.
    due: dt.datetime | None = None
    answered_seq: int = 0


@dataclass
class DemoVisitors:
    rt: ChatRuntime
    interval: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    visitors: dict[int, _Visitor] = field(default_factory=dict)
    _next_arrival: dt.datetime = field(default_factory=utcnow)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> DemoVisitors:
        threading.Thread(target=self._run, name="demo-visitors", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.step()
            except Exception:
                log.warning("demo visitors step failed", exc_info=True)

    def step(self, now: dt.datetime | None = None) -> None:
        now = now or utcnow()
        if now >= self._next_arrival:
            self._arrive(now)
            delay = self.rng.uniform(self.interval * 0.5, self.interval * 1.5)
            self._next_arrival = now + dt.timedelta(seconds=delay)
        for visitor in list(self.visitors.values()):
            self._attend(visitor, now)

    def _arrive(self, now: dt.datetime) -> None:
        waiting = [v for v in self.visitors.values() if v.said == 0 and v.due is None]
        if len(waiting) >= WAITING_AT_MOST or not self.rt.hours.is_open(now):
            return
        settings = self.rt.settings
        language = self.rng.choice(settings.language_codes)
        topic = self.rng.choice([*settings.topic_codes, None])
        with self.rt.database.transaction() as session:
            conversation, _contact, _token = conversations.start(
                session,
                language=language,
                topic=topic,
                languages=settings.language_codes,
                topics=settings.topic_codes,
                cfg=settings.queue,
                pseudonym=None,
                # No socket behind it: the demo visitor stays "connected" until it leaves.
                sid=f"demo-{secrets.token_hex(8)}",
                now=now,
            )
            self.visitors[conversation.id] = _Visitor(conversation.id, language)

    def _attend(self, visitor: _Visitor, now: dt.datetime) -> None:
        openers, replies, goodbye = LINES.get(visitor.language, LINES["en"])
        with self.rt.database.transaction() as session:
            conversation = session.get(Conversation, visitor.conversation_id)
            contact = conversations.current_contact(session, conversation) if conversation else None
            if conversation is None or contact is None or conversation.status != "open":
                del self.visitors[visitor.conversation_id]
                return
            if contact.state in QUEUED:
                return
            if contact.state != State.ACTIVE:  # the operator ended it: the visitor is done
                conversations.visitor_leaves(session, conversation, now=now)
                del self.visitors[visitor.conversation_id]
                return
            latest = session.scalar(
                select(Message.seq)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.sender == conversations.OPERATOR,
                )
                .order_by(Message.seq.desc())
                .limit(1)
            )
            if latest is not None and latest > visitor.answered_seq:
                visitor.answered_seq = latest
                visitor.due = visitor.due or now + dt.timedelta(seconds=self.rng.uniform(3, 7))
            elif visitor.said == 0 and visitor.due is None:
                visitor.due = now + dt.timedelta(seconds=self.rng.uniform(2, 5))
            if visitor.due is None or now < visitor.due:
                return
            visitor.due = None
            if visitor.said == 0:
                text = self.rng.choice(openers)
            elif visitor.said < TURNS:
                text = replies[(visitor.said - 1) % len(replies)]
            else:
                text = goodbye
            conversations.post(
                session,
                conversation.id,
                sender=conversations.VISITOR,
                text=text,
                client_id=secrets.token_hex(8),
                chat=self.rt.chat,
                now=now,
            )
            visitor.said += 1
            if visitor.said > TURNS:
                conversations.visitor_leaves(session, conversation, now=now)
                del self.visitors[visitor.conversation_id]


def start_demo_visitors(app: Any, *, interval: float = 30.0) -> DemoVisitors:
    return DemoVisitors(app.extensions["chat"], interval).start()
