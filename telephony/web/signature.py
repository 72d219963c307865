"""Every Twilio webhook proves it came from Twilio: X-Twilio-Signature, checked with twilio's
RequestValidator against the URL Twilio called. There is no setting that turns this off.

Behind a TLS-terminating proxy Flask sees http:// and an inside host, so the URL is rebuilt from
HELPLINE_PUBLIC_BASE_URL, or from the X-Forwarded-* headers when HELPLINE_PROXY_COUNT says how
many proxies to trust (ProxyFix, installed by create_app).
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Response, request
from twilio.request_validator import RequestValidator

from console.domain.errors import ValidationFailed
from console.web.security import public
from telephony import runtime

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def twilio_url() -> str:
    """The absolute URL Twilio signed: public base (or the request's own), path and raw query."""
    rt = runtime.get()
    base = rt.tset.public_base_url or request.host_url.rstrip("/")
    url = base + quote(request.path, safe="/-_.~")
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return url


def _valid(token: str, signature: str) -> bool:
    """The exact URL first (one HMAC, the usual case), then RequestValidator's own check, which
    also tries the URL with and without its port, as Twilio's signing is inconsistent there."""
    validator = RequestValidator(token)
    url = twilio_url()
    expected = validator.compute_signature(url, request.form)
    if hmac.compare_digest(expected.encode(), signature.encode()):
        return True
    return bool(validator.validate(url, request.form, signature))


def _refuse(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def signed(view: F) -> F:
    """Public to the network, but answered only when Twilio's signature matches (else 403)."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        rt = runtime.get()
        rule = request.url_rule.rule if request.url_rule else "-"
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            log.warning("webhook %s refused: no X-Twilio-Signature", rule)
            return _refuse(403, "Forbidden: this URL answers only requests signed by Twilio.")
        valid = rt.tset.token_configured and _valid(rt.tset.auth_token, signature)
        if not valid:
            log.warning("webhook %s refused: the signature does not match", rule)
            return _refuse(403, "Forbidden: the signature does not match this URL and body.")
        account = request.form.get("AccountSid")
        if rt.tset.account_sid and account != rt.tset.account_sid:
            log.warning("webhook %s refused: another Twilio account", rule)
            return _refuse(403, "Forbidden: the request is for another Twilio account.")
        if not rt.tset.public_base_url:
            rt.seen_base_url = request.host_url.rstrip("/")
        try:
            return view(*args, **kwargs)
        except ValidationFailed as exc:
            log.warning("webhook %s refused: %s", rule, exc.message)
            return _refuse(400, f"Bad request: {exc.message}")

    return public(checked)  # type: ignore[return-value]
