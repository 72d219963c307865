"""Retention: the job is idempotent, logs counts only, and never touches a contact under a consent
in force nor an outcome record. And `erase --case` serves a data-subject request."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from console.db import Database, utcnow
from console.domain import consent, drafts, identity, notes, outcomes, retention
from console.domain.consent import Method, Scope
from console.domain.contacts import Contact
from console.domain.drafts import WrapUpDraft
from console.domain.identity import IdentityValue
from console.domain.notes import ContactNote
from console.domain.outcomes import Outcome
from console.domain.records_config import RecordsSettings, load_retention
from console.settings import Settings, SettingsError
from tests.records.conftest import held_contact
from tests.support import make_operator

SECRET_NOTE = "she mentioned the blue door on the corner"


def _outcome_rows(database: Database) -> list[tuple[Any, ...]]:
    with database.transaction(write=False) as s:
        return [
            (o.id, o.contact_id, o.code, o.taxonomy_version, o.details, o.note, o.recorded_at)
            for o in s.scalars(select(Outcome).order_by(Outcome.id))
        ]


def _snapshot(database: Database) -> dict[str, Any]:
    with database.transaction(write=False) as s:
        return {
            "notes": sorted(s.scalars(select(ContactNote.contact_id))),
            "drafts": sorted(s.scalars(select(WrapUpDraft.contact_id))),
            "identity": sorted(s.scalars(select(IdentityValue.id))),
            "handles": sorted(
                s.execute(select(Contact.id, Contact.channel_ref).order_by(Contact.id)).all()
            ),
            "outcomes": _outcome_rows(database),
        }


@pytest.fixture
def old_world(database: Database, settings: Settings, records: RecordsSettings) -> dict[str, int]:
    """Three closed calls from 100 days ago with notes, one still under a callback consent, one
    whose consent ran out; plus a held contact with a stale draft."""
    ana = make_operator(database, "ana")
    long_ago = utcnow() - dt.timedelta(days=100)
    ids: dict[str, int] = {}
    for name in ("plain", "consented", "lapsed"):
        with database.transaction() as s:
            from console.domain import queue

            contact = queue.enqueue(
                s,
                channel="voice",
                language="nl",
                cfg=settings.queue,
                channel_ref=f"CA{name:0>32}",
                now=long_ago,
            )
            queue.claim(s, contact.id, ana, now=long_ago)
            outcomes.wrap_up(
                s,
                contact.id,
                ana,
                code="silent",
                taxonomy=records.taxonomy,
                note=SECRET_NOTE,
                now=long_ago + dt.timedelta(minutes=5),
            )
            ids[name] = contact.id
    now = utcnow()
    with database.transaction() as s:
        kept = consent.grant(
            s,
            contact_id=ids["consented"],
            case_id=None,
            scope=Scope.CALLBACK,
            method=Method.VERBAL,
            operator_id=ana,
            expires_at=now + dt.timedelta(days=5),
        )
        identity.store_identity(s, kept.id, "phone", "+32 470 55 66 77", actor_id=ana)
        lapsed = consent.grant(
            s,
            contact_id=ids["lapsed"],
            case_id=None,
            scope=Scope.CALLBACK,
            method=Method.VERBAL,
            operator_id=ana,
            expires_at=now - dt.timedelta(days=1) + dt.timedelta(seconds=1),
            now=now - dt.timedelta(days=1),
        )
        identity.store_identity(
            s, lapsed.id, "phone", "+32 470 88 99 00", actor_id=ana, now=now - dt.timedelta(days=1)
        )
        ids["kept_consent"], ids["lapsed_consent"] = kept.id, lapsed.id
    held = held_contact(database, settings, ana)
    with database.transaction() as s:
        drafts.save(s, held, ana, {"note": SECRET_NOTE}, now=long_ago)
    ids["held"] = held
    return ids


def _run(database: Database, records: RecordsSettings) -> dict[str, int]:
    with database.transaction() as s:
        return retention.enforce(
            s,
            transcripts_days=records.retention.transcripts_days,
            call_metadata_days=records.retention.call_metadata_days,
            now=utcnow(),
        )


def test_retention_run_twice_gives_the_same_result(
    database: Database, records: RecordsSettings, old_world: dict[str, int]
) -> None:
    before = _snapshot(database)
    first = _run(database, records)
    after_first = _snapshot(database)
    second = _run(database, records)
    after_second = _snapshot(database)
    assert first == {
        "consents_ended": 1,
        "notes": 2,  # plain and lapsed; the consented contact keeps its note
        "drafts": 1,
        "channel_handles": 2,
    }
    assert all(count == 0 for count in second.values())
    assert after_first == after_second
    assert after_first != before


def test_retention_never_touches_a_consented_contact_nor_an_outcome(
    database: Database, records: RecordsSettings, old_world: dict[str, int]
) -> None:
    outcomes_before = _outcome_rows(database)
    _run(database, records)
    assert _outcome_rows(database) == outcomes_before
    with database.transaction(write=False) as s:
        assert notes.note_text(s, old_world["consented"]) == SECRET_NOTE
        assert notes.note_text(s, old_world["plain"]) is None
        assert s.get_one(Contact, old_world["consented"]).channel_ref is not None
        assert s.get_one(Contact, old_world["plain"]).channel_ref is None
        kept = s.scalars(
            select(IdentityValue.consent_id).where(
                IdentityValue.consent_id == old_world["kept_consent"]
            )
        ).all()
        assert kept == [old_world["kept_consent"]]
        assert (
            s.scalars(
                select(IdentityValue).where(IdentityValue.consent_id == old_world["lapsed_consent"])
            ).all()
            == []
        )


def test_the_job_logs_counts_and_never_content(
    database: Database,
    records: RecordsSettings,
    old_world: dict[str, int],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    from console.jobs import context
    from console.jobs.retention import enforce_retention

    monkeypatch.setattr(context, "_context", context.JobContext(settings, database))
    with caplog.at_level(logging.DEBUG):
        counts = enforce_retention()
        assert enforce_retention() == dict.fromkeys(counts, 0)
    text = caplog.text
    assert "retention: channel_handles 2, consents_ended 1, drafts 1, notes 2" in text
    # The planted numbers' own spellings: a bare "470" can turn up in any timestamp or count.
    numbers = ("470 55 66 77", "470556677", "470 88 99 00", "470889900")
    for needle in ("blue door", "CA000", *numbers):
        assert needle not in text


def test_the_retention_job_is_a_registered_periodic_job() -> None:
    from console.jobs.periodic import PERIODIC_JOBS

    assert "console.jobs.retention.enforce_retention" in [j.func for j in PERIODIC_JOBS]


def test_retention_policy_keeps_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "retention.toml"
    path.write_text('outcomes = "delete"\n')
    with pytest.raises(SettingsError, match="outcomes must be"):
        load_retention(path)
    path.write_text("transcripts_days = 0\n")
    with pytest.raises(SettingsError, match="transcripts_days"):
        load_retention(path)


def test_erase_case_serves_a_data_subject_request(
    database: Database, records: RecordsSettings, old_world: dict[str, int]
) -> None:
    adam = make_operator(database, "adam", role="admin")
    with database.transaction() as s:
        ref = s.get_one(Contact, old_world["consented"]).ref
    outcomes_before = _outcome_rows(database)
    with database.transaction() as s:
        counts = retention.erase_case(s, ref, actor_id=adam, now=utcnow())
    assert counts["identity_values"] == 1
    assert counts["notes"] == 1
    with database.transaction(write=False) as s:
        assert s.scalars(select(IdentityValue.consent_id)).all() == [old_world["lapsed_consent"]]
        assert notes.note_text(s, old_world["consented"]) is None
        assert consent.get_consent(s, old_world["kept_consent"]).status() == "withdrawn"
    assert _outcome_rows(database) == outcomes_before
    with database.transaction() as s, pytest.raises(retention.NothingToErase):
        retention.erase_case(s, "NOPE", actor_id=adam, now=utcnow())
    ana_id = old_world["held"]
    with database.transaction() as s:
        operator_id = s.get_one(Contact, ana_id).operator_id
    from console.domain.permissions import AccessDenied

    with database.transaction() as s, pytest.raises(AccessDenied):
        retention.erase_case(s, ref, actor_id=operator_id, now=utcnow())
