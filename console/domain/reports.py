"""Reports from the rollups: a time axis (hour of day, day, week, month) by an optional breakdown.

Breakdowns: channel, language or queue (every metric), or a record dimension (victimisation, needs,
referral, triage: the recorded contacts per value). A report covers whole periods: a weekly report
from a Wednesday starts on that week's Monday. The CSV export applies small-count suppression and
holds no free text and no operator figures.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.domain import metrics
from console.domain.errors import ValidationFailed
from console.domain.metrics import CONTACT_COUNTERS, Totals
from console.domain.periods import Grain, label, local_midnight, next_start, parse_day, periods
from console.domain.rollups import ALL, DIMENSIONS, Rollup, Staffing
from console.domain.stats_settings import StatsSettings

Axis = Literal["hour_of_day", "day", "week", "month"]
AXES: tuple[Axis, ...] = ("hour_of_day", "day", "week", "month")
SPLITS = ("channel", "language", "queue")
BREAKDOWNS: tuple[str, ...] = (*SPLITS, *DIMENSIONS)
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class ReportQuery:
    axis: Axis
    start: dt.date
    end: dt.date  # inclusive
    by: str | None = None
    channel: str | None = None
    language: str | None = None
    queue: str | None = None

    def validate(self) -> ReportQuery:
        if self.axis not in AXES:
            raise ValidationFailed(f"axis: one of {', '.join(AXES)}")
        if self.by is not None and self.by not in BREAKDOWNS:
            raise ValidationFailed(f"by: one of {', '.join(BREAKDOWNS)}")
        if self.end < self.start:
            raise ValidationFailed("to: must not be before from")
        if (self.end - self.start).days > MAX_DAYS:
            raise ValidationFailed("the period may cover at most three years")
        if self.by in DIMENSIONS:
            if self.axis == "hour_of_day":
                raise ValidationFailed(
                    f"by {self.by}: recorded contacts are counted per day, week or month"
                )
            if self.queue is not None:
                raise ValidationFailed(f"by {self.by}: cannot be filtered by queue")
        return self

    @property
    def is_record_dimension(self) -> bool:
        return self.by in DIMENSIONS


@dataclass
class Report:
    query: ReportQuery
    periods: list[str]
    groups: list[str]
    # (period label, group or "") -> totals; staffed time is the period's, whatever the group.
    cells: dict[tuple[str, str], Totals]
    staffed: dict[str, int] = field(default_factory=dict)

    def cell(self, period: str, group: str = "") -> Totals:
        return self.cells.get((period, group), Totals())

    def group_total(self, group: str) -> Totals:
        result = metrics.total(self.cells.get((p, group), Totals()) for p in self.periods)
        return _with_staffed(result, sum(self.staffed.values()))

    def period_total(self, period: str) -> Totals:
        result = metrics.total(self.cells.get((period, g), Totals()) for g in self.groups)
        return _with_staffed(result, self.staffed.get(period, 0))

    def grand_total(self) -> Totals:
        result = metrics.total(self.cells.values())
        return _with_staffed(result, sum(self.staffed.values()))

    def with_staffed(self, period: str, group: str = "") -> Totals:
        return _with_staffed(self.cell(period, group), self.staffed.get(period, 0))


def _with_staffed(totals: Totals, staffed: int) -> Totals:
    values = totals.as_dict()
    values["staffed_ms"] = staffed
    return Totals.of(values)


def _range(query: ReportQuery, tz: Any) -> tuple[Grain, list[dt.datetime], dt.datetime]:
    first = local_midnight(query.start, tz)
    stop = local_midnight(query.end + dt.timedelta(days=1), tz)
    grain: Grain = "hour" if query.axis == "hour_of_day" else query.axis
    starts = periods(first, stop, grain, tz)
    end = next_start(starts[-1], grain, tz) if starts else stop
    return grain, starts, end


def _period_name(start: dt.datetime, query: ReportQuery, grain: Grain, tz: Any) -> str:
    if query.axis == "hour_of_day":
        return f"{start.astimezone(tz).hour:02d}:00"
    return label(start, grain, tz)


def build(session: Session, cfg: StatsSettings, query: ReportQuery) -> Report:
    query = query.validate()
    tz = cfg.tz
    grain, starts, end = _range(query, tz)
    if query.axis == "hour_of_day":
        names = [f"{h:02d}:00" for h in range(24)]
    else:
        names = [_period_name(s, query, grain, tz) for s in starts]
    group_column: Any = None
    dimension = ALL
    if query.is_record_dimension:
        dimension = str(query.by)
        group_column = Rollup.value
    elif query.by in SPLITS:
        group_column = getattr(Rollup, str(query.by))
    columns: list[Any] = [Rollup.period_start]
    if group_column is not None:
        columns.append(group_column)
    columns += [func.sum(getattr(Rollup, name)) for name in CONTACT_COUNTERS]
    statement = select(*columns).where(
        Rollup.grain == grain,
        Rollup.dimension == dimension,
        Rollup.period_start >= (starts[0] if starts else end),
        Rollup.period_start < end,
    )
    for name in SPLITS:
        value = getattr(query, name)
        if value is not None:
            statement = statement.where(getattr(Rollup, name) == value)
    statement = statement.group_by(*columns[: 2 if group_column is not None else 1])
    cells: dict[tuple[str, str], Totals] = defaultdict(Totals)
    groups: set[str] = set()
    for row in session.execute(statement):
        period = _period_name(row[0], query, grain, tz)
        group = str(row[1]) if group_column is not None else ""
        offset = 2 if group_column is not None else 1
        totals = Totals.of(dict(zip(CONTACT_COUNTERS, row[offset:], strict=True)))
        cells[(period, group)] = cells[(period, group)] + totals
        groups.add(group)
    staffed: dict[str, int] = defaultdict(int)
    if not query.is_record_dimension:
        for start, ms in session.execute(
            select(Staffing.period_start, Staffing.staffed_ms).where(
                Staffing.grain == grain,
                Staffing.period_start >= (starts[0] if starts else end),
                Staffing.period_start < end,
            )
        ):
            staffed[_period_name(start, query, grain, tz)] += int(ms)
    ordered_groups = sorted(groups, key=lambda g: (-_weight(cells, g, query), g))
    if group_column is None:
        ordered_groups = [""]
    return Report(query, names, ordered_groups, dict(cells), dict(staffed))


def _weight(cells: dict[tuple[str, str], Totals], group: str, query: ReportQuery) -> int:
    return sum(
        (t.records if query.is_record_dimension else t.offered + t.handled)
        for (_, g), t in cells.items()
        if g == group
    )


# ------------------------------------------------------------------ export

SERVICE_COLUMNS = (
    ("offered", "count"),
    ("answered", "count"),
    ("abandoned", "count"),
    ("short_abandoned", "count"),
    ("handled", "count"),
    ("service_level", "rate"),
    ("abandonment_rate", "rate"),
    ("asa_seconds", "seconds"),
    ("aht_seconds", "seconds"),
    ("records", "count"),
    ("referrals_made", "count"),
    ("referrals_received", "count"),
    ("referral_to_outreach_seconds", "seconds"),
)
# The base count a derived figure is computed from: it is suppressed with its base.
_BASE = {
    "service_level": "offered",
    "abandonment_rate": "offered",
    "asa_seconds": "answered",
    "aht_seconds": "handled",
    "referral_to_outreach_seconds": "referrals_received",
}


SUPPRESSED = "suppressed"
# Splits whose values partition a period's contacts (each contact has exactly one).
PARTITIONS = frozenset({"channel", "language", "queue", "triage"})


def suppress(value: int, threshold: int) -> str:
    """Small-count suppression: counts under the threshold show as "<threshold"."""
    return str(value) if value >= threshold else f"<{threshold}"


def _suppress_partition(cells: list[int], threshold: int) -> list[str]:
    """One column of one period's split. Where exactly one cell is hidden, the next smallest is
    hidden too ("suppressed"), so the small one cannot be worked out from the period's total
    (which the same export without the split shows)."""
    shown = [suppress(n, threshold) for n in cells]
    hidden = [i for i, n in enumerate(cells) if n < threshold]
    if len(hidden) == 1:
        visible = sorted((n, i) for i, n in enumerate(cells) if n >= threshold)
        if visible:
            shown[visible[0][1]] = SUPPRESSED
    return shown


def _derived(name: str, kind: str, figures: dict[str, Any], base_shown: str) -> str:
    """A rate or average, shown only where the count it is computed from is shown."""
    value = figures[name]
    if value is None or not base_shown.isdigit():
        return ""
    return f"{float(value):.3f}" if kind == "rate" else f"{float(value):.1f}"


def to_csv(report: Report, threshold: int) -> str:
    """The report as CSV: one row per period and group, counts suppressed under the threshold.

    No totals row (a total beside suppressed cells would give them away), no free text, no staff
    figures. A derived figure (a rate, an average) is left empty when its base count is small.
    """
    query = report.query
    dimension = query.is_record_dimension
    partition = query.by in PARTITIONS
    columns = [("records", "count")] if dimension else list(SERVICE_COLUMNS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["period", *([query.by] if query.by else []), *(n for n, _ in columns)])
    for period in report.periods:
        figures = [metrics.summary(report.cell(period, g)) for g in report.groups]
        shown: dict[str, list[str]] = {}
        for name, kind in columns:
            if kind != "count":
                continue
            values = [int(f[name] or 0) for f in figures]
            shown[name] = (
                _suppress_partition(values, threshold)
                if partition
                else [suppress(v, threshold) for v in values]
            )
        for i, group in enumerate(report.groups):
            row = [period, *([_safe(group)] if query.by else [])]
            for name, kind in columns:
                if kind == "count":
                    row.append(shown[name][i])
                else:
                    row.append(_derived(name, kind, figures[i], shown[_BASE[name]][i]))
            writer.writerow(row)
    return buffer.getvalue()


def _safe(cell: str) -> str:
    """Spreadsheets run cells that start with these as formulas."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def parse_date(text: str | None, default: dt.date, name: str) -> dt.date:
    if not text:
        return default
    return parse_day(text, name)


def default_range(axis: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if axis == "month":
        return today.replace(month=1, day=1), today
    if axis == "week":
        return today - dt.timedelta(weeks=12), today
    if axis == "day":
        return today - dt.timedelta(days=30), today
    return today - dt.timedelta(days=7), today


def values_of(items: Iterable[str]) -> list[str]:
    return sorted(set(items))
