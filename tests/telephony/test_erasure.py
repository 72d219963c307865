"""A case's erasure and the retention sweep cut call legs loose from Twilio's records of the
calls (which hold the caller's number): the CallSids and the day's hash go."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from console.db import Database, utcnow
from console.domain import queue, retention
from console.settings import Settings
from telephony.models import CallLeg, LegState
from tests.support import make_operator

SID = "CA" + "7" * 32


def _ended_call(database: Database, settings: Settings, sid: str = SID) -> tuple[int, str]:
    with database.transaction() as s:
        contact = queue.enqueue(
            s, channel="voice", language="nl", cfg=settings.queue, channel_ref=sid
        )
        s.add(
            CallLeg(
                call_sid=sid,
                contact_id=contact.id,
                state=LegState.ENDED,
                caller_hash="f" * 64,
                hash_day="2026-11-22",
                operator_call_sid="CA" + "8" * 32,
                country="BE",
            )
        )
        return contact.id, contact.ref


def _leg(database: Database) -> CallLeg:
    with database.transaction(write=False) as s:
        return s.scalars(select(CallLeg)).one()


def test_erasing_a_case_cuts_its_calls_loose_from_twilio(
    voice_app: Flask, database: Database, voice_settings: Settings
) -> None:
    _, ref = _ended_call(database, voice_settings)
    adam = make_operator(database, "adam", role="admin")
    with database.transaction() as s:
        counts = retention.erase_case(s, ref, actor_id=adam, now=utcnow())
    assert counts["channel_data"] == 1
    leg = _leg(database)
    assert leg.call_sid.startswith("ER")
    assert SID not in leg.call_sid
    assert (leg.operator_call_sid, leg.caller_hash, leg.hash_day) == (None, None, None)
    assert leg.country == "BE"  # a country is no one's identity, and reports count it


def test_the_retention_sweep_scrubs_old_legs_but_not_recent_ones(
    voice_app: Flask, database: Database, voice_settings: Settings
) -> None:
    _ended_call(database, voice_settings)
    with database.transaction() as s:
        recent = retention.enforce(s, transcripts_days=30, call_metadata_days=90, now=utcnow())
    assert recent.get("call_metadata", 0) == 0
    assert _leg(database).call_sid == SID
    later = utcnow() + dt.timedelta(days=91)
    with database.transaction() as s:
        old = retention.enforce(s, transcripts_days=30, call_metadata_days=90, now=later)
    assert old["call_metadata"] == 1
    assert _leg(database).call_sid.startswith("ER")
    with database.transaction() as s:  # and again: nothing left to do
        again = retention.enforce(s, transcripts_days=30, call_metadata_days=90, now=later)
    assert again.get("call_metadata", 0) == 0
