"""Reports with charts and tables, the CSV export with small-count suppression, who sees the
wellbeing figures, the TV page, and `helpline stats rebuild`."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from console.cli import main
from console.db import Database
from console.domain import events, wellbeing
from console.domain.audit import AuditEvent
from console.domain.rollups import Rollup
from console.domain.stats_settings import StatsSettings, install, load_stats_settings
from console.settings import QueueSettings, Settings
from tests.console.stats_support import full_call, set_presence, taxonomy, utc
from tests.support import login, make_operator


@pytest.fixture
def cfg(settings: Settings) -> StatsSettings:
    return install(load_stats_settings(settings))


def _march(database: Database, settings: Settings, operator_id: int) -> None:
    """Eight recorded calls in March 2026: six about sexual violence, two about assault."""
    tax = taxonomy(settings.config_dir)
    q: QueueSettings = settings.queue
    set_presence(database, operator_id, "available", utc("2026-03-02 08:00:00"))
    for i in range(8):
        victimisation = ["sexual_violence"] if i < 6 else ["assault"]
        full_call(
            database,
            q,
            tax,
            operator_id,
            utc("2026-03-02 09:00:00") + dt.timedelta(hours=i),
            8,
            120,
            30,
            details={"victimisation": victimisation, "triage_track": "serious"},
        )


def test_a_year_by_month_and_victimisation_renders_charts_and_tables(
    app: Flask, database: Database, settings: Settings
) -> None:
    make_operator(database, "lea", role="shift_lead")
    ana = make_operator(database, "ana", presence=None)
    _march(database, settings, ana)
    client = app.test_client()
    login(client, "lea")
    page = client.get("/lead/reports?axis=month&from=2026-01-01&to=2026-12-31&by=victimisation")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<svg") == 2
    assert "Recorded contacts by victimisation" in html
    assert "Sexual violence" in html  # the taxonomy's label, not the code
    assert "<td>2026-03</td><td>6</td><td>2</td>" in html
    service = client.get("/lead/reports?axis=day&from=2026-03-01&to=2026-03-07&by=channel")
    assert service.status_code == 200
    body = service.get_data(as_text=True)
    for title in ("Contacts offered", "Service level", "Occupancy", "first outreach"):
        assert title in body
    assert client.get("/lead/reports").status_code == 200
    assert client.get("/lead/reports?axis=hour_of_day&by=victimisation").status_code == 422
    assert client.get("/lead/reports?axis=fortnight").status_code == 422
    # A refused choice keeps the page, its menu and its form: the error is said above them.
    backwards = client.get("/lead/reports?axis=day&from=2026-03-07&to=2026-03-01")
    assert backwards.status_code == 422
    html = backwards.get_data(as_text=True)
    assert "to: must not be before from. Showing the default period instead." in html
    assert 'class="report-form"' in html
    assert 'aria-current="page">Reports</a>' in html
    assert '<option value="day" selected' in html


def test_the_csv_suppresses_small_counts_and_is_audited(
    app: Flask, database: Database, settings: Settings, cfg: StatsSettings
) -> None:
    lea = make_operator(database, "lea", role="shift_lead")
    ana = make_operator(database, "ana", presence=None)
    _march(database, settings, ana)
    client = app.test_client()
    login(client, "lea")
    response = client.get(
        "/lead/reports.csv?axis=month&from=2026-03-01&to=2026-03-31&by=victimisation"
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    cells = {(r["period"], r["victimisation"]): r["records"] for r in rows}
    assert cells[("2026-03", "sexual_violence")] == "6"
    assert cells[("2026-03", "assault")] == f"<{cfg.small_count_threshold}"
    service = client.get("/lead/reports.csv?axis=day&from=2026-03-02&to=2026-03-03")
    table = list(csv.DictReader(io.StringIO(service.get_data(as_text=True))))
    by_day = {r["period"]: r for r in table}
    assert by_day["2026-03-02"]["offered"] == "8"
    assert by_day["2026-03-02"]["service_level"] == "1.000"
    assert by_day["2026-03-03"]["offered"] == "<5"
    assert by_day["2026-03-03"]["service_level"] == ""  # a rate of nothing is not shown
    # Only counts and service figures: no staff figures, no wellbeing, no free text.
    assert set(table[0]) == {
        "period",
        "offered",
        "answered",
        "abandoned",
        "short_abandoned",
        "handled",
        "service_level",
        "abandonment_rate",
        "asa_seconds",
        "aht_seconds",
        "records",
        "referrals_made",
        "referrals_received",
        "referral_to_outreach_seconds",
    }
    with database.transaction(write=False) as s:
        audits = s.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [(a.actor_id, a.details["by"]) for a in audits] == [
        (lea, "victimisation"),
        (lea, "none"),
    ]
    operator = app.test_client()
    login(operator, "ana")
    assert operator.get("/lead/reports.csv").status_code == 403


def test_wellbeing_suggests_a_break_after_heavy_contacts_in_a_row(
    database: Database, settings: Settings, cfg: StatsSettings, sent_events: list[events.Event]
) -> None:
    ana = make_operator(database, "ana", presence=None)
    _march(database, settings, ana)  # eight serious contacts, 150 s each, from 10:00 local
    with database.transaction(write=False) as s:
        figures = wellbeing.for_operator(s, ana, cfg, utc("2026-03-02 17:00:00"))
    assert figures["on_shift"] is True
    assert figures["contacts"] == figures["heavy_contacts"] == figures["consecutive_heavy"] == 8
    assert figures["heavy_minutes_since_break"] == pytest.approx(8 * 150 / 60, abs=0.05)
    assert figures["suggest_break"] is True
    assert figures["minutes_without_break"] == 9 * 60  # on shift since 08:00 UTC
    assert figures["level"] == "red"  # over three hours without a break
    updates = [e for e in sent_events if e.type == "lead.wellbeing"]
    assert updates
    assert {e.room for e in updates} == {events.operator_room(ana)}
    # A break resets the run; coming back starts the clock again.
    set_presence(database, ana, "break", utc("2026-03-02 17:00:00"))
    set_presence(database, ana, "available", utc("2026-03-02 17:15:00"))
    with database.transaction(write=False) as s:
        figures = wellbeing.for_operator(s, ana, cfg, utc("2026-03-02 17:45:00"))
    assert (figures["consecutive_heavy"], figures["suggest_break"]) == (0, False)
    assert figures["minutes_without_break"] == 30
    assert figures["heavy_contacts"] == 8  # the shift's total stays
    # Going offline ends the shift.
    set_presence(database, ana, "offline", utc("2026-03-02 18:00:00"))
    with database.transaction(write=False) as s:
        assert wellbeing.for_operator(s, ana, cfg)["on_shift"] is False


def test_wellbeing_is_for_the_operator_themself_and_shift_leads_only(
    app: Flask, database: Database, settings: Settings
) -> None:
    make_operator(database, "lea", role="shift_lead")
    ana = make_operator(database, "ana")
    make_operator(database, "ben")
    operator = app.test_client()
    login(operator, "ben")
    mine = operator.get("/api/wellbeing/me")
    assert mine.status_code == 200
    assert mine.get_json()["wellbeing"]["operator_id"] != ana
    assert operator.get("/api/lead/wellbeing").status_code == 403
    lead = app.test_client()
    login(lead, "lea")
    team = lead.get("/api/lead/wellbeing").get_json()["operators"]
    assert ana in {w["operator_id"] for w in team}
    snapshot = lead.get("/api/lead/wallboard").get_json()["snapshot"]
    assert {w["operator_id"] for w in snapshot["wellbeing"]} >= {ana}


def test_the_wallboard_pages_keep_the_spines_ids_and_have_a_tv_mode(
    app: Flask, database: Database
) -> None:
    make_operator(database, "lea", role="shift_lead")
    client = app.test_client()
    login(client, "lea")
    for url, tv in (("/lead", False), ("/lead/tv", True)):
        html = client.get(url).get_data(as_text=True)
        for element in ('id="stat-waiting"', 'id="stat-longest"', 'id="stat-handled"', 'id="lead"'):
            assert element in html
        assert ('class="lead tv"' in html) is tv
        assert ('id="broadcast-form"' in html) is not tv


def test_stats_rebuild_from_the_command_line(
    database: Database, settings: Settings, cfg: StatsSettings
) -> None:
    ana = make_operator(database, "ana", presence=None)
    _march(database, settings, ana)

    def rows() -> list[tuple[Any, ...]]:
        with database.transaction(write=False) as s:
            return sorted(
                (r.grain, r.period_start, r.dimension, r.value, r.offered, r.records, r.busy_ms)
                for r in s.scalars(select(Rollup))
            )

    before = rows()
    with database.transaction() as s:
        s.query(Rollup).delete()
    assert rows() == []
    result = CliRunner().invoke(
        main,
        ["--mode", "test", "stats", "rebuild"],
        env={"HELPLINE_DATABASE_URL": database.url, "HELPLINE_LOG_LEVEL": "warning"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "rebuilt statistics from 8 contacts" in result.output
    assert rows() == before


def test_one_small_cell_of_a_split_hides_the_next_smallest_too() -> None:
    from console.domain.metrics import Totals
    from console.domain.reports import Report, ReportQuery, to_csv

    day = dt.date(2026, 3, 2)
    report = Report(
        ReportQuery(axis="day", start=day, end=day, by="channel"),
        ["2026-03-02"],
        ["voice", "chat", "callback"],
        {
            ("2026-03-02", "voice"): Totals(offered=20, answered=20, answered_in_sl=18, handled=20),
            ("2026-03-02", "chat"): Totals(offered=7),
            ("2026-03-02", "callback"): Totals(offered=2),
        },
    )
    rows = {r["channel"]: r for r in csv.DictReader(io.StringIO(to_csv(report, 5)))}
    # Offered: only callbacks are small, so chats (the next smallest) are hidden as well.
    assert [rows[c]["offered"] for c in ("voice", "chat", "callback")] == [
        "20",
        "suppressed",
        "<5",
    ]
    # Answered: two small cells already hide each other.
    assert [rows[c]["answered"] for c in ("voice", "chat", "callback")] == ["20", "<5", "<5"]
    assert rows["voice"]["service_level"] == "0.900"
    assert rows["chat"]["service_level"] == ""
    assert "total" not in {r["period"] for r in rows.values()}
