"""Statistics benchmark: the wallboard and a one-year report over two years of history.

    .venv/bin/python -m bench.stats                       # SQLite (a temporary file)
    .venv/bin/python -m bench.stats --database-url postgresql://postgres@127.0.0.1:5432/test

Seeds 1,000,000 historical contacts over the two years up to now (calls, chats and callbacks in
four languages and six queues; answered, abandoned, transferred; an outcome with victimisation,
needs, referrals and triage track for each answered one) and 300 operators with their shifts and
breaks, by bulk inserts. Then `helpline stats rebuild` builds the rollups from those raw rows, and a
live shift is set up through the queue API: 60 operators on shift, some contacts waiting, some on
the line.

What is measured (each the 95th percentile of repeated runs, in milliseconds):

- wallboard_ms: `wallboard.snapshot`, everything the shift lead's board shows, from the queue's
  state and today's rollups. Baseline, same run: today's service figures alone computed from the raw
  rows (`contacts` scanned for today's arrivals, as a query without rollups must).
- report_year_ms: `reports.build` for the last twelve months by month and victimisation, from the
  rollups. Baseline, same run: the same report computed naively from the raw rows (contacts joined
  with outcomes, details read and grouped in Python); the two must agree exactly.

Progress goes to stderr; the figures end stdout as JSON lines. Targets: wallboard under 50 ms,
one-year report under 200 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text

from console.db import Database, utcnow
from console.domain import operators, queue, reports, rollups, wallboard
from console.domain.contacts import Contact
from console.domain.operators import Operator
from console.domain.outcomes import Outcome
from console.domain.periods import local_midnight
from console.domain.stats_settings import StatsSettings, install, load_stats_settings_from
from console.migrate import upgrade
from console.settings import DEFAULT_CONFIG_DIR, QueueSettings

WALLBOARD_TARGET_MS = 50.0
REPORT_TARGET_MS = 200.0
LANGUAGES = (("nl", 50), ("fr", 30), ("en", 15), ("ar", 5))
TOPICS = (
    None,
    "general",
    "domestic_violence",
    "sexual_violence",
    "crime_procedure",
    "cross_border",
)
CHANNELS = (("voice", 60), ("chat", 30), ("callback", 10))
VICTIMISATION = (
    "domestic_violence_partner",
    "domestic_violence_family",
    "sexual_violence",
    "child_abuse",
    "assault",
    "threats",
    "harassment_stalking",
    "hate_crime",
    "trafficking",
    "robbery",
    "burglary_theft",
    "fraud_cybercrime",
    "terrorism",
    "road_traffic",
    "homicide_bereaved",
    "other",
)
NEEDS = (
    "information_rights_procedure",
    "emotional_support",
    "practical_help",
    "legal",
    "safety_protection",
    "housing_shelter",
    "medical",
    "financial_compensation",
    "interpretation",
)
TRACKS = (None, "less_serious", "serious", "very_serious")
# Arrivals by local hour of day: a helpline is busiest from late morning to evening.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 9, 9, 9, 9, 8, 8, 7, 6, 5, 4, 3, 2)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def timed(what: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    log(f"  {what}: {time.perf_counter() - started:.1f}s")


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(fn: Callable[[], Any], runs: int, *, warm: bool = True) -> list[float]:
    if warm:
        fn()  # warm the caches once, as a running server's are
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


class Seeder:
    """Generates the history and writes it with executemany, a batch at a time."""

    def __init__(self, database: Database, cfg: StatsSettings, args: argparse.Namespace) -> None:
        self.db = database
        self.cfg = cfg
        self.args = args
        self.rng = random.Random(args.seed)
        self.now = utcnow().replace(microsecond=0)
        self.start = self.now - dt.timedelta(days=365 * args.years)
        self.sqlite = database.is_sqlite

    # -- values as the driver wants them: SQLite stores naive UTC text, PostgreSQL naive UTC.
    def ts(self, moment: dt.datetime | None) -> Any:
        if moment is None:
            return None
        naive = moment.replace(tzinfo=None)
        return naive.isoformat(sep=" ", timespec="microseconds") if self.sqlite else naive

    def json(self, value: Any) -> Any:
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)

    def write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        raw = self.db.write_engine.raw_connection()
        try:
            cursor = raw.cursor()
            if self.sqlite:
                cursor.execute("BEGIN")
            cursor.executemany(sql, rows)
            raw.commit()
        finally:
            raw.close()

    def operators(self) -> list[int]:
        rows = []
        for i in range(self.args.operators):
            langs = (
                ["nl", "fr", "en"]
                if i % 3 == 0
                else ["nl", "en"]
                if i % 3 == 1
                else ["fr", "ar", "en"]
            )
            rows.append(
                {
                    "username": f"bench{i:03d}",
                    "display_name": f"Operator {i:03d}",
                    "password_hash": "not-a-hash",
                    "role": "shift_lead" if i < 10 else "operator",
                    "languages": langs,
                    "skills": [],
                    "max_chats": 3,
                    "presence": "offline",
                    "presence_since": self.start,
                    "failed_logins": 0,
                    "active": True,
                    "created_at": self.start,
                }
            )
        with self.db.transaction() as s:
            s.execute(insert(Operator), rows)
            return list(s.scalars(select(Operator.id).order_by(Operator.id)))

    def shifts(self, operator_ids: list[int]) -> None:
        """Two shifts a day of ~25 operators each, with a break: presence changes as recorded."""
        placeholder = "?" if self.sqlite else "%s"
        sql = (
            "INSERT INTO presence_changes (operator_id, presence, at) "  # noqa: S608 - fixed names
            f"VALUES ({placeholder}, {placeholder}, {placeholder})"
        )
        rows = []
        day = self.start.replace(hour=6, minute=0, second=0)
        while day + dt.timedelta(hours=24) < self.now - dt.timedelta(hours=12):
            for shift_start in (day, day + dt.timedelta(hours=8)):
                for op in self.rng.sample(operator_ids, 25):
                    begin = shift_start + dt.timedelta(minutes=self.rng.randint(0, 30))
                    pause = begin + dt.timedelta(minutes=self.rng.randint(120, 300))
                    back = pause + dt.timedelta(minutes=self.rng.randint(10, 30))
                    leave = shift_start + dt.timedelta(hours=8, minutes=self.rng.randint(0, 30))
                    for presence, at in (
                        ("available", begin),
                        ("break", pause),
                        ("available", back),
                        ("offline", leave),
                    ):
                        rows.append((op, presence, self.ts(at)))
            day += dt.timedelta(days=1)
        self.write(sql, rows)
        log(f"  {len(rows):,} presence changes")

    def contacts(self, operator_ids: list[int]) -> int:
        """The history: contacts, their arrival transitions and outcomes, in batches."""
        n = self.args.contacts
        span = (self.now - dt.timedelta(minutes=5) - self.start).total_seconds()
        hours = [h for h, w in enumerate(HOUR_WEIGHTS) for _ in range(w)]
        langs = [c for c, w in LANGUAGES for _ in range(w)]
        channels = [c for c, w in CHANNELS for _ in range(w)]
        ph = "?" if self.sqlite else "%s"
        contact_cols = (
            "id, ref, channel, language, topic, source, priority, state, urgent, operator_id, "
            "parent_id, created_at, enqueued_at, offered_at, accepted_at, wrap_up_at, closed_at, "
            "abandoned_at, transferred_at, version"
        )
        marks = ", ".join([ph] * 20)
        contact_sql = f"INSERT INTO contacts ({contact_cols}) VALUES ({marks})"  # noqa: S608
        transition_sql = (
            "INSERT INTO contact_transitions (contact_id, from_state, to_state, at, operator_id, "  # noqa: S608
            f"reason) VALUES ({ph}, NULL, 'waiting', {ph}, NULL, NULL)"
        )
        outcome_sql = (
            "INSERT INTO outcomes (contact_id, operator_id, code, taxonomy_version, details, note, "  # noqa: S608
            "recorded_at, language, channel) "
            f"VALUES ({ph}, {ph}, {ph}, 1, {ph}, NULL, {ph}, {ph}, {ph})"
        )
        next_id = 1
        written = 0
        batch: list[tuple[Any, ...]] = []
        transitions: list[tuple[Any, ...]] = []
        outcomes: list[tuple[Any, ...]] = []
        rng = self.rng

        def flush() -> None:
            self.write(contact_sql, batch)
            self.write(transition_sql, transitions)
            self.write(outcome_sql, outcomes)
            batch.clear()
            transitions.clear()
            outcomes.clear()

        days = int(span // 86400) + 1
        first_day = self.start.astimezone(self.cfg.tz).date()
        midnights = [
            local_midnight(first_day + dt.timedelta(days=d), self.cfg.tz) for d in range(days)
        ]
        latest = self.now - dt.timedelta(minutes=5)
        while written < n:
            # A day at random, an hour by weight, a moment in it.
            seconds = rng.choice(hours) * 3600 + rng.randrange(3600)
            arrive = midnights[rng.randrange(days)] + dt.timedelta(seconds=seconds)
            if arrive >= latest or arrive < self.start:
                continue
            channel = rng.choice(channels)
            language = rng.choice(langs)
            topic = rng.choice(TOPICS)
            source = rng.choice(("police", "partner", "self")) if channel == "callback" else "self"
            op = rng.choice(operator_ids)
            fate = rng.random()
            wait = rng.expovariate(
                1 / (25 if channel == "voice" else 60 if channel == "chat" else 1800)
            )
            accepted = arrive + dt.timedelta(seconds=wait)
            cid = next_id
            next_id += 1
            row: dict[str, Any] = {
                "accepted": None,
                "wrap": None,
                "closed": None,
                "abandoned": None,
                "transferred": None,
                "state": "closed",
                "op": op,
            }
            if fate < 0.08:
                row.update(
                    state="abandoned",
                    abandoned=arrive + dt.timedelta(seconds=rng.uniform(1, 120)),
                    op=None,
                )
            elif fate < 0.11 and written + 2 <= n:
                talk = rng.uniform(30, 300)
                row.update(
                    state="transferred",
                    accepted=accepted,
                    transferred=accepted + dt.timedelta(seconds=talk),
                )
            else:
                talk = rng.uniform(60, 1500)
                ended = accepted + dt.timedelta(seconds=talk)
                row.update(
                    accepted=accepted,
                    wrap=ended,
                    closed=ended + dt.timedelta(seconds=rng.uniform(10, 240)),
                )
            legs = [(cid, None, row)]
            if row["state"] == "transferred":
                succ = next_id
                next_id += 1
                taken = row["transferred"] + dt.timedelta(seconds=rng.uniform(5, 90))
                ended = taken + dt.timedelta(seconds=rng.uniform(60, 900))
                legs.append(
                    (
                        succ,
                        cid,
                        {
                            "accepted": taken,
                            "wrap": ended,
                            "closed": ended + dt.timedelta(seconds=60),
                            "abandoned": None,
                            "transferred": None,
                            "state": "closed",
                            "op": rng.choice(operator_ids),
                        },
                    )
                )
            for leg_id, parent, r in legs:
                batch.append(
                    (
                        leg_id,
                        f"{leg_id:012X}",
                        channel,
                        language,
                        topic,
                        source,
                        150 if parent else 20,
                        r["state"],
                        False,
                        r["op"],
                        parent,
                        self.ts(arrive),
                        self.ts(arrive),
                        None,
                        self.ts(r["accepted"]),
                        self.ts(r["wrap"]),
                        self.ts(r["closed"]),
                        self.ts(r["abandoned"]),
                        self.ts(r["transferred"]),
                        3,
                    )
                )
                queued_at = arrive if parent is None else row["transferred"]
                transitions.append((leg_id, self.ts(queued_at)))
                if r["state"] == "closed" and r["accepted"] is not None:
                    details = {
                        "victimisation": rng.sample(VICTIMISATION, rng.choice((1, 1, 1, 2))),
                        "needs": rng.sample(NEEDS, rng.choice((1, 2, 2, 3))),
                        "referrals": [
                            {
                                "service_id": f"svc-{rng.randrange(40)}",
                                "name": "Service",
                                "referred_at": arrive.isoformat(),
                            }
                            for _ in range(rng.choice((0, 0, 1, 2)))
                        ],
                        "triage_track": rng.choice(TRACKS),
                    }
                    outcomes.append(
                        (
                            leg_id,
                            r["op"],
                            "information_given",
                            self.json(details),
                            self.ts(r["closed"]),
                            language,
                            channel,
                        )
                    )
                written += 1
            if len(batch) >= 50_000:
                flush()
                log(f"  {written:,} contacts")
        flush()
        return written


def live_shift(
    database: Database, q: QueueSettings, operator_ids: list[int], rng: random.Random
) -> None:
    """Now: 60 operators on shift, 25 contacts waiting, 35 on the line — through the queue API."""
    now = utcnow()
    on_shift = operator_ids[10:70]
    with database.transaction() as s:
        for i, op_id in enumerate(on_shift):
            op = operators.get_operator(s, op_id)
            since = now - dt.timedelta(hours=3, minutes=i)
            operators.set_presence(s, op, "available", since)
            if i % 10 == 9:
                operators.set_presence(s, op, "break", now - dt.timedelta(minutes=i % 7))
    taking = [op for i, op in enumerate(on_shift) if i % 10 != 9]
    with database.transaction() as s:
        for i in range(35):
            c = queue.enqueue(
                s,
                channel="voice" if i % 3 else "chat",
                language="nl" if i % 2 else "fr",
                cfg=q,
                now=now - dt.timedelta(minutes=20 - i % 20),
            )
            queue.claim(s, c.id, taking[i], now=now - dt.timedelta(minutes=19 - i % 19))
        for i in range(25):
            queue.enqueue(
                s,
                channel=("voice", "chat", "callback")[i % 3],
                language=("nl", "fr", "en", "ar")[i % 4],
                topic=TOPICS[i % len(TOPICS)],
                urgent=i % 11 == 0,
                cfg=q,
                now=now - dt.timedelta(seconds=5 + 13 * i),
            )


def naive_today(session: Any, cfg: StatsSettings) -> dict[str, int]:
    """Today's service figures straight from the raw rows (what a query without rollups does)."""
    midnight = local_midnight(utcnow().astimezone(cfg.tz).date(), cfg.tz)
    totals: Counter[str] = Counter()
    rows = session.execute(
        select(
            Contact.channel, Contact.enqueued_at, Contact.accepted_at, Contact.abandoned_at
        ).where(Contact.enqueued_at >= midnight, Contact.parent_id.is_(None))
    )
    for channel, enqueued, accepted, abandoned in rows:
        totals["offered"] += 1
        if accepted is not None:
            totals["answered"] += 1
            totals["in_sl"] += (accepted - enqueued).total_seconds() <= cfg.answer_within[channel]
        elif abandoned is not None:
            short = (abandoned - enqueued).total_seconds() < cfg.short_abandon[channel]
            totals["short" if short else "abandoned"] += 1
    return dict(totals)


def naive_year(
    session: Any, cfg: StatsSettings, first: dt.date, last: dt.date
) -> dict[tuple[str, str], int]:
    """The one-year report by month and victimisation, from contacts joined with outcomes."""
    tz = cfg.tz
    begin = local_midnight(first, tz)
    end = local_midnight(last + dt.timedelta(days=1), tz)
    cells: dict[tuple[str, str], int] = defaultdict(int)
    rows = session.execute(
        select(Contact.enqueued_at, Outcome.details)
        .join(Outcome, Outcome.contact_id == Contact.id)
        .where(Contact.enqueued_at >= begin, Contact.enqueued_at < end)
    )
    for enqueued, details in rows:
        month = enqueued.astimezone(tz).strftime("%Y-%m")
        codes = sorted(set((details or {}).get("victimisation") or [])) or ["none"]
        for code in codes:
            cells[(month, code)] += 1
    return dict(cells)


def scratch_postgres(url: str) -> tuple[str, Callable[[], None]]:
    admin_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"helpline_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return admin_url.rsplit("/", 1)[0] + f"/{name}", drop


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if args.database_url and args.database_url.startswith("postgresql"):
        url, cleanup = scratch_postgres(args.database_url)
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='helpline-bench-')}/stats.sqlite3"
    try:
        database = Database(url)
        upgrade(database)
        cfg = install(load_stats_settings_from(DEFAULT_CONFIG_DIR, "Europe/Brussels"))
        seeder = Seeder(database, cfg, args)
        log(f"seeding {args.contacts:,} contacts, {args.years} years, {args.operators} operators")
        started = time.perf_counter()
        cpu_started = time.process_time()
        with timed("operators"):
            operator_ids = seeder.operators()
        with timed("shifts"):
            seeder.shifts(operator_ids)
        with timed("contacts, transitions and outcomes"):
            written = seeder.contacts(operator_ids)
        if not database.is_sqlite:
            with database.write_engine.begin() as conn:
                conn.execute(
                    text("SELECT setval('contacts_id_seq', (SELECT max(id) FROM contacts))")
                )
                conn.execute(text("ANALYZE"))
        seed_s = time.perf_counter() - started
        seed_cpu = time.process_time() - cpu_started
        log("rebuilding the rollups from the raw rows (helpline stats rebuild)")
        started = time.perf_counter()
        cpu_started = time.process_time()
        with database.transaction() as s:
            result = rollups.rebuild(s, cfg)
        rebuild_s = time.perf_counter() - started
        rebuild_cpu = time.process_time() - cpu_started
        log(f"  {result.rollup_rows:,} rollup rows in {rebuild_s:.1f}s")
        live_shift(database, QueueSettings(), operator_ids, seeder.rng)
        if not database.is_sqlite:
            with database.write_engine.begin() as conn:
                conn.execute(text("ANALYZE"))

        with database.transaction(write=False) as s:
            count = s.scalar(select(func.count()).select_from(Contact))
            log(f"{count:,} contacts in the database; measuring")
            board = measure(lambda: wallboard.snapshot(s, cfg), args.runs)
            board_naive = measure(lambda: naive_today(s, cfg), max(3, args.runs // 10))
            snap = wallboard.snapshot(s, cfg)
            assert snap["waiting"], "the live shift should have contacts waiting"

            today = utcnow().astimezone(cfg.tz).date()
            first = (today.replace(day=1) - dt.timedelta(days=334)).replace(day=1)
            last = today
            query = reports.ReportQuery(axis="month", start=first, end=last, by="victimisation")
            report = reports.build(s, cfg, query)
            naive = naive_year(s, cfg, first, last)
            fast = {
                (period, group): t.records
                for (period, group), t in report.cells.items()
                if t.records
            }
            assert fast == naive, "the rollups and the raw rows disagree"
            assert len(report.periods) == 12
            year = measure(lambda: reports.build(s, cfg, query), args.runs)
            # Already warm from the agreement check above; each run reads every row again.
            year_naive = measure(lambda: naive_year(s, cfg, first, last), 2, warm=False)
        log(
            f"wallboard p50 {statistics.median(board):.1f} ms, report p50 "
            f"{statistics.median(year):.1f} ms; naive: {statistics.median(board_naive):.0f} ms, "
            f"{statistics.median(year_naive):.0f} ms"
        )
        engine = "sqlite" if database.is_sqlite else "postgresql"
        database.dispose()
        return [
            {
                "name": "wallboard_ms",
                "value": round(p95(board), 1),
                "unit": "ms",
                "baseline": round(p95(board_naive), 1),
                "target": WALLBOARD_TARGET_MS,
                "stat": "p95",
                "engine": engine,
            },
            {
                "name": "report_year_ms",
                "value": round(p95(year), 1),
                "unit": "ms",
                "baseline": round(p95(year_naive), 1),
                "target": REPORT_TARGET_MS,
                "stat": "p95",
                "engine": engine,
            },
            {
                "name": "stats_seed_s",
                "value": round(seed_s, 1),
                "unit": "s",
                "cpu_s": round(seed_cpu, 1),
                "contacts": written,
            },
            {
                "name": "stats_rebuild_s",
                "value": round(rebuild_s, 1),
                "unit": "s",
                "cpu_s": round(rebuild_cpu, 1),
                "rollup_rows": result.rollup_rows,
            },
        ]
    finally:
        cleanup()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None, help="postgresql://… (default: SQLite)")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--operators", type=int, default=300)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    for line in run(parse_args(argv)):
        print(json.dumps(line))


if __name__ == "__main__":
    main()
