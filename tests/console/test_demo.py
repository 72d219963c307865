"""The demo: accounts with fresh passwords, and a stream that moves the queue through the domain."""

from __future__ import annotations

import datetime as dt
import random

from flask import Flask
from sqlalchemy import func, select

from console import demo
from console.db import Database, utcnow
from console.domain import operators
from console.domain.contacts import Contact
from console.settings import Settings


def test_seed_creates_accounts_and_resets_passwords(database: Database, settings: Settings) -> None:
    first = demo.seed(database, settings)
    second = demo.seed(database, settings)
    assert [a.username for a in first] == ["operator", "operator2", "lead", "admin"]
    assert {a.role for a in first} == {"operator", "shift_lead", "admin"}
    assert all(a.password != b.password for a, b in zip(first, second, strict=True))
    with database.transaction() as s:
        for account in second:
            operators.authenticate(
                s, account.username, account.password, max_failures=5, lockout=dt.timedelta(1)
            )


def test_stream_brings_contacts_and_colleagues_answer_the_patient_ones(
    database: Database, settings: Settings
) -> None:
    demo.seed(database, settings)
    stream = demo.ContactStream(settings, database, rng=random.Random(7))
    for _ in range(5):
        stream.step()
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 5
        # Make every waiting contact look long-waiting, so the simulated colleagues step in.
        for contact in s.scalars(select(Contact)):
            contact.enqueued_at = utcnow() - dt.timedelta(seconds=40)
    stream._colleagues()
    with database.transaction(write=False) as s:
        taken = s.scalar(select(func.count()).select_from(Contact).where(Contact.state == "active"))
    assert taken >= 1


def test_simulated_colleagues_close_with_a_full_anonymous_record(
    app: Flask, database: Database, settings: Settings
) -> None:
    from console.domain.outcomes import Outcome

    demo.seed(database, settings)
    stream = demo.ContactStream(settings, database, rng=random.Random(3))
    # As `helpline demo` runs it: with the app's taxonomy, which checks the record's codes.
    stream.taxonomy = app.config["HELPLINE_OUTCOMES"]
    for _ in range(4):
        stream.step()
    with database.transaction() as s:
        for contact in s.scalars(select(Contact)):
            contact.enqueued_at = utcnow() - dt.timedelta(seconds=40)
    stream._colleagues()
    with database.transaction() as s:
        for contact in s.scalars(select(Contact).where(Contact.state == "active")):
            contact.accepted_at = utcnow() - dt.timedelta(minutes=5)
    stream._colleagues()
    with database.transaction(write=False) as s:
        records = s.scalars(select(Outcome)).all()
    taxonomy = stream.taxonomy or demo.outcomes.load_outcome_taxonomy(
        settings.config_dir / "taxonomy.toml"
    )
    data = [r for r in records if not taxonomy.get(r.code).non_data]  # type: ignore[union-attr]
    assert data
    for record in data:
        assert record.details["caller_role"]
        assert record.details["victimisation"]
