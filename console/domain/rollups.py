"""Rollups: the statistics' running totals per period and dimension, so no report scans history.

`stats_rollups` holds `metrics.Totals` per (grain, period, channel, language, queue, dimension,
value). Dimension `all` carries every contact counter at each grain (hour, day, week, month); the
record dimensions (victimisation, needs, referral, triage) count recorded outcomes per value at
day, week and month, split by channel and language (their queue is "*"). A contact counts in the
period it arrived in; the time operators spend on it (`busy_ms`) counts in the periods it was spent
in. `stats_staffing` holds the team's staffed time (available, busy or wrap-up) per period.

Both tables are updated in the transaction that closes a contact (the `final` hook) or ends a
staffed stint (a break or going offline), and can be rebuilt from the raw records with
`helpline stats rebuild`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    delete,
    or_,
    select,
    type_coerce,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.db import Base, intpk, str16, str32, str64, timestamp, utcnow
from console.domain import hooks
from console.domain.contacts import FINAL, Contact
from console.domain.metrics import CONTACT_COUNTERS, Leg, busy_span, leg_counts, record_totals
from console.domain.operators import PresenceChange
from console.domain.outcomes import Outcome
from console.domain.periods import GRAINS, Grain, ms_between, start_of
from console.domain.stats_settings import StatsSettings, current

log = logging.getLogger(__name__)

ALL = "all"
DIMENSIONS: tuple[str, ...] = ("victimisation", "needs", "referral", "triage")
DIMENSION_GRAINS: tuple[Grain, ...] = ("day", "week", "month")
ANY_QUEUE = "*"
NONE_VALUE = "none"
STAFFED = frozenset({"available", "busy", "wrap_up"})


class Rollup(Base):
    __tablename__ = "stats_rollups"
    __table_args__ = (
        UniqueConstraint(
            "grain",
            "period_start",
            "channel",
            "language",
            "queue",
            "dimension",
            "value",
            name="uq_stats_rollups_cell",
        ),
        Index("ix_stats_rollups_lookup", "grain", "dimension", "period_start"),
    )

    id: Mapped[intpk]
    grain: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[timestamp]
    channel: Mapped[str16]
    language: Mapped[str16]
    queue: Mapped[str32]
    dimension: Mapped[str16]
    value: Mapped[str64]
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    answered_in_sl: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    short_abandoned: Mapped[int] = mapped_column(Integer, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)
    referrals_made: Mapped[int] = mapped_column(Integer, default=0)
    referrals_received: Mapped[int] = mapped_column(Integer, default=0)
    outreached: Mapped[int] = mapped_column(Integer, default=0)
    wait_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    talk_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    wrap_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    busy_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    outreach_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class Staffing(Base):
    """The team's staffed time per period. It changes only when a stint ends (a break, going
    offline), a few times per operator and shift, so one row per period is not a hot spot."""

    __tablename__ = "stats_staffing"
    __table_args__ = (UniqueConstraint("grain", "period_start", name="uq_stats_staffing_period"),)

    id: Mapped[intpk]
    grain: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[timestamp]
    staffed_ms: Mapped[int] = mapped_column(BigInteger, default=0)


# The presence log is read "previous change of this operator" on every change: an index on
# (operator, time) keeps that one seek however long the log grows. The stats migration creates it.
PRESENCE_INDEX = Index(
    "ix_stats_presence_changes_operator_at", PresenceChange.operator_id, PresenceChange.at
)


# The Core tables, for bulk statements that need no ORM bookkeeping.
ROLLUPS = cast(Table, Rollup.__table__)
STAFFING = cast(Table, Staffing.__table__)
CellKey = tuple[str, dt.datetime, str, str, str, str, str]
_HOUR = dt.timedelta(hours=1)
ROLLUP_KEY = ("grain", "period_start", "channel", "language", "queue", "dimension", "value")
STAFFING_KEY = ("grain", "period_start")


def dimension_values(details: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The values an outcome's details hold for each record dimension ("none" when empty)."""
    details = details or {}

    def codes(value: Any) -> list[str]:
        if not isinstance(value, list):
            return []
        return sorted({str(v)[:64] for v in value if v is not None and str(v)})

    referrals = []
    for item in details.get("referrals") or []:
        if isinstance(item, dict):
            ref = item.get("service_id") or item.get("name")
            if ref:
                referrals.append(str(ref))
    track = details.get("triage_track")
    return {
        "victimisation": codes(details.get("victimisation")) or [NONE_VALUE],
        "needs": codes(details.get("needs")) or [NONE_VALUE],
        "referral": codes(referrals) or [NONE_VALUE],
        "triage": [str(track)[:64]] if track else [NONE_VALUE],
    }


class Accumulator:
    """Adds legs and staffed spans up into cells; shared by the hooks and the rebuild.

    Legs are added at the finest grain their figures need (contact counters and busy time per
    local hour, recorded dimensions per local day); `finish` rolls those up into every grain, as
    an hour lies wholly inside one day, week and month, and a day inside one week and month.
    """

    def __init__(self, cfg: StatsSettings) -> None:
        self.cfg = cfg
        self.tz: ZoneInfo = cfg.tz
        self.cells: dict[CellKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.staffing: dict[tuple[str, dt.datetime], int] = defaultdict(int)
        self._hourly: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._daily: dict[tuple[Any, ...], int] = defaultdict(int)
        self._staffed: dict[dt.datetime, int] = defaultdict(int)
        self._starts: dict[int, tuple[dt.datetime, ...]] = {}

    def _period_starts(self, moment: dt.datetime) -> tuple[dt.datetime, ...]:
        # Every zone's offset is a multiple of 15 minutes, so periods never start inside one.
        quarter = int(moment.timestamp()) // 900
        starts = self._starts.get(quarter)
        if starts is None:
            first = dt.datetime.fromtimestamp(quarter * 900, dt.UTC)
            starts = tuple(start_of(first, grain, self.tz) for grain in GRAINS)
            if len(self._starts) < 500_000:
                self._starts[quarter] = starts
        return starts

    def _hours(self, start: dt.datetime, end: dt.datetime) -> Iterator[tuple[dt.datetime, int]]:
        """[start, end) cut at local hour starts: (each piece's hour, its milliseconds)."""
        hour = self._period_starts(start)[0]
        while hour < end:
            following = self._period_starts(hour + _HOUR)[0]
            if following <= hour:  # pragma: no cover - only zones with odd offsets
                following = start_of(hour + _HOUR, "hour", self.tz)
            part = ms_between(max(start, hour), min(end, following))
            if part:
                yield hour, part
            hour = following

    def add_leg(self, leg: Leg, details: Mapping[str, Any] | None, has_outcome: bool) -> None:
        counts = leg_counts(leg, self.cfg)
        if has_outcome:
            extra = record_totals(details)
            counts["records"] = counts.get("records", 0) + extra.records
            if extra.referrals_made:
                counts["referrals_made"] = counts.get("referrals_made", 0) + extra.referrals_made
        starts = self._period_starts(leg.enqueued_at)
        hourly = self._hourly
        if counts:
            cell = hourly[(starts[0], leg.channel, leg.language, leg.queue)]
            for name, value in counts.items():
                cell[name] += value
        span = busy_span(leg)
        if span is not None:
            for hour, part in self._hours(span[0], span[1]):
                hourly[(hour, leg.channel, leg.language, leg.queue)]["busy_ms"] += part
        if has_outcome:
            daily = self._daily
            day = starts[1]
            for dimension, codes in dimension_values(details).items():
                for code in codes:
                    daily[(day, leg.channel, leg.language, dimension, code)] += 1

    def add_staffed(self, start: dt.datetime, end: dt.datetime) -> None:
        for hour, part in self._hours(start, end):
            self._staffed[hour] += part

    def finish(self) -> Accumulator:
        """Roll the hours and days added so far up into the cells of every grain."""
        cells = self.cells
        for (hour, channel, language, queue), counts in self._hourly.items():
            for grain, start in zip(GRAINS, self._period_starts(hour), strict=True):
                cell = cells[(grain, start, channel, language, queue, ALL, "")]
                for name, value in counts.items():
                    cell[name] += value
        for (day, channel, language, dimension, code), n in self._daily.items():
            for grain, start in zip(GRAINS, self._period_starts(day), strict=True):
                if grain in DIMENSION_GRAINS:
                    cells[(grain, start, channel, language, ANY_QUEUE, dimension, code)][
                        "records"
                    ] += n
        for hour, ms in self._staffed.items():
            for grain, start in zip(GRAINS, self._period_starts(hour), strict=True):
                self.staffing[(grain, start)] += ms
        self._hourly.clear()
        self._daily.clear()
        self._staffed.clear()
        return self

    def rollup_rows(self) -> list[dict[str, Any]]:
        rows = []
        for key in sorted(self.cells, key=_sort_key):
            counts = self.cells[key]
            row: dict[str, Any] = dict(zip(ROLLUP_KEY, key, strict=True))
            for name in CONTACT_COUNTERS:
                row[name] = counts.get(name, 0)
            rows.append(row)
        return rows

    def staffing_rows(self) -> list[dict[str, Any]]:
        return [
            {"grain": grain, "period_start": start, "staffed_ms": ms}
            for (grain, start), ms in sorted(self.staffing.items())
            if ms
        ]

    def clear(self) -> None:
        self.cells.clear()
        self.staffing.clear()


def _sort_key(key: CellKey) -> tuple[Any, ...]:
    # A fixed order of row locks, so concurrent closing transactions cannot deadlock.
    return key


def _insert_for(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _upsert(
    session: Session, table: Table, keys: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    insert = _insert_for(session)
    stmt = insert(table)
    counters = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + stmt.excluded[name] for name in counters},
    )
    session.execute(stmt, rows)


def write(session: Session, acc: Accumulator) -> None:
    """Add the accumulated cells to the tables (in key order)."""
    acc.finish()
    _upsert(session, ROLLUPS, ROLLUP_KEY, acc.rollup_rows())
    _upsert(session, STAFFING, STAFFING_KEY, acc.staffing_rows())


# ------------------------------------------------------------------ incremental updates

_FINAL_KEY = "stats.final"
_PRESENCE_KEY = "stats.presence"


def _on_final(session: Session, contact: Contact) -> None:
    session.info.setdefault(_FINAL_KEY, []).append(contact.id)


hooks.on("final", _on_final)


@sa_event.listens_for(Session, "after_flush")
def _collect_presence(session: Session, _flush_context: Any) -> None:
    changes = [obj for obj in session.new if isinstance(obj, PresenceChange)]
    if changes:
        session.info.setdefault(_PRESENCE_KEY, []).extend(changes)


@sa_event.listens_for(Session, "before_commit")
def _apply_pending(session: Session) -> None:
    session.flush()  # presence changes still pending are collected as they flush
    if _FINAL_KEY not in session.info and _PRESENCE_KEY not in session.info:
        return
    final: list[int] = session.info.pop(_FINAL_KEY, [])
    changes: list[PresenceChange] = session.info.pop(_PRESENCE_KEY, [])
    apply(session, final, changes, current())


@sa_event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_FINAL_KEY, None)
    session.info.pop(_PRESENCE_KEY, None)


def _before(change: PresenceChange) -> Any:
    """Rows of the same operator's log that come before `change`, ordered by (at, id)."""
    return and_(
        PresenceChange.operator_id == change.operator_id,
        or_(
            PresenceChange.at < change.at,
            and_(PresenceChange.at == change.at, PresenceChange.id < change.id),
        ),
    )


def stint_ending_at(session: Session, change: PresenceChange) -> dt.datetime | None:
    """When the staffed stint that `change` ends began, if it ends one.

    Staffed time is counted per stint (from coming on to going on a break or offline), so the
    many moves between available, busy and wrap-up cost nothing; only leaving does, once.
    """
    if change.presence in STAFFED:
        return None
    previous = session.scalar(
        select(PresenceChange.presence)
        .where(_before(change))
        .order_by(PresenceChange.at.desc(), PresenceChange.id.desc())
        .limit(1)
    )
    if previous not in STAFFED:
        return None
    last_off = session.execute(
        select(PresenceChange.at, PresenceChange.id)
        .where(_before(change), PresenceChange.presence.not_in(list(STAFFED)))
        .order_by(PresenceChange.at.desc(), PresenceChange.id.desc())
        .limit(1)
    ).first()
    first_on = select(PresenceChange.at).where(_before(change))
    if last_off is not None:
        first_on = first_on.where(
            or_(
                PresenceChange.at > last_off.at,
                and_(PresenceChange.at == last_off.at, PresenceChange.id > last_off.id),
            )
        )
    return session.scalar(first_on.order_by(PresenceChange.at, PresenceChange.id).limit(1))


def apply(
    session: Session,
    final_ids: Iterable[int],
    changes: Iterable[PresenceChange],
    cfg: StatsSettings,
) -> None:
    """Count contacts that became final and staffed stints that ended, in this transaction."""
    from console.domain import wellbeing

    acc = Accumulator(cfg)
    legs: list[tuple[Leg, dict[str, Any] | None]] = []
    for contact_id in dict.fromkeys(final_ids):
        contact = session.get(Contact, contact_id)
        if contact is None or contact.state not in FINAL:
            continue
        outcome = session.scalar(select(Outcome).where(Outcome.contact_id == contact_id))
        leg = Leg.of(contact)
        details = outcome.details if outcome is not None else None
        acc.add_leg(leg, details, outcome is not None)
        legs.append((leg, details))
    ordered = sorted(changes, key=lambda c: (c.operator_id, c.at, c.id))
    for change in ordered:
        began = stint_ending_at(session, change)
        if began is not None:
            acc.add_staffed(began, change.at)
    write(session, acc)
    wellbeing.apply(session, legs, ordered, cfg)


# ------------------------------------------------------------------ rebuild


@dataclass(frozen=True)
class RebuildResult:
    contacts: int
    presence_changes: int
    rollup_rows: int
    staffing_rows: int


def _utc(value: Any) -> dt.datetime | None:
    """A stored timestamp as aware UTC, from the driver's text (SQLite) or naive datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]


def iter_final_legs(
    session: Session, *, batch: int = 50_000
) -> Iterator[tuple[Leg, dict[str, Any] | None, bool]]:
    """Every final contact with its outcome's details, in id order, a batch at a time.

    Timestamps and details come through untyped and are converted here: at a million rows the
    ORM's per-value processing is most of the rebuild's time.
    """
    last = 0
    stamps = (
        Contact.enqueued_at,
        Contact.accepted_at,
        Contact.wrap_up_at,
        Contact.closed_at,
        Contact.abandoned_at,
        Contact.transferred_at,
    )
    connection = session.connection()
    while True:
        rows = connection.execute(
            select(
                Contact.id,
                Contact.parent_id,
                Contact.channel,
                Contact.language,
                Contact.topic,
                Contact.source,
                Contact.state,
                *(type_coerce(column, String) for column in stamps),
                Contact.operator_id,
                Contact.urgent,
                Outcome.id,
                type_coerce(Outcome.details, String),
            )
            .outerjoin(Outcome, Outcome.contact_id == Contact.id)
            .where(Contact.id > last, Contact.state.in_(list(FINAL)))
            .order_by(Contact.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            enqueued = _utc(row[7])
            assert enqueued is not None
            leg = Leg(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5] or "self",
                row[6],
                enqueued,
                _utc(row[8]),
                _utc(row[9]),
                _utc(row[10]),
                _utc(row[11]),
                _utc(row[12]),
                row[13],
                bool(row[14]),
            )
            details = row[16]
            if isinstance(details, str):
                details = json.loads(details)
            yield leg, details, row[15] is not None
        last = rows[-1][0]


def iter_staffed_spans(session: Session) -> Iterator[tuple[int, dt.datetime, dt.datetime]]:
    """Each ended staffed stint (from coming on to a break or going offline), from the presence
    log ordered by (at, id). A stint still going on is counted when it ends."""
    rows = session.connection().execute(
        select(
            PresenceChange.operator_id,
            PresenceChange.presence,
            type_coerce(PresenceChange.at, String),
        ).order_by(PresenceChange.operator_id, PresenceChange.at, PresenceChange.id)
    )
    operator: int | None = None
    began: dt.datetime | None = None
    for operator_id, presence, stamp in rows:
        at = _utc(stamp)
        assert at is not None
        if operator_id != operator:
            operator, began = operator_id, None
        if presence in STAFFED:
            if began is None:
                began = at
        elif began is not None:
            yield operator_id, began, at
            began = None


def rebuild(
    session: Session, cfg: StatsSettings, *, now: dt.datetime | None = None
) -> RebuildResult:
    """Recompute both tables from the raw records (and each operator's current-shift figures)."""
    from console.domain import wellbeing

    session.execute(delete(Rollup))
    session.execute(delete(Staffing))
    acc = Accumulator(cfg)
    contacts = 0
    for leg, details, has_outcome in iter_final_legs(session):
        acc.add_leg(leg, details, has_outcome)
        contacts += 1
    spans = 0
    for _operator_id, start, end in iter_staffed_spans(session):
        acc.add_staffed(start, end)
        spans += 1
    acc.finish()
    sqlite = session.get_bind().dialect.name == "sqlite"
    stored: dict[dt.datetime, Any] = {}

    def as_stored(moment: dt.datetime) -> Any:
        value = stored.get(moment)
        if value is None:
            value = stored[moment] = _stored(moment, sqlite)
        return value

    rollup_rows = sorted(
        (grain, as_stored(start), *rest, *(counts.get(name, 0) for name in CONTACT_COUNTERS))
        for (grain, start, *rest), counts in acc.cells.items()
    )
    staffing_rows = sorted(
        (grain, as_stored(start), ms) for (grain, start), ms in acc.staffing.items()
    )
    acc.clear()
    _bulk_insert(session, ROLLUPS, (*ROLLUP_KEY, *CONTACT_COUNTERS), rollup_rows)
    _bulk_insert(session, STAFFING, (*STAFFING_KEY, "staffed_ms"), staffing_rows)
    wellbeing.rebuild(session, cfg, now or utcnow())
    log.info(
        "statistics rebuilt: %d contacts, %d staffed spans, %d rollup rows",
        contacts,
        spans,
        len(rollup_rows),
    )
    return RebuildResult(contacts, spans, len(rollup_rows), len(staffing_rows))


def _stored(moment: dt.datetime, sqlite: bool) -> Any:
    """A timestamp as the UTC column type stores it: naive UTC, as text on SQLite."""
    naive = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return naive.isoformat(sep=" ", timespec="microseconds") if sqlite else naive


def _bulk_insert(
    session: Session, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many rows (values already as stored) through the driver, in this transaction.

    A rebuild writes a row per cell (over a million for two busy years); SQLAlchemy's per-value
    processing would take most of its time. Rows come sorted by key, so the indexes fill in order.
    """
    if not rows:
        return
    sqlite = session.get_bind().dialect.name == "sqlite"
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    names = ", ".join(columns)
    marks = ", ".join(["?" if sqlite else "%s"] * len(columns))
    statement = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608 - our own names
    cursor = dbapi.cursor()
    try:
        for i in range(0, len(rows), 10_000):
            cursor.executemany(statement, rows[i : i + 10_000])
    finally:
        cursor.close()
