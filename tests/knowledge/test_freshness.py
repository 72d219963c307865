"""Freshness: what is due for review, and the change log kept by update_record."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from knowledge import demo
from knowledge.errors import InvalidChange, RecordNotFound
from knowledge.freshness import due_for_review
from knowledge.models import Service
from knowledge.records import change_log, update_record
from knowledge.search import search
from tests.knowledge.conftest import NOW


def _service(session: Session, name: str) -> Service:
    return session.query(Service).filter_by(name=name).one()


def test_due_for_review(db_session: Session) -> None:
    demo.load(db_session, now=NOW)
    due = due_for_review(db_session, NOW, grace_days=365)
    keys = {(item.kind, item.id) for item in due}
    # court-*.md had its review due on 2026-03-01; the stalking line was assured in 2024-03.
    assert ("article", "court-en") in keys
    assert ("article", "court-nl") in keys
    assert ("service", _service(db_session, "Stalking Advice Line").id) in keys
    assert ("service", _service(db_session, "Trauma Counselling").id) in keys
    assert ("article", "victims-rights-en") not in keys  # due 2027-05-10
    assert ("service", _service(db_session, "Victim Support Line").id) not in keys
    court = next(i for i in due if i.id == "court-en")
    assert court.due == dt.date(2026, 3, 1)
    assert "2026-03-01" in court.reason
    # A longer grace period lets the 2024 assurance pass, not the 2023 one.
    longer = {(i.kind, i.title) for i in due_for_review(db_session, NOW, grace_days=1000)}
    assert ("service", "Stalking Advice Line") not in longer
    assert ("service", "Trauma Counselling") in longer


def test_update_record_logs_each_changed_field(db_session: Session) -> None:
    demo.load(db_session, now=NOW)
    service = _service(db_session, "Stalking Advice Line")
    later = NOW + dt.timedelta(hours=1)
    entries = update_record(
        db_session,
        "service",
        service.id,
        {
            "assured_date": "2026-11-24",
            "name": "Stalking Advice Line",
            "alert": "Closed in December",
        },
        actor_id=7,
        now=later,
    )
    assert sorted(e.field for e in entries) == ["alert", "assured_date"]  # name did not change
    log = change_log(db_session, "service", service.id)
    assured = next(e for e in log if e.field == "assured_date")
    assert (assured.old_value, assured.new_value, assured.actor_id) == (
        "2024-03-01",
        "2026-11-24",
        7,
    )
    assert assured.changed_at == later
    assert service.last_modified == later
    assert service.id not in {i.id for i in due_for_review(db_session, NOW, grace_days=365)}
    assert (
        update_record(db_session, "service", service.id, {"alert": "Closed in December"}, 7) == []
    )


def test_update_record_reindexes(db_session: Session) -> None:
    demo.load(db_session, now=NOW)
    update_record(db_session, "article", "court-en", {"title": "Going to court as a witness"}, 3)
    assert search(db_session, "witness going", lang="en")[0].id == "court-en"
    phone = _service(db_session, "Elder Abuse Line")
    update_record(db_session, "service", phone.id, {"description": "Grandparents helpline"}, 3)
    assert search(db_session, "grandparents")[0].title == "Elder Abuse Line"


def test_update_record_refuses_bad_changes(db_session: Session) -> None:
    demo.load(db_session, now=NOW)
    service = _service(db_session, "Elder Abuse Line")
    with pytest.raises(RecordNotFound):
        update_record(db_session, "service", "nope", {"name": "x"}, 1)
    with pytest.raises(InvalidChange, match="no editable field"):
        update_record(db_session, "service", service.id, {"colour": "red"}, 1)
    with pytest.raises(InvalidChange, match="required"):
        update_record(db_session, "service", service.id, {"name": ""}, 1)
    with pytest.raises(InvalidChange, match="not a date"):
        update_record(db_session, "service", service.id, {"assured_date": "soon"}, 1)
    with pytest.raises(InvalidChange, match="no organization"):
        update_record(db_session, "service", service.id, {"organization_id": "missing"}, 1)
    with pytest.raises(InvalidChange, match="language code"):
        update_record(db_session, "article", "court-en", {"language": "zz"}, 1)
    assert change_log(db_session, "service", service.id) == []
