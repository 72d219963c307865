"""Telephony's jobs: each takes IDs only (never a number), reads the database, and is idempotent.

The periodic sweep redoes what a lost job would have done: bridges that never reached the call,
callback attempts that are due. Housekeeping drops past days' hash keys and hashes, and lapsed
blocks.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update

from console.db import utcnow
from console.domain.contacts import Contact, State
from console.jobs.periodic import PeriodicJob, register
from telephony import callbacks, privacy, runtime, twiml
from telephony.models import CallLeg, LegState
from telephony.rest import RestUnavailable

log = logging.getLogger(__name__)

BRIDGE_RETRY_AFTER = dt.timedelta(seconds=15)
BRIDGE_MAX_ATTEMPTS = 4


def bridge_call(contact_id: int) -> None:
    """Redirect an accepted contact's call out of the queue to ring its operator."""
    rt = runtime.get()
    with rt.database.transaction(write=False) as session:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.state != State.ACTIVE or not contact.channel_ref:
            return
        leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == contact.channel_ref))
        if leg is None or leg.state != LegState.BRIDGING or leg.contact_id != contact_id:
            return
        call_sid = leg.call_sid
    try:
        rt.rest.redirect(call_sid, rt.url(twiml.path("bridge", c=contact_id)))
    except (RestUnavailable, RuntimeError) as exc:
        log.warning("contact %s: the call could not be bridged yet (%s)", contact_id, exc)


def requeue_call(contact_id: int) -> None:
    """After a cold transfer: the call leaves the operator and waits for its next leg."""
    rt = runtime.get()
    with rt.database.transaction(write=False) as session:
        contact = session.get(Contact, contact_id)
        if contact is None or not contact.channel_ref:
            return
        leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == contact.channel_ref))
        if leg is None or leg.state in (LegState.ENDED, LegState.CONFERENCE):
            return
        call_sid = leg.call_sid
    try:
        rt.rest.redirect(call_sid, rt.url(twiml.path("requeue")))
    except (RestUnavailable, RuntimeError) as exc:
        log.warning("contact %s: the call could not be put back in the queue (%s)", contact_id, exc)


def hang_up_call(leg_id: int) -> None:
    rt = runtime.get()
    with rt.database.transaction(write=False) as session:
        leg = session.get(CallLeg, leg_id)
        if leg is None or leg.state == LegState.ENDED:
            return
        call_sid = leg.call_sid
    try:
        rt.rest.hang_up(call_sid)
    except (RestUnavailable, RuntimeError) as exc:
        log.warning("call leg %s could not be hung up (%s)", leg_id, exc)


def fulfil_block(leg_id: int) -> None:
    """A block asked for after the call ended: read the caller back from Twilio, keep only the
    block hash."""
    rt = runtime.get()
    with rt.database.transaction(write=False) as session:
        leg = session.get(CallLeg, leg_id)
        if leg is None or not leg.block_hours:
            return
        call_sid = leg.call_sid
    try:
        raw = rt.rest.caller_of(call_sid)
    except (RestUnavailable, RuntimeError) as exc:
        log.warning("call leg %s: the block could not be made (%s)", leg_id, exc)
        return
    try:
        caller = privacy.classify(raw)
    except privacy.MalformedCaller:
        caller = privacy.Caller(withheld=True)
    del raw
    from telephony.legs import block_from_caller

    with rt.database.transaction() as session:
        leg = session.get_one(CallLeg, leg_id)
        if leg.block_hours:
            block_from_caller(rt, session, leg, caller, utcnow())


def warm_transfer(leg_id: int, move_legs: int) -> None:
    from telephony.transfers import run_warm_transfer

    run_warm_transfer(leg_id, move_legs)


def sweep() -> None:
    """Every few seconds: bridges that never arrived, and callbacks that are due."""
    rt = runtime.get()
    now = utcnow()
    with rt.database.transaction() as session:
        stuck = list(
            session.scalars(
                select(CallLeg).where(
                    CallLeg.state == LegState.BRIDGING,
                    CallLeg.bridge_requested_at < now - BRIDGE_RETRY_AFTER,
                    CallLeg.bridge_attempts < BRIDGE_MAX_ATTEMPTS,
                )
            )
        )
        retry: list[int] = []
        for leg in stuck:
            moved = session.execute(
                update(CallLeg)
                .where(CallLeg.id == leg.id, CallLeg.version == leg.version)
                .values(
                    bridge_requested_at=now,
                    bridge_attempts=CallLeg.bridge_attempts + 1,
                    version=CallLeg.version + 1,
                )
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if moved == 1 and leg.contact_id is not None:
                retry.append(leg.contact_id)
    for contact_id in retry:
        bridge_call(contact_id)
    placed = callbacks.sweep(rt, now)
    if retry or placed:
        log.info("telephony sweep: %d bridges retried, %d callbacks placed", len(retry), placed)


def housekeeping() -> None:
    rt = runtime.get()
    now = utcnow()
    with rt.database.transaction() as session:
        keys, hashes, blocks = privacy.forget_old(session, privacy.local_day(now, rt.tz), now)
    if keys or hashes or blocks:
        rt.database.truncate_wal()
    if keys or hashes or blocks:
        log.info(
            "telephony housekeeping: %d day keys, %d call hashes, %d lapsed blocks removed",
            keys,
            hashes,
            blocks,
        )


register(PeriodicJob("telephony.jobs.sweep", every=10))
register(PeriodicJob("telephony.jobs.housekeeping", every=300))
