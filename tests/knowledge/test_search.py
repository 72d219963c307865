"""Search behaviour on the demo data: filters, prefixes, accents, snippets and hostile input."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from knowledge.search import SearchResult, search
from tests.knowledge.conftest import NOW

HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    "'",
    '"unterminated phrase',
    "*",
    "^",
    "-",
    "--",
    "NEAR(a b)",
    "a AND OR NOT b",
    "title:court",
    "{index_title} : court",
    "court*",
    "(((",
    ")))",
    "!!",
    "&|!<->:*",
    "shelter' OR '1'='1",
    "'; DROP TABLE kb_search_entries; --",
    "1; SELECT * FROM kb_articles",
    "\\x00\\n\\t",
    "\x00court",
    "court\x00",
    "%_%",
    "🙂 help",
    "ﬁnance",  # ligature
    "straße",
    "x" * 10_000,
    "court " * 2000,
    "-court",
    '-"court hearing"',
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
]


@pytest.mark.parametrize("query", HOSTILE, ids=[repr(q)[:30] for q in HOSTILE])
def test_hostile_queries_never_raise(demo_session: Session, query: str) -> None:
    results = search(demo_session, query, now=NOW)
    assert isinstance(results, list)
    assert all(isinstance(r, SearchResult) for r in results)


@settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ example store in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(max_size=200))
def test_any_text_is_a_safe_query(demo_session: Session, query: str) -> None:
    assert isinstance(search(demo_session, query, lang="nl", region="Riverton", now=NOW), list)


def test_sql_fragment_is_just_words(demo_session: Session) -> None:
    results = search(demo_session, "shelter'; DROP TABLE kb_articles; --", now=NOW)
    # No document has every word, so the any-word fallback answers with the shelter.
    assert results[0].title == "Emergency Shelter for Women and Children"
    assert search(demo_session, "protection order", now=NOW)[0].kind == "article"


def test_accents_fold_both_ways(demo_session: Session) -> None:
    unaccented = search(demo_session, "feminicide", lang="fr", now=NOW)
    accented = search(demo_session, "féminicide", lang="fr", now=NOW)
    assert unaccented[0].id == accented[0].id == "femicide-fr"
    english = search(demo_session, "fémicide", lang="en", now=NOW)
    assert english[0].id == "femicide-en"


def test_prefix_matches_as_the_operator_types(demo_session: Session) -> None:
    for typed in ("be", "besc", "beschermings", "beschermingsbevel"):
        results = search(demo_session, typed, lang="nl", now=NOW)
        assert "protection-orders-nl" in [r.id for r in results], typed
    assert search(demo_session, "b", lang="nl", now=NOW) == []  # one letter is not a query


def test_quoted_phrase_and_exclusion(demo_session: Session) -> None:
    phrase = search(demo_session, '"victim support"', lang="en", now=NOW)
    assert phrase
    assert all("victim support" in (r.snippet + r.title).lower() for r in phrase[:1])
    without = search(demo_session, "shelter -children", now=NOW)
    assert "Emergency Shelter for Women and Children" not in [r.title for r in without]


def test_falls_back_to_any_word_when_no_document_has_all(demo_session: Session) -> None:
    results = search(demo_session, "kinderlijn zzzzqqq", now=NOW)
    assert results
    assert results[0].title == "Children's Helpline"


def test_language_filter(demo_session: Session) -> None:
    results = search(demo_session, "terrorisme", lang="nl", now=NOW)
    articles = [r for r in results if r.kind == "article"]
    assert articles
    assert all(r.language == "nl" for r in articles)
    services = [r for r in results if r.kind == "service"]
    assert all("nl" in r.languages for r in services)
    # A three-letter code means the same language.
    assert [r.id for r in search(demo_session, "terrorisme", lang="nld", now=NOW)] == [
        r.id for r in results
    ]
    arabic = search(demo_session, "shelter", lang="ar", now=NOW)
    assert [r.title for r in arabic] == ["Emergency Shelter for Women and Children"]
    assert search(demo_session, "shelter", lang="not-a-language", now=NOW) == []


def test_region_filter(demo_session: Session) -> None:
    in_kalkhaven = search(demo_session, "sexual assault", region="Kalkhaven", now=NOW)
    assert [r.title for r in in_kalkhaven][:1] == ["Sexual Assault Care Centre"]
    elsewhere = search(demo_session, "sexual assault", region="Antwerp", now=NOW)
    assert all(r.kind == "article" for r in elsewhere)
    national = search(demo_session, "terrorism", region="belgium", now=NOW)
    assert "Terrorism Victims Support Point" in [r.title for r in national]


def test_taxonomy_term_and_age_filters(demo_session: Session) -> None:
    by_code = search(demo_session, "support", taxonomy_term="court", now=NOW)
    assert by_code
    assert {r.title for r in by_code if r.kind == "service"} == {"Court Accompaniment Service"}
    child = search(demo_session, "helpline", age=12, now=NOW)
    assert "Children's Helpline" in [r.title for r in child]
    adult = search(demo_session, "helpline", age=40, now=NOW)
    assert "Children's Helpline" not in [r.title for r in adult]
    elderly = search(demo_session, "abuse", age=70, now=NOW)
    assert "Elder Abuse Line" in [r.title for r in elderly]
    assert "Elder Abuse Line" not in [
        r.title for r in search(demo_session, "abuse", age=30, now=NOW)
    ]


def test_open_now_filter(demo_session: Session) -> None:
    sunday_night = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)  # 00:30 Monday in Brussels
    everything = search(demo_session, "victim", now=sunday_night, limit=50)
    open_only = search(demo_session, "victim", now=sunday_night, open_now=True, limit=50)
    open_services = {r.title for r in open_only if r.kind == "service"}
    assert open_services
    assert open_services < {r.title for r in everything if r.kind == "service"}
    assert all(r.open_now for r in open_only if r.kind == "service")
    assert "Compensation Advice Desk" not in open_services
    # Articles are always available.
    assert any(r.kind == "article" for r in open_only)


def test_service_result_carries_what_the_operator_says(demo_session: Session) -> None:
    result = search(demo_session, "compensation desk", now=NOW)[0]
    assert result.kind == "service"
    assert result.phone == "+32 000 10 01 03"
    assert result.hours == "Tue, Thu 10:00–16:00"
    assert result.open_now is True  # Tuesday 11:00 in Brussels
    assert result.languages == ("fr", "nl")
    assert result.eligibility
    assert result.how_to_refer
    assert result.organization == "Scheldt Valley Victim Support"
    assert result.accepts_direct_referrals is False


def test_snippet_shows_the_matching_passage(demo_session: Session) -> None:
    result = search(demo_session, "strangulation", lang="en", now=NOW)[0]
    assert result.id == "femicide-en"
    assert "strangulation" in result.snippet.lower()
    assert len(result.snippet) <= 165


def test_limit_is_respected_and_bounded(demo_session: Session) -> None:
    assert len(search(demo_session, "victim", now=NOW, limit=2)) == 2
    assert len(search(demo_session, "victim", now=NOW, limit=10_000)) <= 100
    assert len(search(demo_session, "victim", now=NOW, limit=0)) == 1


HOSTILE_FILTERS = ["it's", "a\\b", "x' | 'lang=*", "')) OR ((", "&|!", "Riverton\nlang=*"]


@pytest.mark.parametrize("value", HOSTILE_FILTERS, ids=[repr(v)[:20] for v in HOSTILE_FILTERS])
def test_hostile_filter_values_are_just_unknown_values(demo_session: Session, value: str) -> None:
    """A region or taxonomy value is a filter value, never query syntax: on PostgreSQL it becomes
    one quoted facet lexeme, so "x' | 'lang=*" cannot widen the filter. Each behaves exactly as an
    area or term that nothing names."""
    unknown_region = search(demo_session, "support", region="nowhere at all", now=NOW)
    assert [r.id for r in search(demo_session, "support", region=value, now=NOW)] == [
        r.id for r in unknown_region
    ]
    unknown_term = search(demo_session, "support", taxonomy_term="no such term", now=NOW)
    assert [r.id for r in search(demo_session, "support", taxonomy_term=value, now=NOW)] == [
        r.id for r in unknown_term
    ]
    # The filter did filter: an unknown area leaves fewer services than no area at all.
    everywhere = search(demo_session, "support", now=NOW, limit=100)
    assert len([r for r in unknown_region if r.kind == "service"]) < len(
        [r for r in everywhere if r.kind == "service"]
    )
