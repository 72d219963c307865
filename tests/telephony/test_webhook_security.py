"""Only Twilio gets answers: forged, missing or misplaced signatures, replayed bodies with a
parameter changed and malformed callers are refused (403 or a clear 4xx), and nothing is created."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator

from console.settings import Settings, load_settings
from telephony.simulator import SimulatedTwilio, new_sid
from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE, voice_env

INCOMING = f"{PUBLIC_BASE}/voice/incoming"


def _params(**extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": new_sid(),
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": "+32470123456",
        "To": "+3225550100",
        **extra,
    }


def _sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def _post(client: Any, path: str, params: dict[str, str], signature: str | None) -> Any:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return client.post(path, data=params, headers=headers, base_url=PUBLIC_BASE)


@pytest.fixture
def client(voice_app: Flask, expect_logs: Any) -> Any:
    expect_logs("refused")
    return voice_app.test_client()


def test_a_correctly_signed_call_is_answered(client: Any, counts: Callable[[], Any]) -> None:
    params = _params()
    response = _post(client, "/voice/incoming", params, _sign(INCOMING, params))
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert "<Gather" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("case", "signature"),
    [
        ("missing", None),
        ("empty", ""),
        ("garbage", "not-a-signature"),
        ("other token", "other"),
    ],
)
def test_forged_or_missing_signatures_get_403_and_create_nothing(
    client: Any, counts: Callable[[], Any], case: str, signature: str | None
) -> None:
    params = _params(Digits="0")
    if signature == "other":
        signature = _sign(f"{PUBLIC_BASE}/voice/topic?l=en", params, token="someone-elses-token")
    # /voice/topic is the queue step, the webhook that writes a contact.
    for path in ("/voice/incoming", "/voice/topic?l=en", "/voice/status"):
        response = _post(client, path, params, signature)
        assert response.status_code == 403, (case, path)
        assert "Forbidden" in response.get_data(as_text=True)
    assert counts() == (0, 0)


def test_a_signature_for_another_url_gets_403(client: Any, counts: Callable[[], Any]) -> None:
    params = _params(Digits="0")
    # Signed for the wait URL, sent to the queue step; and signed for another host.
    wrong_path = _sign(f"{PUBLIC_BASE}/voice/wait?l=en", params)
    assert _post(client, "/voice/topic?l=en", params, wrong_path).status_code == 403
    wrong_host = _sign("https://attacker.example.com/voice/topic?l=en", params)
    assert _post(client, "/voice/topic?l=en", params, wrong_host).status_code == 403
    wrong_query = _sign(f"{PUBLIC_BASE}/voice/topic?l=fr", params)
    assert _post(client, "/voice/topic?l=en", params, wrong_query).status_code == 403
    assert counts() == (0, 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("From", "+32470999999"),
        ("CallSid", new_sid()),
        ("Digits", "1"),
        ("AccountSid", "AC" + "9" * 32),
    ],
)
def test_a_replayed_body_with_one_parameter_changed_gets_403(
    client: Any, counts: Callable[[], Any], name: str, value: str
) -> None:
    url = f"{PUBLIC_BASE}/voice/topic?l=en"
    params = _params(Digits="0")
    signature = _sign(url, params)
    tampered = {**params, name: value}
    assert _post(client, "/voice/topic?l=en", tampered, signature).status_code == 403
    assert counts() == (0, 0)
    # The untouched original is accepted (Twilio retries the same request byte for byte).
    assert _post(client, "/voice/topic?l=en", params, signature).status_code == 200
    assert counts() == (1, 1)


def test_an_added_parameter_also_breaks_the_signature(
    client: Any, counts: Callable[[], Any]
) -> None:
    params = _params(Digits="0")
    signature = _sign(f"{PUBLIC_BASE}/voice/topic?l=en", params)
    extended = {**params, "Extra": "1"}
    assert _post(client, "/voice/topic?l=en", extended, signature).status_code == 403
    assert counts() == (0, 0)


@pytest.mark.parametrize(
    "caller",
    ["hello", "+32 470 12 34 56", "+32470<script>", "+3247012345678901234567", "0470;DROP", "+"],
)
def test_a_malformed_from_gets_a_clear_400_and_creates_nothing(
    client: Any, counts: Callable[[], Any], caller: str
) -> None:
    for path in ("/voice/incoming", "/voice/topic?l=en"):
        params = _params(From=caller, Digits="0")
        response = _post(client, path, params, _sign(f"{PUBLIC_BASE}{path}", params))
        assert response.status_code == 400, (caller, path)
        body = response.get_data(as_text=True)
        assert body.startswith("Bad request: From: expected a phone number")
        assert caller not in body or caller in ("+",)
    assert counts() == (0, 0)


@pytest.mark.parametrize("bad", [{"CallSid": "CA123"}, {"CallSid": ""}, {"Digits": "1;2"}])
def test_malformed_call_parameters_get_a_clear_400(
    client: Any, counts: Callable[[], Any], bad: dict[str, str]
) -> None:
    params = {**_params(Digits="0"), **bad}
    url = f"{PUBLIC_BASE}/voice/topic?l=en"
    response = _post(client, "/voice/topic?l=en", params, _sign(url, params))
    assert response.status_code == 400
    assert response.get_data(as_text=True).startswith("Bad request: ")
    assert counts() == (0, 0)


def test_every_telephony_webhook_refuses_an_unsigned_request(voice_app: Flask, client: Any) -> None:
    checked = 0
    for rule in voice_app.url_map.iter_rules():
        if not rule.endpoint.startswith("telephony.") or rule.endpoint == "telephony.static":
            continue
        path = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, data=_params(), base_url=PUBLIC_BASE)
            assert response.status_code == 403, f"{method} {rule.rule}"
            checked += 1
    assert checked >= 15


def test_without_an_auth_token_in_production_every_webhook_is_refused(
    config_dir: Any, database_url: str, database: Any, tmp_path: Any, expect_logs: Any
) -> None:
    expect_logs("TWILIO_AUTH_TOKEN is not set", "refused")
    from console.app import create_app, shutdown

    env = voice_env(database_url, HELPLINE_SECRET_KEY="x" * 32, HELPLINE_IDENTITY_KEYS="")
    env.pop("TWILIO_AUTH_TOKEN")
    from console.domain import crypto

    env["HELPLINE_IDENTITY_KEYS"] = crypto.generate_key()
    settings: Settings = load_settings(
        mode="production", env=env, config_dir=config_dir, instance_dir=tmp_path
    ).with_overrides(background_tasks=False)
    app = create_app(settings, database)
    try:
        params = _params()
        # Even a request signed with what the token would be if it were empty is refused.
        for token in ("", "test"):
            signature = RequestValidator(token).compute_signature(INCOMING, params)
            response = _post(app.test_client(), "/voice/incoming", params, signature)
            assert response.status_code == 403
    finally:
        shutdown(app)


def test_behind_a_tls_proxy_the_public_url_is_what_counts(
    voice_app: Flask, client: Any, twilio: SimulatedTwilio
) -> None:
    # Flask sees http://10.0.0.5:8000 behind the proxy; Twilio signed https://helpline.example.org.
    params = _params()
    signature = _sign(INCOMING, params)
    inside = client.post(
        "/voice/incoming",
        data=params,
        headers={"X-Twilio-Signature": signature},
        base_url="http://10.0.0.5:8000",
    )
    assert inside.status_code == 200


def test_proxy_fix_rebuilds_the_url_when_no_public_base_is_set(
    config_dir: Any, database_url: str, database: Any, tmp_path: Any
) -> None:
    from console.app import create_app, shutdown

    env = voice_env(database_url, HELPLINE_PROXY_COUNT="1")
    env.pop("HELPLINE_PUBLIC_BASE_URL")
    settings = load_settings(
        mode="test", env=env, config_dir=config_dir, instance_dir=tmp_path
    ).with_overrides(background_tasks=False)
    app = create_app(settings, database)
    try:
        params = _params()
        signature = _sign("https://calls.example.net/voice/incoming", params)
        response = app.test_client().post(
            "/voice/incoming",
            data=params,
            headers={
                "X-Twilio-Signature": signature,
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "calls.example.net",
            },
            base_url="http://10.0.0.5:8000",
        )
        assert response.status_code == 200
    finally:
        shutdown(app)


@pytest.mark.parametrize("value", ["\u00b2", "1\n", "2147483648", "9999999999999"])
def test_a_signed_webhook_with_a_bad_number_in_its_url_gets_a_clear_400(
    client: Any, counts: Callable[[], Any], value: str
) -> None:
    """Twilio signs the URL we gave it, but a forged or mangled one can still be signed by
    someone with the token: "²" passes str.isdigit() and fails int()."""
    from urllib.parse import quote

    params = _params()
    path = f"/voice/bridge?c={quote(value)}"
    response = _post(client, path, params, _sign(f"{PUBLIC_BASE}{path}", params))
    assert response.status_code == 400
    assert response.get_data(as_text=True).startswith("Bad request: ")
    assert counts() == (0, 0)
