"""The operator's side of telephony: the Voice SDK token, what the line knows of a call (never the
number), blocking an abusive caller, warm transfers, and the pending callbacks for the shift lead.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from console.domain.contacts import Channel, Contact, get_contact
from console.domain.errors import DomainError, NotYourContact, ValidationFailed
from console.domain.operators import TAKING_CONTACTS, Operator, Role, get_operator
from console.web import database, inputs
from console.web.security import LEADS, STAFF, roles
from telephony import privacy, runtime, transfers, twiml
from telephony.models import Callback, CallbackState, CallLeg, LegState

bp = Blueprint(
    "telephony_console", __name__, url_prefix="/api/voice", template_folder="../templates"
)


class VoiceNotConfigured(DomainError):
    status = 503
    code = "voice_not_configured"


def _leg(session: Session, contact: Contact) -> CallLeg:
    if contact.channel not in (Channel.VOICE, Channel.CALLBACK) or not contact.channel_ref:
        raise ValidationFailed("This contact is not a call.")
    leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == contact.channel_ref))
    if leg is None:
        raise ValidationFailed("The line has no record of this call.")
    return leg


def _may_act(session: Session, contact: Contact) -> None:
    operator = get_operator(session, current_user.operator_id)
    if contact.operator_id != operator.id and operator.role not in (Role.SHIFT_LEAD, Role.ADMIN):
        raise NotYourContact("Only the operator on the call or a shift lead can do this.")


@bp.route("/token")
@roles(*STAFF)
def token() -> ResponseReturnValue:
    """An access token for this operator's browser phone (identity operator_<id>, no name)."""
    rt = runtime.get()
    session = database.session()
    operator = get_operator(session, current_user.operator_id)
    desk = rt.tset.desk_phones.get(operator.username)
    common = {"block_hours": list(rt.tset.block_hours)}
    if desk:
        return jsonify(mode="desk_phone", identity=None, token=None, **common)
    if not rt.tset.voice_sdk_configured and "telephony.simulator" in current_app.extensions:
        # The demo's simulated Twilio: an accepted call answers by itself, no browser phone.
        return jsonify(mode="simulated", identity=None, token=None, **common)
    if not rt.tset.voice_sdk_configured:
        raise VoiceNotConfigured(
            "Answering in the browser needs TWILIO_ACCOUNT_SID, TWILIO_API_KEY_SID and "
            "TWILIO_API_KEY_SECRET."
        )
    identity = twiml.client_identity(operator.id)
    access = AccessToken(
        rt.tset.account_sid,
        rt.tset.api_key_sid,
        rt.tset.api_key_secret,
        identity=identity,
        ttl=rt.tset.token_ttl,
    )
    access.add_grant(
        VoiceGrant(incoming_allow=True, outgoing_application_sid=rt.tset.twiml_app_sid)
    )
    return jsonify(
        mode="browser",
        identity=identity,
        token=access.to_jwt(),
        expires_in=rt.tset.token_ttl,
        **common,
    )


def describe(session: Session, contact: Contact, leg: CallLeg) -> dict[str, Any]:
    info: dict[str, Any] = {
        "contact_id": contact.id,
        "state": leg.state,
        "country": leg.country,
        "withheld": leg.withheld,
        "calls_today": privacy.calls_today(session, leg),
        "block_pending": bool(leg.block_hours),
        "callback": None,
        "block_hours": list(runtime.get().tset.block_hours),
    }
    if leg.callback_id is not None:
        callback = session.get(Callback, leg.callback_id)
        if callback is not None:
            info["callback"] = {
                "attempt": callback.attempts,
                "max_attempts": callback.max_attempts,
                "window_end": callback.window_end.isoformat(),
            }
    return info


@bp.route("/calls/<int:contact_id>")
@roles(*STAFF)
def call(contact_id: int) -> ResponseReturnValue:
    session = database.session()
    contact = get_contact(session, contact_id)
    return jsonify(describe(session, contact, _leg(session, contact)))


@bp.route("/calls/<int:contact_id>/block", methods=["POST"])
@roles(*STAFF)
def block(contact_id: int) -> ResponseReturnValue:
    """Block the caller for a set time. The block hash is made from the call's own next webhook
    (or, once it has ended, by reading the call back from Twilio): the number is never stored."""
    rt = runtime.get()
    data = inputs.body()
    hours = inputs.integer(data, "hours")
    if hours not in rt.tset.block_hours:
        allowed = ", ".join(str(h) for h in rt.tset.block_hours)
        raise ValidationFailed(f"hours: one of {allowed}")
    session = database.session()
    contact = get_contact(session, contact_id)
    _may_act(session, contact)
    leg = _leg(session, contact)
    if leg.withheld:
        raise ValidationFailed("A withheld number cannot be told apart from others to block it.")
    leg.block_hours = hours
    leg.block_operator_id = current_user.operator_id
    ended = leg.state == LegState.ENDED
    leg_id = leg.id
    session.commit()
    if ended:
        rt.enqueue("telephony.jobs.fulfil_block", leg_id)
    return jsonify(block={"contact_id": contact_id, "hours": hours, "pending": True})


@bp.route("/colleagues")
@roles(*STAFF)
def colleagues() -> ResponseReturnValue:
    """Who a call can be handed to: colleagues taking contacts, shift leads marked."""
    session = database.session()
    rows = session.scalars(
        select(Operator)
        .where(Operator.active, Operator.id != current_user.operator_id)
        .order_by(Operator.display_name)
    )
    return jsonify(
        colleagues=[
            {
                "id": op.id,
                "display_name": op.display_name,
                "lead": op.is_lead,
                "presence": op.presence,
                "available": op.presence in TAKING_CONTACTS,
            }
            for op in rows
        ]
    )


@bp.route("/calls/<int:contact_id>/warm-transfer", methods=["POST"])
@roles(*STAFF)
def warm_transfer(contact_id: int) -> ResponseReturnValue:
    data = inputs.body()
    to_operator_id = inputs.integer(data, "to_operator_id")
    assert to_operator_id is not None
    session = database.session()
    contact = get_contact(session, contact_id)
    if contact.operator_id != current_user.operator_id:
        raise NotYourContact("Only the operator on the call can hand it over.")
    transfers.start_warm(runtime.get(), session, contact, _leg(session, contact), to_operator_id)
    session.commit()
    return jsonify(transfer={"contact_id": contact_id, "to_operator_id": to_operator_id})


@bp.route("/calls/<int:contact_id>/hand-over", methods=["POST"])
@roles(*STAFF)
def hand_over(contact_id: int) -> ResponseReturnValue:
    session = database.session()
    contact = get_contact(session, contact_id)
    if contact.operator_id != current_user.operator_id:
        raise NotYourContact("Only the operator on the call can hand it over.")
    successor = transfers.hand_over(runtime.get(), session, contact, _leg(session, contact))
    session.commit()
    return jsonify(contact=successor.to_public())


@bp.route("/callbacks")
@roles(*LEADS)
def pending_callbacks() -> ResponseReturnValue:
    """Callbacks still to make: window, attempts, state. Never the number."""
    session = database.session()
    rows = session.scalars(
        select(Callback)
        .where(Callback.closed_at.is_(None))
        .order_by(Callback.window_start, Callback.id)
    )
    return jsonify(
        callbacks=[
            {
                "id": cb.id,
                "language": cb.language,
                "topic": cb.topic,
                "window_start": cb.window_start.isoformat(),
                "window_end": cb.window_end.isoformat(),
                "state": cb.state,
                "attempts": cb.attempts,
                "max_attempts": cb.max_attempts,
                "pending": cb.state in (CallbackState.SCHEDULED, CallbackState.CALLING),
            }
            for cb in rows
        ]
    )
