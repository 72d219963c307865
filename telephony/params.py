"""A verified Twilio webhook's parameters, checked and typed; `From` only ever as a `Caller`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from console.domain.errors import ValidationFailed
from telephony.privacy import Caller, MalformedCaller, classify

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}\Z")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}\Z")
_DIGITS = re.compile(r"^[0-9*#]{0,32}\Z")


@dataclass(frozen=True)
class CallParams:
    call_sid: str
    caller: Caller = field(repr=False)
    # Our own number that was dialled (Twilio's `To` on an incoming call), when it is one.
    line: str | None
    digits: str
    values: Mapping[str, str] = field(repr=False)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def number(self, name: str, default: int = 0) -> int:
        try:
            return int(self.values.get(name, default))
        except ValueError:
            return default


def parse(form: Mapping[str, str], *, caller_field: str | None = "From") -> CallParams:
    """Check a webhook's parameters; a malformed one is a ValidationFailed (422), nothing done.

    `caller_field` names the parameter holding the caller: `From` on an incoming call, `To` on a
    callback we placed, None where the caller is not needed.
    """
    call_sid = form.get("CallSid", "")
    if not CALL_SID.match(call_sid):
        raise ValidationFailed("CallSid: expected CA followed by 32 hexadecimal digits")
    digits = form.get("Digits", "")
    if not _DIGITS.match(digits):
        raise ValidationFailed("Digits: only 0-9, * and #")
    caller = Caller(withheld=True)
    if caller_field is not None:
        try:
            caller = classify(form.get(caller_field))
        except MalformedCaller as exc:
            raise ValidationFailed(str(exc).replace("From", caller_field)) from None
    to = form.get("To", "").strip()
    line = to if caller_field == "From" and _E164.match(to) else None
    return CallParams(
        call_sid=call_sid,
        caller=caller,
        line=line,
        digits=digits,
        values={k: str(v) for k, v in form.items()},
    )
