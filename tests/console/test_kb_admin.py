"""The admins' knowledge-base pages: what is due for review, edits with a change log, and the
weekly job that tells admins."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from console.db import Database, utcnow
from console.domain import events, kb_review
from console.jobs import kb_freshness
from console.jobs.context import set_context
from console.jobs.periodic import PERIODIC_JOBS
from console.settings import Settings, SettingsError
from knowledge.models import Article, ChangeLogEntry, Organization, Service
from tests.support import csrf_from, login, make_operator

ORG = "00000000-0000-4000-8000-000000000001"
STALE = "00000000-0000-4000-8000-000000000010"
FRESH = "00000000-0000-4000-8000-000000000011"


@pytest.fixture
def directory(database: Database) -> Database:
    """Two services and two articles: one of each past due, one of each fresh."""
    today = utcnow().date()
    with database.transaction() as s:
        s.add(Organization(id=ORG, name="Scheldt Victim Aid", description="Invented partner"))
        s.flush()
        s.add_all(
            [
                Service(
                    id=STALE,
                    organization_id=ORG,
                    name="Stale Shelter Line",
                    status="active",
                    assured_date=today - dt.timedelta(days=400),
                ),
                Service(
                    id=FRESH,
                    organization_id=ORG,
                    name="Fresh Court Support",
                    status="active",
                    assured_date=today - dt.timedelta(days=10),
                ),
                _article("stale-article", "Old compensation rules", today - dt.timedelta(days=1)),
                _article("fresh-article", "Current protection orders", today + dt.timedelta(90)),
            ]
        )
    return database


def _article(article_id: str, title: str, review_due: dt.date) -> Article:
    return Article(
        id=article_id,
        language="en",
        translation_key=article_id,
        title=title,
        body_markdown="Some *text*.",
        body_html="<p>Some <em>text</em>.</p>",
        categories=[],
        reviewed_at=review_due - dt.timedelta(days=365),
        review_due=review_due,
    )


@pytest.fixture
def admin(client: FlaskClient, database: Database) -> int:
    admin_id = make_operator(database, "ada", role="admin")
    login(client, "ada")
    return admin_id


def test_the_page_lists_what_is_past_due_and_not_what_is_fresh(
    client: FlaskClient, directory: Database, admin: int
) -> None:
    page = client.get("/admin/kb/freshness")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Stale Shelter Line" in html
    assert "Old compensation rules" in html
    assert "Fresh Court Support" not in html
    assert "Current protection orders" not in html
    assert f'href="/admin/kb/service/{STALE}"' in html
    assert "<script>" not in html


def test_the_review_period_comes_from_the_settings(
    client: FlaskClient, directory: Database, settings: Settings, tmp_path: Path
) -> None:
    from console.app import create_app, shutdown

    config = tmp_path / "config"
    config.mkdir()
    for source in settings.config_dir.glob("*.toml"):
        (config / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (config / "knowledge.toml").write_text("review_grace_days = 5\n", encoding="utf-8")
    app = create_app(replace(settings, config_dir=config), directory)
    try:
        short = app.test_client()
        make_operator(directory, "ada", role="admin")
        login(short, "ada")
        html = short.get("/admin/kb/freshness").get_data(as_text=True)
    finally:
        shutdown(app)
    assert "Fresh Court Support" in html  # assured 10 days ago, past a 5-day period
    assert "Current protection orders" not in html  # its own review_due still rules


def test_a_bad_review_period_names_the_setting(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "knowledge.toml").write_text('review_grace_days = "soon"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="review_grace_days"):
        kb_review.load_review_settings(replace(settings, config_dir=tmp_path))
    with pytest.raises(SettingsError, match=kb_review.GRACE_ENV):
        kb_review.load_review_settings(replace(settings, env={kb_review.GRACE_ENV: "-3"}))
    assert kb_review.load_review_settings(settings).review_grace_days == 365


@pytest.mark.parametrize("role", ["operator", "shift_lead"])
def test_non_admins_are_refused(client: FlaskClient, directory: Database, role: str) -> None:
    make_operator(directory, "olga", role=role)
    token = login(client, "olga")
    assert client.get("/admin/kb/freshness").status_code == 403
    assert client.get(f"/admin/kb/service/{STALE}").status_code == 403
    refused = client.post(
        f"/admin/kb/service/{STALE}", data={"name": "Hijacked", "csrf_token": token}
    )
    assert refused.status_code == 403
    with directory.transaction() as s:
        assert s.get(Service, STALE).name == "Stale Shelter Line"  # type: ignore[union-attr]


def _form(client: FlaskClient, url: str) -> dict[str, str]:
    html = client.get(url).get_data(as_text=True)
    fields = dict(
        re.findall(r'<input id="f-[^"]+" name="([^"]+)" type="[^"]+" value="([^"]*)"', html)
    )
    fields |= dict(
        re.findall(r'<textarea id="f-[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', html)
    )
    selected = re.search(r'<option value="([^"]+)" selected>', html)
    if selected:
        fields["status"] = selected.group(1)
    fields["csrf_token"] = csrf_from(html)
    return fields


def test_an_edit_changes_the_record_and_writes_the_change_log(
    client: FlaskClient, directory: Database, admin: int
) -> None:
    url = f"/admin/kb/service/{STALE}"
    form = _form(client, url)
    today = utcnow().date().isoformat()
    form |= {"email": "help@example.org", "assured_date": today}
    saved = client.post(url, data=form)
    assert saved.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Saved: 2 field(s) changed." in page
    with directory.transaction() as s:
        service = s.get(Service, STALE)
        assert service is not None
        assert service.email == "help@example.org"
        assert service.assured_date == utcnow().date()
        log = {
            e.field: e
            for e in s.scalars(select(ChangeLogEntry).where(ChangeLogEntry.record_id == STALE))
        }
    assert set(log) == {"email", "assured_date"}
    assert log["email"].old_value is None
    assert log["email"].new_value == "help@example.org"
    assert log["assured_date"].new_value == today
    assert log["assured_date"].actor_id == admin
    # The log shows the operator's name, resolved in the console (the log itself holds an id).
    rows = re.findall(r'<tr data-field="([^"]+)">.*?<td class="who">([^<]*)</td>', page, re.S)
    assert dict(rows) == {"email": "ada", "assured_date": "ada"}
    # Re-submitting the same form changes nothing and logs nothing more.
    again = client.post(url, data=_form(client, url))
    assert again.status_code == 302
    assert "Nothing changed." in client.get(url).get_data(as_text=True)
    # Now assured today, the service has left the review list.
    assert "Stale Shelter Line" not in client.get("/admin/kb/freshness").get_data(as_text=True)


def test_an_article_edit_keeps_markdown_line_ends_and_logs_each_field(
    client: FlaskClient, directory: Database, admin: int
) -> None:
    url = "/admin/kb/article/stale-article"
    form = _form(client, url)
    next_year = (utcnow().date() + dt.timedelta(days=365)).isoformat()
    form |= {"title": "Compensation rules (2026)", "review_due": next_year}
    form["body_markdown"] = form["body_markdown"].replace("\n", "\r\n")
    assert client.post(url, data=form).status_code == 302
    with directory.transaction() as s:
        article = s.get(Article, "stale-article")
        assert article is not None
        assert article.title == "Compensation rules (2026)"
        assert article.review_due == dt.date.fromisoformat(next_year)
        fields = set(
            s.scalars(
                select(ChangeLogEntry.field).where(ChangeLogEntry.record_id == "stale-article")
            )
        )
    assert fields == {"title", "review_due"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "Name: required"),
        ({"status": "closed forever"}, "Status: one of"),
        ({"email": "not an address"}, "E-mail: not an e-mail address"),
        ({"url": "javascript:alert(1)"}, "Web address: must start with"),
        ({"assured_date": "31/12/2026"}, "not a date"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_changes_nothing(
    client: FlaskClient,
    directory: Database,
    admin: int,
    changes: dict[str, str],
    message: str,
) -> None:
    url = f"/admin/kb/service/{STALE}"
    form = _form(client, url) | {"description": "A new description"} | changes
    refused = client.post(url, data=form)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert message in html
    assert 'id="edit-error"' in html
    with directory.transaction() as s:
        service = s.get(Service, STALE)
        assert service is not None
        assert service.name == "Stale Shelter Line"
        assert service.description is None
        assert s.scalar(select(func.count()).select_from(ChangeLogEntry)) == 0


def test_an_edit_without_the_csrf_token_is_refused(
    client: FlaskClient, directory: Database, admin: int
) -> None:
    refused = client.post(f"/admin/kb/service/{STALE}", data={"name": "No token"})
    assert refused.status_code == 400
    with directory.transaction() as s:
        assert s.get(Service, STALE).name == "Stale Shelter Line"  # type: ignore[union-attr]


def test_an_unknown_record_is_a_404(client: FlaskClient, directory: Database, admin: int) -> None:
    assert client.get("/admin/kb/service/no-such-service").status_code == 404
    assert client.get("/admin/kb/organization/whatever").status_code == 404


def test_the_weekly_job_stores_one_notice_a_week_and_tells_admins(
    directory: Database,
    settings: Settings,
    sent_events: list[events.Event],
    client: FlaskClient,
    admin: int,
) -> None:
    assert any(job.func == "console.jobs.kb_freshness.notify_review_due" for job in PERIODIC_JOBS)
    set_context(settings, directory)
    first = kb_freshness.notify_review_due()
    second = kb_freshness.notify_review_due()
    assert first == {"articles": 1, "services": 1, "notified": 1}
    assert second["notified"] == 0
    with directory.transaction() as s:
        notices = s.scalars(select(kb_review.ReviewNotice)).all()
        assert [(n.week, n.articles, n.services) for n in notices] == [
            (kb_review.iso_week(utcnow()), 1, 1)
        ]
    (event,) = [e for e in sent_events if e.type == kb_review.EVENT_TYPE]
    events.validate(event.type, event.payload)
    assert event.room == kb_review.ROOM_ADMINS
    assert event.payload["articles"] == 1
    assert event.payload["services"] == 1
    page = client.get("/admin/kb/freshness").get_data(as_text=True)
    assert f'data-week="{kb_review.iso_week(utcnow())}"' in page


def test_a_new_week_gets_a_new_notice_and_a_quiet_week_no_event(
    database: Database, sent_events: list[events.Event]
) -> None:
    monday = dt.datetime(2026, 11, 23, 6, tzinfo=dt.UTC)
    with database.transaction() as s:
        first = kb_review.notify_due(s, monday, 365)
    with database.transaction() as s:
        same_week = kb_review.notify_due(s, monday + dt.timedelta(days=6), 365)
    with database.transaction() as s:
        next_week = kb_review.notify_due(s, monday + dt.timedelta(days=7), 365)
    assert first is not None
    assert first.week == "2026-W48"
    assert same_week is None
    assert next_week is not None
    assert next_week.week == "2026-W49"
    assert [e for e in sent_events if e.type == kb_review.EVENT_TYPE] == []
