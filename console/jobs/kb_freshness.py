"""The weekly job that tells admins which knowledge records are due for review.

Idempotent per ISO week (see `console.domain.kb_review.notify_due`); logs counts only.
"""

from __future__ import annotations

import logging

from console.db import utcnow
from console.domain import kb_review
from console.jobs.context import get_context
from console.jobs.periodic import PeriodicJob, register

log = logging.getLogger(__name__)

WEEK = 7 * 24 * 3600


def notify_review_due() -> dict[str, int]:
    ctx = get_context()
    grace_days = kb_review.load_review_settings(ctx.settings).review_grace_days
    with ctx.database.transaction() as session:
        notice = kb_review.notify_due(session, utcnow(), grace_days)
        counts = (
            {"articles": notice.articles, "services": notice.services, "notified": 1}
            if notice is not None
            else {"articles": 0, "services": 0, "notified": 0}
        )
    log.info(
        "kb review: %d articles, %d services due; %d notice stored",
        counts["articles"],
        counts["services"],
        counts["notified"],
    )
    return counts


register(PeriodicJob("console.jobs.kb_freshness.notify_review_due", every=WEEK))
