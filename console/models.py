"""Imports every mapped class so that the metadata is complete (Alembic, tests, create_all)."""

from __future__ import annotations

from console.db import Base
from console.domain.contacts import Contact, ContactTransition
from console.domain.kb_review import ReviewNotice
from console.domain.operators import Operator, PresenceChange
from console.domain.outcomes import Outcome
from console.domain.queue import Offer
from console.domain.records_models import RECORDS_MODELS
from console.domain.referrals import ContactReferral
from console.domain.stats_models import STATS_MODELS

metadata = Base.metadata

__all__ = [
    "RECORDS_MODELS",
    "STATS_MODELS",
    "Contact",
    "ContactReferral",
    "ContactTransition",
    "Offer",
    "Operator",
    "Outcome",
    "PresenceChange",
    "ReviewNotice",
    "metadata",
]
