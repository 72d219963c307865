"""The funders' export: anonymous counts by period, channel, language, victimisation, needs and
referral, as CSV, with small-count suppression.

Only codes, labels from config or the directory, and counts go in: never a note, never a typed
name. A count under the threshold shows as "<N". Where a dimension's cells add up to the period's
total (channel, language) and exactly one is suppressed, the next smallest is suppressed too, so the
hidden one cannot be worked out by subtraction; it shows as "suppressed". Every export is audited.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.domain import audit, permissions
from console.domain.contacts import Channel
from console.domain.errors import ValidationFailed
from console.domain.outcomes import Outcome
from console.domain.periods import parse_day
from console.domain.taxonomy import Taxonomy, _directory_service

Period = Literal["month", "quarter", "year"]
PERIODS: tuple[Period, ...] = ("month", "quarter", "year")
COLUMNS = ("period", "dimension", "code", "label", "contacts")
# Dimensions whose cells partition the total (each contact has exactly one value).
PARTITIONS = frozenset({"channel", "language"})
# A cell hidden only so that a small one cannot be worked out from the total.
SUPPRESSED = "suppressed"
CHANNEL_LABELS = {Channel.VOICE: "Call", Channel.CHAT: "Chat", Channel.CALLBACK: "Callback"}


def period_of(moment: dt.datetime, tz: ZoneInfo, period: Period) -> str:
    local = moment.astimezone(tz)
    if period == "year":
        return f"{local.year}"
    if period == "quarter":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    return f"{local.year}-{local.month:02d}"


def _bounds(start: dt.date, end: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    if end < start:
        raise ValidationFailed("to: must not be before from")
    begin = dt.datetime.combine(start, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return begin, finish.astimezone(dt.UTC)


def counts(
    session: Session,
    taxonomy: Taxonomy,
    *,
    start: dt.date,
    end: dt.date,
    tz: ZoneInfo,
    period: Period = "month",
) -> dict[tuple[str, str], Counter[str]]:
    """(period, dimension) → counts per code, straight from the outcome records."""
    if period not in PERIODS:
        raise ValidationFailed(f"period: one of {', '.join(PERIODS)}")
    begin, finish = _bounds(start, end, tz)
    non_data = {c.code for c in taxonomy.codes if c.non_data}
    table: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    rows = session.execute(
        select(
            Outcome.recorded_at, Outcome.channel, Outcome.language, Outcome.code, Outcome.details
        )
        .where(Outcome.recorded_at >= begin, Outcome.recorded_at < finish)
        .order_by(Outcome.recorded_at)
    )
    for recorded_at, channel, language, code, details in rows:
        key = period_of(recorded_at, tz, period)
        table[(key, "total")]["all"] += 1
        table[(key, "channel")][channel] += 1
        table[(key, "language")][language] += 1
        if code in non_data:
            continue
        details = details or {}
        for item in details.get("victimisation") or []:
            table[(key, "victimisation")][str(item)] += 1
        for item in details.get("needs") or []:
            table[(key, "needs")][str(item)] += 1
        for referral in details.get("referrals") or []:
            if isinstance(referral, dict) and referral.get("service_id"):
                table[(key, "referral")][str(referral["service_id"])] += 1
    return table


def _suppress(cells: dict[str, int], threshold: int, partition: bool) -> dict[str, str]:
    shown = {code: str(n) if n >= threshold else f"<{threshold}" for code, n in cells.items()}
    hidden = [c for c, n in cells.items() if n < threshold]
    if partition and len(hidden) == 1:
        visible = sorted((n, c) for c, n in cells.items() if n >= threshold)
        if visible:
            shown[visible[0][1]] = SUPPRESSED
    return shown


def _safe(cell: str) -> str:
    """Spreadsheets run cells that start with these as formulas."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def rows(
    session: Session,
    taxonomy: Taxonomy,
    *,
    start: dt.date,
    end: dt.date,
    tz: ZoneInfo,
    languages: dict[str, str],
    threshold: int,
    period: Period = "month",
) -> list[tuple[str, str, str, str, str]]:
    table = counts(session, taxonomy, start=start, end=end, tz=tz, period=period)
    periods = sorted({key for key, _ in table})
    service_names: dict[str, str] = {}
    result: list[tuple[str, str, str, str, str]] = []
    for key in periods:
        dims: list[tuple[str, Sequence[tuple[str, str]]]] = [
            ("total", [("all", "All contacts")]),
            ("channel", [(c.value, CHANNEL_LABELS[c]) for c in Channel]),
            ("language", list(languages.items())),
            ("victimisation", [(c.code, c.label) for c in taxonomy.victimisation]),
            ("needs", [(c.code, c.label) for c in taxonomy.needs]),
        ]
        observed = sorted(table.get((key, "referral"), Counter()))
        referral_codes = []
        for service_id in observed:
            if service_id not in service_names:
                named = _directory_service(session, service_id)
                # Only the directory's own name; without a directory, the id alone.
                service_names[service_id] = named if isinstance(named, str) else service_id
            referral_codes.append((service_id, service_names[service_id]))
        dims.append(("referral", referral_codes))
        for dimension, codes in dims:
            tally = table.get((key, dimension), Counter())
            known = dict(codes)
            for extra in sorted(set(tally) - set(known)):
                known[extra] = taxonomy.label(dimension, extra)  # codes of an older version
            cells = {code: tally.get(code, 0) for code in known}
            shown = _suppress(cells, threshold, dimension in PARTITIONS)
            for code, label in known.items():
                result.append((key, dimension, code, _safe(label), shown[code]))
    return result


def funders_csv(
    session: Session,
    taxonomy: Taxonomy,
    *,
    actor_id: int | None,
    start: dt.date,
    end: dt.date,
    tz: ZoneInfo,
    languages: dict[str, str],
    threshold: int,
    period: Period = "month",
    now: dt.datetime | None = None,
) -> str:
    """The CSV text; the export is audited (who, when, which period; never its content)."""
    permissions.require(session, actor_id, permissions.Action.EXPORT)
    table = rows(
        session,
        taxonomy,
        start=start,
        end=end,
        tz=tz,
        languages=languages,
        threshold=threshold,
        period=period,
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(table)
    audit.record(
        session,
        audit.Action.EXPORT,
        actor_id=actor_id,
        reason="funder_report",
        details={
            "rows": len(table),
            "period": period,
            "from_ordinal": start.toordinal(),
            "to_ordinal": end.toordinal(),
            "threshold": threshold,
        },
        now=now,
    )
    return buffer.getvalue()


def parse_date(value: Any, name: str) -> dt.date:
    return parse_day(str(value), name)


def all_cells(csv_text: str) -> Iterable[dict[str, str]]:
    return csv.DictReader(io.StringIO(csv_text))
