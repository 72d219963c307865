"""Ranked full-text search over articles and services together, one behaviour on both engines.

SQLite answers from the FTS5 table `kb_fts` (bm25, title > keywords > body); PostgreSQL from the
`kb_fts` tsvector table with its GIN index (ts_rank with the same weights), its query built with
`to_tsquery` for the prefix words and `websearch_to_tsquery` for phrases and exclusions. The text
the operator typed never reaches either query language unquoted (see knowledge.query).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text, text
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from knowledge import hours, languages
from knowledge.indexing import ANY, facet_token
from knowledge.query import ParsedQuery, fts5, parse, tsquery
from knowledge.text import fold, snippet

MAX_LIMIT = 100
# With open_now the filter runs in Python, so rows are fetched in pages until enough are open.
_OPEN_NOW_MAX_ROWS = 5000


@dataclass(frozen=True)
class SearchResult:
    """One hit. `score` orders results within one search; its scale differs between engines."""

    kind: str  # "article" | "service"
    id: str
    title: str
    score: float
    snippet: str
    language: str | None = None  # articles
    organization: str | None = None  # services, from here on
    phone: str | None = None
    hours: str | None = None
    open_now: bool | None = None
    languages: tuple[str, ...] = ()
    eligibility: str | None = None
    how_to_refer: str | None = None
    accepts_direct_referrals: bool | None = None


_COLUMNS: dict[str, TypeEngine[Any]] = {
    "id": Integer(),
    "kind": String(),
    "record_id": String(),
    "title": Text(),
    "body": Text(),
    "card": JSON(),
    "language": String(),
    "score": Float(),
}


def search(
    session: Session,
    query: str,
    *,
    lang: str | None = None,
    region: str | None = None,
    taxonomy_term: str | None = None,
    age: int | None = None,
    open_now: bool = False,
    now: dt.datetime | None = None,
    limit: int = 20,
    zone: str | None = None,
) -> list[SearchResult]:
    """Articles and services matching `query`, best first.

    `lang` keeps articles in that language and services that speak it; `region` keeps services
    whose service area or address names it; `taxonomy_term` (an id, code or article category) and
    `age` narrow further; `open_now` keeps articles and the services open at `now` (default: the
    current time), reading schedule offsets through `zone` (an IANA name) where it fits.
    Services that state no language or area pass those filters: unknown is not "no".
    """
    parsed = parse(query)
    if parsed.empty:
        return []
    limit = max(1, min(int(limit), MAX_LIMIT))
    filters: dict[str, Any] = {}
    if lang:
        code = languages.normalize(lang)
        if code is None:
            return []
        filters["lang"] = code
    if region and fold(region).strip():
        filters["region"] = fold(region).strip()
    if taxonomy_term and taxonomy_term.strip():
        filters["term"] = taxonomy_term.strip()
        filters["term_folded"] = fold(taxonomy_term).strip()
    if age is not None:
        filters["age"] = float(age)
    moment = now or dt.datetime.now(dt.UTC)

    results = _run(session, parsed, filters, limit, open_now, moment, zone, any_term=False)
    if not results and len(parsed.terms) + len(parsed.phrases) > 1:
        # Nothing has every word: fall back to any word, still ranked by how much matches.
        results = _run(session, parsed, filters, limit, open_now, moment, zone, any_term=True)
    return results


def _run(
    session: Session,
    parsed: ParsedQuery,
    filters: dict[str, Any],
    limit: int,
    open_now: bool,
    now: dt.datetime,
    zone: str | None,
    *,
    any_term: bool,
) -> list[SearchResult]:
    dialect = session.get_bind().dialect.name
    statement, params = _statement(dialect, parsed, filters, any_term=any_term)
    page = max(limit * 3, 60) if open_now else limit
    results: list[SearchResult] = []
    offset = 0
    while len(results) < limit and offset < _OPEN_NOW_MAX_ROWS:
        rows = session.execute(statement, {**params, "limit": page, "offset": offset}).all()
        for row in rows:
            state = _open_state(row, now, zone)
            if open_now and row.kind == "service" and state is not True:
                continue
            results.append(_result(row, parsed, state))
            if len(results) == limit:
                break
        if len(rows) < page:
            break
        offset += page
    return results


def _open_state(row: Any, now: dt.datetime, zone: str | None) -> bool | None:
    if row.kind != "service":
        return None
    schedules = (row.card or {}).get("schedules") or []
    return hours.is_open(schedules, now, zone=zone) if schedules else None


def _age_range(alias: str) -> str:
    """The age filter on a row with min_age and max_age: kb_search_entries, or PostgreSQL's copy
    in the full-text row."""
    return (
        f"({alias}.min_age IS NULL OR {alias}.min_age <= :age) "
        f"AND ({alias}.max_age IS NULL OR {alias}.max_age >= :age)"
    )


def _facet_groups(filters: dict[str, Any]) -> list[list[str]]:
    """The facet filters as groups of tokens: an entry passes with one token of every group."""
    wanted = {  # each filter that is a facet of the entry, with the values that let it pass
        "lang": [filters.get("lang"), ANY],
        "region": [filters.get("region"), ANY],
        "term": [filters.get("term"), filters.get("term_folded")],
    }
    return [
        [facet_token(facet, v) for v in dict.fromkeys(str(v) for v in values if v)]
        for facet, values in wanted.items()
        if facet in filters
    ]


def _facet_tsquery(filters: dict[str, Any]) -> str:
    """('langx6e6c' | 'langx2a') & (…): tokens are letters and digits, so quoting is plain."""
    return " & ".join(
        "(" + " | ".join(f"'{token}'" for token in group) + ")" for group in _facet_groups(filters)
    )


def _facet_fts5(filters: dict[str, Any]) -> str:
    """{facet_tokens} : (("langx6e6c" OR "langx2a") AND (…)), for FTS5."""
    groups = _facet_groups(filters)
    if not groups:
        return ""
    expression = " AND ".join(
        "(" + " OR ".join(f'"{token}"' for token in group) + ")" for group in groups
    )
    return f" AND {{facet_tokens}} : ({expression})"


# The columns the operator's words are matched against; facet tokens live in a column of their own.
_TEXT_COLUMNS = "{index_title index_keywords index_body}"


_OUTER = (
    "SELECT e.id, e.kind, e.record_id, e.title, e.body, e.card, e.language, h.score "
    "FROM ({inner}) AS h JOIN kb_search_entries AS e ON e.id = h.rid "
    "ORDER BY h.score DESC, e.kind, e.record_id"
)


def _statement(
    dialect: str, parsed: ParsedQuery, filters: dict[str, Any], *, any_term: bool
) -> tuple[Any, dict[str, Any]]:
    params = dict(filters)
    # Only constant fragments are pasted in; every value the operator gave is a bound parameter.
    if dialect == "postgresql":
        prefix, web = tsquery(parsed, any_term=any_term)
        parts = []
        if prefix:
            parts.append("to_tsquery('simple', kb_fold(:prefix))")
            params["prefix"] = prefix
        if web:
            parts.append("websearch_to_tsquery('simple', kb_fold(:web))")
            params["web"] = web
        # A materialised CTE hides the query's value from the planner: seeing it, PostgreSQL
        # misjudges prefix matches and scans kb_fts sequentially instead of using the GIN index.
        # The facet filters go to the GIN index beside the words (see migration kb0002), so only
        # matches that pass them are read and ranked.
        facets = _facet_tsquery(filters)
        facet_sql = ""
        if facets:
            params["facets"] = facets
            parts_facets = ", CAST(:facets AS tsquery) AS facets"
            facet_sql = " AND x.facets @@ q.facets"
        else:
            parts_facets = ""
        if "age" in filters:
            facet_sql += f" AND {_age_range('x')}"
        inner = (
            f"WITH q AS MATERIALIZED (SELECT {' && '.join(parts)} AS query{parts_facets}) "  # noqa: S608
            "SELECT x.entry_id AS rid, ts_rank(x.document, q.query, 1) AS score "
            "FROM q JOIN kb_fts AS x ON x.document @@ q.query "
            f"WHERE true{facet_sql} "
            "ORDER BY score DESC LIMIT :limit OFFSET :offset"
        )
    else:
        # The facet filters join the words in one MATCH (see migration kb0002): FTS5 intersects
        # their doclists, so only matches that pass them are ranked.
        words = fts5(parsed, any_term=any_term)
        params["match"] = f"{_TEXT_COLUMNS} : ({words}){_facet_fts5(filters)}"
        age_sql = (
            " AND EXISTS (SELECT 1 FROM kb_search_entries AS a "  # noqa: S608 (constant SQL)
            f"WHERE a.id = x.rowid AND {_age_range('a')})"
            if "age" in filters
            else ""
        )
        inner = (
            "SELECT x.rowid AS rid, -x.rank AS score FROM kb_fts AS x "  # noqa: S608
            f"WHERE kb_fts MATCH :match{age_sql} "
            "ORDER BY x.rank LIMIT :limit OFFSET :offset"
        )
    return text(_OUTER.format(inner=inner)).columns(**_COLUMNS), params


def _result(row: Any, parsed: ParsedQuery, open_now: bool | None) -> SearchResult:
    card: dict[str, Any] = row.card or {}
    common = {
        "kind": row.kind,
        "id": row.record_id,
        "title": row.title,
        "score": float(row.score),
        "snippet": snippet(row.body or "", list(parsed.highlight)),
    }
    if row.kind == "article":
        return SearchResult(**common, language=row.language)
    return SearchResult(
        **common,
        organization=card.get("organization"),
        phone=card.get("phone"),
        hours=card.get("hours") or None,
        open_now=open_now,
        languages=tuple(card.get("languages") or ()),
        eligibility=card.get("eligibility"),
        how_to_refer=card.get("how_to_refer"),
        accepts_direct_referrals=card.get("accepts_direct_referrals"),
    )
