"""What is due for review: articles past `review_due`, services past `assured_date` + a period.

The weekly job that tells admins and the admin page both read `due_for_review`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from knowledge.models import Article, Service
from knowledge.records import change_log, update_record

__all__ = ["DueItem", "change_log", "due_for_review", "update_record"]


@dataclass(frozen=True)
class DueItem:
    kind: str  # "article" | "service"
    id: str
    title: str
    due: dt.date | None  # None: never reviewed or assured
    reason: str


def due_for_review(session: Session, now: dt.datetime, grace_days: int = 365) -> list[DueItem]:
    """Records due for review on `now`'s (UTC) date, longest overdue first.

    An article is due once its `review_due` has passed, or, without one, `grace_days` after it was
    last reviewed (or at once if it never was). A service (not defunct) is due `grace_days` after
    its HSDS `assured_date`, or at once if it was never assured.
    """
    today = now.astimezone(dt.UTC).date()
    cutoff = today - dt.timedelta(days=grace_days)
    items: list[DueItem] = []
    for article in session.scalars(
        select(Article).where(
            or_(
                Article.review_due < today,
                (Article.review_due.is_(None))
                & or_(Article.reviewed_at.is_(None), Article.reviewed_at < cutoff),
            )
        )
    ):
        if article.review_due is not None:
            due: dt.date | None = article.review_due
            reason = f"review was due on {article.review_due.isoformat()}"
        elif article.reviewed_at is not None:
            due = article.reviewed_at + dt.timedelta(days=grace_days)
            reason = f"last reviewed on {article.reviewed_at.isoformat()}"
        else:
            due, reason = None, "never reviewed"
        items.append(DueItem("article", article.id, article.title, due, reason))
    for service in session.scalars(
        select(Service).where(
            Service.status != "defunct",
            or_(Service.assured_date.is_(None), Service.assured_date < cutoff),
        )
    ):
        if service.assured_date is None:
            items.append(DueItem("service", service.id, service.name, None, "never assured"))
        else:
            items.append(
                DueItem(
                    "service",
                    service.id,
                    service.name,
                    service.assured_date + dt.timedelta(days=grace_days),
                    f"last assured on {service.assured_date.isoformat()}",
                )
            )
    return sorted(items, key=lambda i: (i.due is not None, i.due or today, i.kind, i.id))
