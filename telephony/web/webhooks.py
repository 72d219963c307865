"""The webhooks Twilio calls, all under /voice, all signed (see signature.py), all quick.

Set the number's Voice URL to POST /voice/incoming, its status callback to POST /voice/status, and
its Fallback URL to GET /voice/static/fallback.xml hosted elsewhere (the fallback must work when
this app does not). No webhook touches Redis: the database is written, events fan out best-effort.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue
from twilio.twiml.voice_response import VoiceResponse

from console.db import INTEGER_MAX, utcnow
from console.domain.errors import ValidationFailed
from console.extensions import csrf
from telephony import callbacks, ivr, legs, runtime, transfers, waiting
from telephony.params import CallParams, parse
from telephony.web.signature import signed

bp = Blueprint(
    "telephony",
    __name__,
    url_prefix="/voice",
    static_folder="../static",
    static_url_path="/static",
)
csrf.exempt(bp)

_CODE = re.compile(r"^[A-Za-z0-9-]{1,16}\Z")


def _twiml(document: VoiceResponse | str) -> Response:
    return Response(str(document), mimetype="application/xml")


def _no_content() -> Response:
    return Response(status=204)


def _int_arg(name: str, maximum: int = INTEGER_MAX) -> int:
    value = request.args.get(name, "")
    # ASCII digits only: str.isdigit() also admits "²", which int() refuses.
    if not re.fullmatch(r"[0-9]{1,12}", value) or int(value) > maximum:
        raise ValidationFailed(f"{name}: expected a whole number in the URL")
    return int(value)


def _code_arg(name: str) -> str:
    value = request.args.get(name, "")
    return value if _CODE.match(value) else ""


def _params(caller_field: str | None = "From") -> CallParams:
    return parse(request.form, caller_field=caller_field)


@bp.route("/incoming", methods=["POST"])
@signed
def incoming() -> ResponseReturnValue:
    return _twiml(ivr.incoming(runtime.get(), _params(), utcnow()))


@bp.route("/language", methods=["POST"])
@signed
def language() -> ResponseReturnValue:
    rt = runtime.get()
    return _twiml(ivr.choose_language(rt, _params(), _code_arg("s"), utcnow()))


@bp.route("/topic", methods=["POST"])
@signed
def topic() -> ResponseReturnValue:
    return _twiml(ivr.choose_topic(runtime.get(), _params(), _code_arg("l"), utcnow()))


@bp.route("/closed", methods=["POST"])
@signed
def closed() -> ResponseReturnValue:
    return _twiml(ivr.closed_in(runtime.get(), _params()))


@bp.route("/wait", methods=["POST"])
@signed
def wait() -> ResponseReturnValue:
    params = _params(caller_field=None)
    return _twiml(waiting.wait(runtime.get(), params, _code_arg("l"), utcnow()))


@bp.route("/wait-key", methods=["POST"])
@signed
def wait_key() -> ResponseReturnValue:
    return _twiml(waiting.wait_key(runtime.get(), _params(caller_field=None)))


@bp.route("/queue-result", methods=["POST"])
@signed
def queue_result() -> ResponseReturnValue:
    params = _params(caller_field=None)
    return _twiml(waiting.queue_result(runtime.get(), params, utcnow()))


@bp.route("/status", methods=["POST"])
@signed
def status() -> ResponseReturnValue:
    legs.status(runtime.get(), _params(), utcnow())
    return _no_content()


@bp.route("/bridge", methods=["POST"])
@signed
def bridge() -> ResponseReturnValue:
    params = _params(caller_field=None)
    return _twiml(legs.bridge(runtime.get(), params, _int_arg("c"), utcnow()))


@bp.route("/operator-leg", methods=["POST"])
@signed
def operator_leg() -> ResponseReturnValue:
    legs.operator_leg(runtime.get(), _params(caller_field=None), _int_arg("c"), utcnow())
    return _no_content()


@bp.route("/dial-result", methods=["POST"])
@signed
def dial_result() -> ResponseReturnValue:
    params = _params(caller_field=None)
    return _twiml(legs.dial_result(runtime.get(), params, _int_arg("c"), utcnow()))


@bp.route("/requeue", methods=["POST"])
@signed
def requeue() -> ResponseReturnValue:
    return _twiml(legs.requeue(runtime.get(), _params(caller_field=None), utcnow()))


@bp.route("/conference", methods=["POST"])
@signed
def conference() -> ResponseReturnValue:
    name = request.args.get("n", "")
    if not re.fullmatch(r"helpline-leg-[0-9]{1,12}", name):
        raise ValidationFailed("n: not a conference of this line")
    role = request.args.get("r", "")
    if role not in ("operator", "colleague", "caller"):
        raise ValidationFailed("r: operator, colleague or caller")
    leg_id = _int_arg("leg") if "leg" in request.args else None
    params = _params(caller_field=None)
    return _twiml(transfers.join(runtime.get(), params, name, role, leg_id))


@bp.route("/colleague-leg", methods=["POST"])
@signed
def colleague_leg() -> ResponseReturnValue:
    transfers.colleague_status(runtime.get(), _params(caller_field=None), _int_arg("leg"))
    return _no_content()


@bp.route("/conference-end", methods=["POST"])
@signed
def conference_end() -> ResponseReturnValue:
    params = _params(caller_field=None)
    return _twiml(transfers.conference_end(runtime.get(), params, utcnow()))


@bp.route("/callback/consent", methods=["POST"])
@signed
def callback_consent() -> ResponseReturnValue:
    rt = runtime.get()
    return _twiml(callbacks.consent_step(rt, _params(), _code_arg("l"), utcnow()))


@bp.route("/callback/window", methods=["POST"])
@signed
def callback_window() -> ResponseReturnValue:
    rt = runtime.get()
    reference = _int_arg("t", maximum=10**12)  # a time stamp, not a row id
    return _twiml(callbacks.window_step(rt, _params(), _code_arg("l"), reference, utcnow()))


# The calls below are ones the line placed: `To` is the caller's number, and is never read.


@bp.route("/callback/answer", methods=["POST"])
@signed
def callback_answer() -> ResponseReturnValue:
    rt = runtime.get()
    return _twiml(callbacks.answer(rt, _params(caller_field=None), _int_arg("cb")))


@bp.route("/callback/confirm", methods=["POST"])
@signed
def callback_confirm() -> ResponseReturnValue:
    rt = runtime.get()
    params = _params(caller_field=None)
    return _twiml(callbacks.confirm(rt, params, _int_arg("cb"), utcnow()))


@bp.route("/callback/status", methods=["POST"])
@signed
def callback_status() -> ResponseReturnValue:
    rt = runtime.get()
    callbacks.attempt_status(rt, _params(caller_field=None), _int_arg("cb"), utcnow())
    return _no_content()
