"""Imports every mapped class so that the metadata is complete (Alembic, tests, create_all)."""

from __future__ import annotations

from console.db import Base
from console.domain.contacts import Contact, ContactTransition
from console.domain.operators import Operator, PresenceChange
from console.domain.outcomes import Outcome
from console.domain.queue import Offer

metadata = Base.metadata

__all__ = [
    "Contact",
    "ContactTransition",
    "Offer",
    "Operator",
    "Outcome",
    "PresenceChange",
    "metadata",
]
