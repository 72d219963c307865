"""Telephony's tables. None of them holds a phone number.

`tel_calls` has one row per Twilio call leg (keyed by CallSid) with only what the line needs: the
contact it belongs to, the country of a valid number, and a keyed hash under the day's key so that
repeat calls on one day can be noticed. A caller's number is kept only through a consent record, by
`console.domain.identity`, encrypted, for a callback.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from console.db import Base, created_at, intpk, str16, str32, timestamp

SID = String(34)


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    CALLBACK = "callback"


class LegState(enum.StrEnum):
    IVR = "ivr"  # in the menu; only recorded if the caller hangs up there
    QUEUED = "queued"  # waiting in the Twilio queue for the contact to be accepted
    BRIDGING = "bridging"  # accepted; the call is being redirected to the operator
    RINGING = "ringing"  # the operator's browser or desk phone rings
    CONNECTED = "connected"
    CONFERENCE = "conference"  # a warm transfer: caller, operator and colleague in a conference
    ENDED = "ended"


class CallLeg(Base):
    __tablename__ = "tel_calls"

    id: Mapped[intpk]
    call_sid: Mapped[str] = mapped_column(SID, unique=True)
    direction: Mapped[str16] = mapped_column(default=Direction.INBOUND)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("tel_callbacks.id"), index=True)
    language: Mapped[str16 | None]
    # ISO 3166 alpha-2 of a valid number; never set for withheld or unparseable callers.
    country: Mapped[str | None] = mapped_column(String(2))
    withheld: Mapped[bool] = mapped_column(default=False)
    # HMAC-SHA256 of the number under the key of `hash_day` (dropped with the key after the day).
    caller_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    hash_day: Mapped[str | None] = mapped_column(String(10), index=True)
    # The helpline number that was dialled (ours, not the caller's): callbacks come from it.
    line: Mapped[str16 | None]
    state: Mapped[str16] = mapped_column(default=LegState.IVR, index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    # The operator's leg (a child call of this one), for moving it into a warm-transfer conference.
    operator_call_sid: Mapped[str | None] = mapped_column(SID)
    created_at: Mapped[created_at]
    queued_at: Mapped[dt.datetime | None]
    bridge_requested_at: Mapped[dt.datetime | None]
    bridge_attempts: Mapped[int] = mapped_column(default=0)
    connected_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    # Twilio's final CallStatus (completed, busy, no-answer, failed, canceled) and duration.
    end_status: Mapped[str16 | None]
    duration: Mapped[int | None]
    # A warm transfer's conference name (derived from the leg id, never from the caller).
    conference: Mapped[str32 | None]
    # The colleague a warm transfer is handing the call to, and their leg once they answered.
    transfer_to_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    colleague_call_sid: Mapped[str | None] = mapped_column(SID)
    # An operator asked to block this caller; the block hash is made from the next webhook's From.
    block_hours: Mapped[int | None]
    block_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    version: Mapped[int] = mapped_column(default=1)


class HashKey(Base):
    """One random key per day for the repeat-call hash; deleted once the day is over."""

    __tablename__ = "tel_hash_keys"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[created_at]


class Block(Base):
    """A blocked caller, as an HMAC under the block key; the row is deleted when it expires."""

    __tablename__ = "tel_blocks"

    id: Mapped[intpk]
    caller_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[created_at]
    expires_at: Mapped[timestamp] = mapped_column(index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("tel_calls.id"))


class CallbackState(enum.StrEnum):
    SCHEDULED = "scheduled"  # waiting for its window or its next attempt
    CALLING = "calling"  # an attempt is ringing the caller
    QUEUED = "queued"  # the caller answered and waits for an operator
    CONNECTED = "connected"
    COMPLETED = "completed"
    FAILED = "failed"  # every attempt failed
    EXPIRED = "expired"  # the window passed first


CALLBACK_OPEN = (CallbackState.SCHEDULED, CallbackState.CALLING)


class Callback(Base):
    """A callback the caller asked for, in a safe window they chose; the number is in identity."""

    __tablename__ = "tel_callbacks"
    __table_args__ = (Index("ix_tel_callbacks_due", "state", "next_attempt_at"),)

    id: Mapped[intpk]
    parent_contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    # The consent record (console.domain.consent) under which the number is kept.
    consent_id: Mapped[int | None] = mapped_column(index=True)
    language: Mapped[str16]
    topic: Mapped[str32 | None]
    line: Mapped[str16 | None]
    window_start: Mapped[timestamp]
    window_end: Mapped[timestamp]
    state: Mapped[str16] = mapped_column(default=CallbackState.SCHEDULED)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    next_attempt_at: Mapped[dt.datetime | None]
    current_call_sid: Mapped[str | None] = mapped_column(SID)
    created_at: Mapped[created_at]
    closed_at: Mapped[dt.datetime | None]
    outcome: Mapped[str32 | None]
    number_erased_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)


class CallbackAttempt(Base):
    __tablename__ = "tel_callback_attempts"

    id: Mapped[intpk]
    callback_id: Mapped[int] = mapped_column(ForeignKey("tel_callbacks.id"), index=True)
    number: Mapped[int]
    call_sid: Mapped[str | None] = mapped_column(SID, unique=True)
    started_at: Mapped[timestamp]
    ended_at: Mapped[dt.datetime | None]
    # Twilio's CallStatus for the attempt, or "unconfirmed" when it was answered but no key pressed.
    result: Mapped[str16 | None]
    confirmed: Mapped[bool] = mapped_column(default=False)
