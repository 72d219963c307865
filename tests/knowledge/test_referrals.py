"""The public details of a service an operator reads out or pastes into a chat."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from knowledge import demo
from knowledge.errors import RecordNotFound
from knowledge.models import Service
from knowledge.referrals import service_summary
from tests.knowledge.conftest import NOW


def test_service_summary(db_session: Session) -> None:
    demo.load(db_session, now=NOW)
    service = db_session.query(Service).filter_by(name="Cross-Border Victims Desk").one()
    summary = service_summary(db_session, service.id, now=NOW, zone="Europe/Brussels")
    assert summary["phone"] == "+32 000 10 01 04"
    assert summary["hours"] == "Mon–Fri 09:00–17:00"
    assert summary["open_now"] is True
    assert [lang["name"] for lang in summary["languages"]] == [
        "German",
        "English",
        "French",
        "Dutch",
    ]
    assert summary["accepts_direct_referrals"] is True
    assert summary["cross_border_contact_point"] is True
    assert summary["addresses"] == ["Kadeplein 4, 9100 Riverton"]
    text = summary["text"]
    assert text.startswith("Cross-Border Victims Desk (Scheldt Valley Victim Support)")
    assert "Phone: +32 000 10 01 04" in text
    assert "Hours: Mon–Fri 09:00–17:00" in text
    dutch = service_summary(db_session, service.id, now=NOW, locale="nl")
    assert dutch["hours"] == "ma–vr 09:00–17:00"


def test_unknown_service(db_session: Session) -> None:
    with pytest.raises(RecordNotFound):
        service_summary(db_session, "00000000-0000-0000-0000-000000000000")
