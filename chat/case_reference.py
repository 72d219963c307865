"""A case reference for a visitor who ticks the box: a case with nobody's name on it, under a
consent given by chat checkbox (console.domain.cases and console.domain.consent).

The visitor can quote the reference when they come back; the case holds no identity.
"""

from __future__ import annotations

import datetime as dt
import logging

from chat import conversations
from chat.models import Conversation
from console.db import Database, utcnow

log = logging.getLogger(__name__)


def give(database: Database, conversation_id: int, now: dt.datetime | None = None) -> str | None:
    """The new (or existing) case's reference, or None when cases cannot be opened here."""
    now = now or utcnow()
    try:
        from console.domain import cases, consent
    except ImportError:
        log.info("case references are not available: the consent feature is not installed")
        return None
    with database.transaction() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return None
        contact = conversations.current_contact(session, conversation)
        if contact is None or contact.accepted_at is None:
            return None
        case = cases.open_case(session, contact.id, operator_id=None, now=now)
        scope = consent.Scope.CASE_FOLLOW_UP
        consent.grant(
            session,
            contact_id=contact.id,
            case_id=case.id,
            scope=scope,
            method=consent.Method.CHAT_CHECKBOX,
            operator_id=None,
            expires_at=now + dt.timedelta(days=consent.max_days(scope)),
            now=now,
        )
        return str(case.ref)
