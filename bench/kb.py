"""Knowledge-base search benchmark: 50,000 services and 5,000 articles, searched as operators do.

    .venv/bin/python -m bench.kb                       # SQLite (a temporary file)
    .venv/bin/python -m bench.kb --database-url postgresql://postgres@127.0.0.1:5432/test

The data set is generated into a fresh database (on PostgreSQL a scratch database created beside the
one named, dropped afterwards) and indexed with `knowledge.indexing`, as an import would.
`knowledge.search.search` is timed over a set of operator queries (typed prefixes, unaccented
spellings, two languages), once without filters and once with language, region, age and open-now
filters. Baseline, same data and same run: the raw full-text query through the DB-API driver (no
ORM, no filters, no result cards): FTS5 MATCH … ORDER BY rank on SQLite, `@@` … ORDER BY ts_rank
on PostgreSQL, for the same query words.

Progress goes to stderr; the figures end stdout as JSON lines. Targets: search p95 under 20 ms and
within 2x of the raw query.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bench import temporary_database
from console.db import Database
from console.migrate import upgrade
from knowledge import indexing, query
from knowledge.articles import render
from knowledge.models import (
    Article,
    Language,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceArea,
)
from knowledge.search import search

SEED = 20261122
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)  # a Tuesday, office hours in Brussels
LIMIT = 20

TOPICS_EN = [
    "victim support",
    "domestic violence",
    "sexual assault",
    "legal advice",
    "compensation",
    "court accompaniment",
    "protection order",
    "trauma counselling",
    "shelter",
    "stalking",
    "terrorism victims",
    "cross-border victims",
    "child abuse",
    "elder abuse",
    "human trafficking",
    "femicide prevention",
    "hate crime",
    "cybercrime",
    "burglary",
    "road traffic victims",
]
TOPICS_NL = [
    "slachtofferhulp",
    "huiselijk geweld",
    "seksueel geweld",
    "juridisch advies",
    "schadevergoeding",
    "begeleiding rechtbank",
    "beschermingsbevel",
    "traumabegeleiding",
    "noodopvang",
    "stalking",
    "slachtoffers terrorisme",
    "grensoverschrijdend",
    "kindermishandeling",
    "ouderenmishandeling",
    "mensenhandel",
    "femicide",
    "haatmisdrijf",
    "cybercriminaliteit",
    "inbraak",
    "verkeersslachtoffers",
]
KINDS = ["line", "desk", "centre", "service", "team", "point", "clinic", "network", "advice"]
TOWNS = [
    f"{a}{b}"
    for a in ("Riv", "Oost", "Kalk", "Zand", "Berg", "Mol", "Hoog", "Laag")
    for b in ("erton", "mere", "haven", "dam", "veld", "zele", "brug", "berge")
]
# Words of the domain, sprinkled through the text, and a long tail of other words: real directory
# text has a large vocabulary, so a query word matches a share of the documents, not all of them.
DOMAIN = [
    "help",
    "support",
    "advice",
    "information",
    "family",
    "children",
    "women",
    "victims",
    "crime",
    "police",
    "court",
    "lawyer",
    "rights",
    "safety",
    "emergency",
    "housing",
    "money",
    "insurance",
    "health",
    "doctor",
    "psychologist",
    "hulp",
    "steun",
    "advies",
    "informatie",
    "gezin",
    "kinderen",
    "vrouwen",
    "slachtoffers",
    "misdrijf",
    "politie",
    "rechtbank",
    "advocaat",
    "rechten",
    "veiligheid",
    "noodgeval",
    "huisvesting",
    "verzekering",
    "gezondheid",
    "aide",
    "soutien",
    "conseil",
    "droits",
    "sécurité",
    "urgence",
    "logement",
    "santé",
    "médecin",
    "victimes",
    "écoute",
    "réfugiés",
    "fémicide",
    "féminicide",
    "procès",
    "plainte",
    "indemnisation",
]
SYLLABLES = [a + b for a in "bdfgklmnprstvz" for b in ("a", "e", "i", "o", "u", "aa", "ee", "oe")]


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


LANGS = ["nl", "en", "fr", "de", "ar", "tr", "pl"]

# (typed query, filters) — the same words go to the raw baseline.
QUERIES = [
    "victim support",
    "slachtofferhulp",
    "protec",
    "beschermingsb",
    "femicide",
    "fémicide",
    "shelter",
    "noodopvang",
    "trauma",
    "schadeverg",
    "court",
    "rechtbank",
    "stalking",
    "terror",
    "legal advice",
    "juridisch",
    "child abuse",
    "kinderm",
    "human traff",
    "hulp",
]
FILTERS: list[dict[str, Any]] = [
    {"lang": "nl"},
    {"lang": "en", "region": "Scheldt Valley"},
    {"region": "Riverton"},
    {"age": 15},
    {"open_now": True},
    {"lang": "fr", "open_now": True},
]


def log(message: str) -> None:
    print(f"[bench.kb] {message}", file=sys.stderr, flush=True)


def uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_WORDS: list[str] = []
# Zipf-like: word k is drawn with weight 1/k, as in natural text (cumulative weights).
_WEIGHTS: list[float] = []


def sentence(rng: random.Random, words: int) -> str:
    if not _WORDS:
        _WORDS.extend(vocabulary(random.Random(SEED)))
        _WEIGHTS.extend(itertools.accumulate(1 / (k + 1) for k in range(len(_WORDS))))
    picked = rng.choices(_WORDS, cum_weights=_WEIGHTS, k=words)
    for _ in range(max(1, words // 15)):
        picked[rng.randrange(words)] = rng.choice(DOMAIN)
    return " ".join(picked).capitalize() + "."


# ---------------------------------------------------------------- database


def generate(database: Database, services: int, articles: int) -> None:
    rng = random.Random(SEED)
    started = time.perf_counter()
    with database.transaction() as session:
        orgs = [
            {
                "id": uid(rng),
                "name": f"{rng.choice(TOWNS)} {rng.choice(TOPICS_EN).title()} Foundation",
                "description": sentence(rng, 12),
            }
            for _ in range(max(1, services // 50))
        ]
        session.execute(insert(Organization), orgs)
        rows: dict[str, list[dict[str, Any]]] = {
            "service": [],
            "phone": [],
            "schedule": [],
            "language": [],
            "area": [],
        }
        for index in range(services):
            service_id = uid(rng)
            topic = rng.randrange(len(TOPICS_EN))
            dutch = rng.random() < 0.5
            name = TOPICS_NL[topic] if dutch else TOPICS_EN[topic]
            rows["service"].append(
                {
                    "id": service_id,
                    "organization_id": orgs[index % len(orgs)]["id"],
                    "name": f"{rng.choice(TOWNS)} {name} {rng.choice(KINDS)}",
                    "alternate_name": (TOPICS_EN if dutch else TOPICS_NL)[topic],
                    "description": f"{name.capitalize()}. " + sentence(rng, rng.randint(25, 60)),
                    "eligibility_description": sentence(rng, 10),
                    "application_process": sentence(rng, 12),
                    "status": "active",
                    "minimum_age": rng.choice([None, None, 12, 16, 18]),
                    "maximum_age": rng.choice([None, None, None, 18, 25]),
                    "assured_date": dt.date(2026, 1, 1) - dt.timedelta(days=rng.randint(0, 900)),
                }
            )
            rows["phone"].append(
                {
                    "id": uid(rng),
                    "service_id": service_id,
                    "type": "voice",
                    "number": f"+32 000 {index // 1000:02d} {index % 1000:03d}",
                }
            )
            always = rng.random() < 0.15
            rows["schedule"].append(
                {
                    "id": uid(rng),
                    "service_id": service_id,
                    "freq": "WEEKLY",
                    "byday": "MO,TU,WE,TH,FR,SA,SU"
                    if always
                    else rng.choice(["MO,TU,WE,TH,FR", "MO,WE,FR", "TU,TH", "SA"]),
                    "opens_at": "00:00"
                    if always
                    else rng.choice(["08:30", "09:00", "13:00", "18:00"]),
                    "closes_at": "23:59" if always else rng.choice(["12:00", "17:00", "22:00"]),
                    "timezone": 1,
                }
            )
            for code in rng.sample(LANGS, rng.randint(1, 3)):
                rows["language"].append(
                    {"id": uid(rng), "service_id": service_id, "code": code, "name": code}
                )
            rows["area"].append(
                {
                    "id": uid(rng),
                    "service_id": service_id,
                    "name": rng.choice(["Scheldt Valley", *TOWNS[:8]]),
                }
            )
        for model, key in (
            (Service, "service"),
            (Phone, "phone"),
            (Schedule, "schedule"),
            (Language, "language"),
            (ServiceArea, "area"),
        ):
            for start in range(0, len(rows[key]), 5000):
                session.execute(insert(model), rows[key][start : start + 5000])
        log(f"{services} services written in {time.perf_counter() - started:.1f}s")

        article_rows = []
        for index in range(articles):
            lang = rng.choice(["en", "nl", "fr"])
            topic = rng.randrange(len(TOPICS_EN))
            title = (TOPICS_NL if lang == "nl" else TOPICS_EN)[topic].capitalize()
            body = "\n\n".join(sentence(rng, rng.randint(20, 50)) for _ in range(4))
            article_rows.append(
                {
                    "id": f"article-{index:05d}-{lang}",
                    "language": lang,
                    "translation_key": f"article-{index // 3:05d}",
                    "title": f"{title}: {rng.choice(DOMAIN)} {rng.choice(DOMAIN)}",
                    "body_markdown": body,
                    "body_html": render(body),
                    "categories": [TOPICS_EN[topic]],
                }
            )
        session.execute(insert(Article), article_rows)
        log(f"{articles} articles written")
        started = time.perf_counter()
        indexed_articles, indexed_services = indexing.rebuild(session)
        log(
            f"indexed {indexed_articles} articles and {indexed_services} services "
            f"in {time.perf_counter() - started:.1f}s"
        )
    # Planner statistics and, on PostgreSQL, the visibility map, as a directory in use has them
    # (autovacuum gathers both soon after an import; the index-only scans rely on the map).
    if database.is_sqlite:
        with database.write_engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    else:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


# ---------------------------------------------------------------- timing


def timed(action: Callable[[], Any], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def raw_runner(database: Database) -> tuple[Callable[[str], Any], Callable[[], None]]:
    """The bare full-text query on a DB-API connection of its own."""
    raw = database.engine.raw_connection()
    cursor = raw.cursor()
    if database.is_sqlite:
        sql = "SELECT rowid, rank FROM kb_fts WHERE kb_fts MATCH ? ORDER BY rank LIMIT 20"

        def run(typed: str) -> Any:
            cursor.execute(sql, (query.fts5(query.parse(typed)),))
            return cursor.fetchall()
    else:
        # The same full-text SQL as knowledge.search (CTE included, so both use the GIN index),
        # without the entries join, filters or cards.
        sql = (
            "WITH q AS MATERIALIZED (SELECT to_tsquery('simple', %s) AS query) "
            "SELECT entry_id, ts_rank(document, q.query, 1) AS r FROM q JOIN kb_fts "
            "ON document @@ q.query ORDER BY r DESC LIMIT 20"
        )

        def run(typed: str) -> Any:
            cursor.execute(sql, (query.tsquery(query.parse(typed))[0],))
            return cursor.fetchall()

    return run, raw.close


def measure(database: Database, rounds: int) -> list[dict[str, Any]]:
    raw, close = raw_runner(database)
    session = database.read()
    zone = "Europe/Brussels"
    for typed in QUERIES:  # warm caches and statement caches alike
        raw(typed)
        search(session, typed, now=NOW, zone=zone, limit=LIMIT)

    plain: list[float] = []
    filtered: list[float] = []
    baseline: list[float] = []
    counts = []
    # Interleaved per query, so drift in the machine's load hits every series alike.
    for typed in QUERIES:
        baseline += timed(lambda typed=typed: raw(typed), rounds)
        plain += timed(
            lambda typed=typed: counts.append(
                len(search(session, typed, now=NOW, zone=zone, limit=LIMIT))
            ),
            rounds,
        )
        for filters in FILTERS:
            filtered += timed(
                lambda typed=typed, filters=filters: search(
                    session, typed, now=NOW, zone=zone, limit=LIMIT, **filters
                ),
                rounds,
            )
    session.close()
    close()
    every = plain + filtered
    log(
        f"{len(every)} searches, {len(baseline)} raw queries; mean {statistics.mean(counts):.1f} "
        "results per unfiltered search"
    )
    p95 = percentile(every, 0.95)
    raw_p95 = percentile(baseline, 0.95)
    return [
        {
            "name": "kb_search_p50_ms",
            "value": round(percentile(every, 0.5), 2),
            "unit": "ms",
            "baseline": round(percentile(baseline, 0.5), 2),
        },
        {
            "name": "kb_search_p95_ms",
            "value": round(p95, 2),
            "unit": "ms",
            "baseline": round(raw_p95, 2),
            "target": 20,
        },
        {
            "name": "kb_search_unfiltered_p95_ms",
            "value": round(percentile(plain, 0.95), 2),
            "unit": "ms",
            "baseline": round(raw_p95, 2),
            "target": 20,
        },
        {
            "name": "kb_search_filtered_p95_ms",
            "value": round(percentile(filtered, 0.95), 2),
            "unit": "ms",
            "baseline": round(raw_p95, 2),
            "target": 20,
        },
        {
            "name": "kb_vs_raw_ratio",
            "value": round(p95 / raw_p95, 2),
            "unit": "x",
            "baseline": 1.0,
            "target": 2,
        },
        {
            "name": "kb_unfiltered_vs_raw_ratio",
            "value": round(percentile(plain, 0.95) / raw_p95, 2),
            "unit": "x",
            "baseline": 1.0,
            "target": 2,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--services", type=int, default=50_000)
    parser.add_argument("--articles", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=10, help="repetitions of each query")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL scratch database")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="kb-bench-") as directory,
        temporary_database(args.database_url, Path(directory), "kb", keep=args.keep) as url,
    ):
        database = Database(url)
        try:
            upgrade(database)
            generate(database, args.services, args.articles)
            engine = "sqlite" if database.is_sqlite else "postgresql"
            log(f"measuring on {engine}")
            figures = measure(database, args.rounds)
        finally:
            database.dispose()
    for figure in figures:
        print(json.dumps({**figure, "engine": engine}), flush=True)


if __name__ == "__main__":
    main()
