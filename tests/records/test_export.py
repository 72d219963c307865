"""The funders' export: counts by period and dimension, no cell under the threshold, no free text,
and every export audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from console.db import Database
from console.domain import audit, export, outcomes, queue
from console.domain.records_config import RecordsSettings
from console.settings import Settings
from tests.records.conftest import kb_service
from tests.records.test_wrapup import full_body
from tests.support import login, make_operator

TZ = ZoneInfo("Europe/Brussels")
NOTE = "mentioned the lighthouse keeper"
MARCH = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def _close(
    database: Database,
    settings: Settings,
    records: RecordsSettings,
    operator_id: int,
    *,
    channel: str = "voice",
    language: str = "nl",
    code: str = "referred",
    details: dict[str, Any] | None = None,
    at: dt.datetime = MARCH,
) -> None:
    with database.transaction() as s:
        contact = queue.enqueue(s, channel=channel, language=language, cfg=settings.queue, now=at)
        queue.claim(s, contact.id, operator_id, now=at)
        data = code not in ("silent", "hang_up")
        outcomes.wrap_up(
            s,
            contact.id,
            operator_id,
            code=code,
            taxonomy=records.taxonomy,
            note=NOTE,
            details=full_body(details=details or {})["details"] if data else None,
            form_version=records.taxonomy.version if data else None,
            now=at + dt.timedelta(minutes=3),
        )


def _world(database: Database, settings: Settings, records: RecordsSettings) -> None:
    kb_service(database, "svc-legal-aid", "Legal Aid Brussels")
    kb_service(database, "svc-shelter", "=Shelter line")
    ana = make_operator(database, "ana")
    for _ in range(12):
        _close(database, settings, records, ana)  # voice, nl, assault + threats, legal aid
    for _ in range(6):
        _close(database, settings, records, ana, channel="chat", language="fr")
    for _ in range(2):
        _close(
            database,
            settings,
            records,
            ana,
            channel="callback",
            language="en",
            details={
                "victimisation": ["trafficking"],
                "referrals": [{"service_id": "svc-shelter", "name": "x"}],
            },
        )
    _close(database, settings, records, ana, code="silent")
    _close(database, settings, records, ana, at=MARCH + dt.timedelta(days=31))  # April


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _export(database: Database, records: RecordsSettings, settings: Settings) -> str:
    with database.transaction() as s:
        return export.funders_csv(
            s,
            records.taxonomy,
            actor_id=None,
            start=dt.date(2026, 3, 1),
            end=dt.date(2026, 4, 30),
            tz=TZ,
            languages={lang.code: lang.name for lang in settings.languages},
            threshold=records.small_count_threshold,
        )


def test_counts_by_period_and_dimension(
    database: Database, settings: Settings, records: RecordsSettings
) -> None:
    _world(database, settings, records)
    rows = _rows(_export(database, records, settings))
    cell = {(r["period"], r["dimension"], r["code"]): r["contacts"] for r in rows}
    assert cell[("2026-03", "total", "all")] == "21"
    assert cell[("2026-03", "channel", "voice")] == "13"
    assert cell[("2026-03", "language", "fr")] == "6"
    assert cell[("2026-03", "victimisation", "assault")] == "18"
    assert cell[("2026-03", "needs", "legal")] == "20"
    assert cell[("2026-03", "referral", "svc-legal-aid")] == "18"
    assert cell[("2026-04", "total", "all")] == "<5"
    assert {r["period"] for r in rows} == {"2026-03", "2026-04"}


def test_no_cell_under_the_threshold_and_no_free_text(
    database: Database, settings: Settings, records: RecordsSettings
) -> None:
    _world(database, settings, records)
    text = _export(database, records, settings)
    rows = _rows(text)
    assert rows
    assert list(rows[0]) == list(export.COLUMNS)
    threshold = records.small_count_threshold
    for row in rows:
        value = row["contacts"]
        assert value in (f"<{threshold}", export.SUPPRESSED) or int(value) >= threshold, row
    # Channels partition the total: callback (2) is hidden, so the next smallest (chat, 6) is too.
    cell = {(r["period"], r["dimension"], r["code"]): r["contacts"] for r in rows}
    assert cell[("2026-03", "channel", "callback")] == "<5"
    assert cell[("2026-03", "channel", "chat")] == export.SUPPRESSED
    assert "lighthouse" not in text  # the note never goes out
    assert "x" not in {r["label"] for r in rows}  # nor a typed referral name
    shelter = next(r for r in rows if r["code"] == "svc-shelter")
    assert shelter["label"] == "'=Shelter line"  # the directory's name, made formula-safe


def test_each_export_is_audited_and_downloadable_by_leads(
    app: Flask,
    client: FlaskClient,
    database: Database,
    settings: Settings,
    records: RecordsSettings,
) -> None:
    _world(database, settings, records)
    make_operator(database, "lea", role="shift_lead")
    token = login(client, "lea")
    page = client.get("/records/export")
    assert page.status_code == 200
    assert "Download CSV" in page.get_data(as_text=True)
    response = client.post(
        "/records/export.csv",
        data={"from": "2026-03-01", "to": "2026-03-31", "period": "quarter", "csrf_token": token},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = _rows(response.get_data(as_text=True))
    assert {r["period"] for r in rows} == {"2026-Q1"}
    bad = client.post(
        "/records/export.csv",
        data={"from": "2026-03-31", "to": "2026-03-01", "csrf_token": token},
    )
    assert bad.status_code == 422
    with database.transaction(write=False) as s:
        events = s.scalars(
            select(audit.AuditEvent).where(audit.AuditEvent.action == "export")
        ).all()
    assert len(events) == 1
    assert events[0].actor_role == "shift_lead"
    assert events[0].details["period"] == "quarter"
