"""Demo data: an invented directory and articles for the imagined "Scheldt Valley" region.

`load` is idempotent (upsert by id), so the demo command can call it on every start.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import hours, hsds
from knowledge.hsds_import import ImportReport, SourceRow, apply_rows
from knowledge.imports import import_path
from knowledge.indexing import reindex_after_import
from knowledge.models import Schedule, Service

DATA = Path(__file__).parent / "demo_data"
ZONE = "Europe/Brussels"
HOLIDAY_COUNTRY = "BE"


def load(session: Session, *, now: dt.datetime | None = None) -> ImportReport:
    """Load (or refresh) the demo directory and articles; the caller commits."""
    try:
        schemas: hsds.Schemas | None = hsds.Schemas(hsds.schema_dir())
    except FileNotFoundError:
        schemas = None  # the demo data is ours and known to validate; checks still run
    report = import_path(session, DATA / "organizations.json", schemas=schemas)
    report.merge(import_path(session, DATA / "articles", schemas=schemas))
    closures = _holiday_closures(session, (now or dt.datetime.now(dt.UTC)).year)
    if closures.total_changed:
        reindex_after_import(session, closures)
    report.merge(closures)
    return report


def _holiday_closures(session: Session, year: int) -> ImportReport:
    """Office-hours services close on Belgian public holidays (this year and next)."""
    always_open = set(
        session.scalars(
            select(Schedule.service_id).where(
                Schedule.opens_at == "00:00", Schedule.byday == "MO,TU,WE,TH,FR,SA,SU"
            )
        )
    )
    rows = []
    services = session.scalars(select(Service.id).where(Service.id.in_(_demo_service_ids())))
    for service_id in services:
        if service_id in always_open:
            continue
        for row in hours.holiday_closures(service_id, HOLIDAY_COUNTRY, (year, year + 1)):
            rows.append(SourceRow("schedule", row["id"], row, "holiday closures"))
    report = ImportReport()
    apply_rows(session, rows, report)
    return report


def _demo_service_ids() -> list[str]:
    organizations = json.loads((DATA / "organizations.json").read_text(encoding="utf-8"))
    return [s["id"] for o in organizations for s in o.get("services", [])]
