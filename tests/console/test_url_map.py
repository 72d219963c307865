"""Every route needs a logged-in user with the right role, except those declared public."""

from __future__ import annotations

import re

from flask import Flask

from console.web.security import view_policy

# The public surface, and why each is public. A new public route must be added here on purpose.
PUBLIC = {
    "auth.login",  # the way in
    "health.healthz",  # for load balancers and monitoring
    "static",
}
PUBLIC_PREFIXES = (
    "telephony.",  # Twilio webhooks: each checks X-Twilio-Signature instead
    "chat_visitor.",  # the visitor's chat: anonymous by design, guarded by its own token
)


def _fill(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule)


def test_every_route_is_public_on_purpose_or_role_protected(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        is_public, allowed = view_policy(app, rule.endpoint)
        if is_public:
            assert (
                rule.endpoint in PUBLIC
                or rule.endpoint.startswith(PUBLIC_PREFIXES)
                or rule.endpoint.endswith(".static")
            ), f"{rule.endpoint} ({rule.rule}) is public but not declared so in this test"
            continue
        assert allowed, f"{rule.endpoint} declares no roles and would refuse everyone"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(_fill(rule.rule), method=method)
            assert response.status_code in (302, 400, 401), (
                f"{method} {rule.rule} answered {response.status_code} to an anonymous user"
            )
            if response.status_code == 302:
                assert "/login" in response.headers["Location"]
            checked += 1
    assert checked >= 8


def test_operator_role_cannot_reach_shift_lead_pages(app: Flask, database) -> None:  # type: ignore[no-untyped-def]
    from tests.support import login, make_operator

    make_operator(database, "ana")
    make_operator(database, "lea", role="shift_lead")
    client = app.test_client()
    login(client, "ana")
    assert client.get("/lead").status_code == 403
    assert client.get("/api/lead/stats").status_code == 403
    lead = app.test_client()
    login(lead, "lea")
    assert lead.get("/api/lead/stats").status_code == 200


def test_a_view_without_a_declaration_is_refused_to_everyone(app: Flask, database) -> None:  # type: ignore[no-untyped-def]
    from tests.support import login, make_operator

    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    make_operator(database, "adm", role="admin")
    client = app.test_client()
    login(client, "adm")
    assert client.get("/undeclared").status_code == 403
