"""The anonymity audit.

A distinctive name, number and sentence are planted through every channel path in the tree, once
without consent and once with it. Then the database (the SQLite file and its WAL, or a pg_dump of
the PostgreSQL database, whichever engine this run uses), every Redis key and value, every log line
(at DEBUG, SQL statements included) and every export are searched:

- without consent the planted values are found nowhere;
- with consent they are found only as ciphertext (the stored tokens decrypt to them and sit in the
  database, while the plain text does not);
- after erasure (the person's request, consents withdrawn, the retention and purge jobs) not even
  the ciphertext is left.

Each path is one function in PATHS; adding a channel is one line there. The voice and chat paths
run when those packages are in the tree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import subprocess
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from sqlalchemy import select

from console.app import create_app, shutdown
from console.cli import main as cli
from console.db import Database, utcnow
from console.domain import consent, crypto, retention, rotation
from console.jobs.runner import QUEUE_NAME, JobRunner
from console.settings import DEFAULT_CONFIG_DIR, Settings, load_settings
from tests.records.conftest import kb_service
from tests.records.test_wrapup import full_body
from tests.support import login, make_operator, sqlite_files

NAME = "Zebulon Quennell-Varga"
NUMBER = "+32470987654"
SENTENCE = "The heron counts seventeen lanterns over Oostende"
# Every form the values could take in storage, in a log line or in a URL.
NEEDLES = {
    "name": [NAME, "Zebulon", "Quennell"],
    "number": [NUMBER, "+32 470 98 76 54", "0470987654", "470987654", "470 98 76 54"],
    "sentence": [SENTENCE, "heron counts seventeen", "lanterns over Oostende"],
}

try:  # the channels, when they are in the tree
    import telephony.simulator as voice_simulator
except ImportError:  # pragma: no cover - depends on the tree
    voice_simulator = None  # type: ignore[assignment]
try:
    import chat.models as chat_models
except ImportError:  # pragma: no cover
    chat_models = None  # type: ignore[assignment]


# ---------------------------------------------------------------------- the world


class Staff:
    """A logged-in console (HTTP)."""

    def __init__(self, app: Flask, database: Database, username: str, role: str) -> None:
        self.id = make_operator(database, username, role=role)
        self.http: FlaskClient = app.test_client()
        self.token = login(self.http, username)

    def post(self, url: str, body: dict[str, Any] | None = None) -> Any:
        return self.http.post(url, json=body or {}, headers={"X-CSRFToken": self.token})

    def put(self, url: str, body: dict[str, Any]) -> Any:
        return self.http.put(url, json=body, headers={"X-CSRFToken": self.token})

    def ok(self, url: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        response = self.post(url, body)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()


@dataclass
class World:
    app: Flask
    database: Database
    settings: Settings
    redis_url: str
    consent: bool
    ana: Staff
    # What was kept under consent and how to erase it: one callable per path.
    erasures: list[Callable[[], None]] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(
            cli,
            list(args),
            env={
                "HELPLINE_DATABASE_URL": self.database.url,
                "HELPLINE_MODE": "test",
                "HELPLINE_IDENTITY_KEYS": ",".join(crypto.ring().keys),
            },
        )
        assert result.exit_code == 0, result.output
        return result.output


# ---------------------------------------------------------------------- the paths


def plant_console(world: World) -> None:
    """The spine's HTTP API (intake, accept, wrap-up) and the records API (drafts, triage,
    consent, identity), as an operator's console uses them."""
    ana = world.ana
    for name, values in NEEDLES.items():
        for value in values[:1]:
            for where in ("topic", "source", "language"):
                refused = ana.post("/api/intake", {"language": "nl", where: value})
                assert refused.status_code == 422, (name, where)
    contact = ana.ok("/api/intake", {"language": "nl", "topic": "general"}, status=201)["contact"]
    cid = contact["id"]
    ana.ok(f"/api/contacts/{cid}/accept")
    # No consent: identity cannot be written anywhere, nor slip in through codes or reasons.
    assert (
        ana.post("/api/consents/424242/identity", {"field": "name", "value": NAME}).status_code
        == 403
    )
    assert ana.post(f"/api/contacts/{cid}/triage", {"answers": [NAME]}).status_code == 422
    assert (
        ana.post("/api/consents/424242/read", {"field": "name", "reason": NAME}).status_code == 422
    )
    # The draft takes anything the operator types; it is kept encrypted.
    draft = {"note": SENTENCE, "details": {"caller_role": NAME, "country": NUMBER}}
    assert ana.put(f"/api/contacts/{cid}/draft", draft).status_code == 200
    if world.consent:
        granted = ana.ok(
            f"/api/contacts/{cid}/consents",
            {"scope": "case_follow_up", "method": "verbal"},
            status=201,
        )["consent"]
        ana.ok(f"/api/consents/{granted['id']}/identity", {"field": "name", "value": NAME})
        ana.ok(f"/api/consents/{granted['id']}/identity", {"field": "phone", "value": NUMBER})
        read = ana.ok(
            f"/api/consents/{granted['id']}/read",
            {"field": "phone", "reason": "case_follow_up", "scope": "case_follow_up"},
        )
        assert read == {"value": NUMBER}
        case_ref = ana.http.get(f"/api/contacts/{cid}/consents").get_json()["case"]["ref"]
        world.erasures.append(lambda: world.cli("erase", "--case", case_ref, "--yes"))
    refused = [
        full_body(note=f"call back on {NUMBER}"),
        full_body(details={"caller_role": NAME}),
        full_body(details={"victimisation": [SENTENCE]}),
        full_body(
            details={
                "referrals": [{"service_id": "svc-legal-aid", "name": NAME}],
                "country": NUMBER,
            }
        ),
    ]
    for body in refused:
        assert ana.post(f"/api/contacts/{cid}/wrap-up", body).status_code == 422
    # Free text is allowed in the note (the form asks not to): it is kept encrypted.
    ana.ok(f"/api/contacts/{cid}/wrap-up", full_body(note=SENTENCE))


def plant_voice(world: World) -> None:
    """A call from the planted number, with a caller name and speech in the webhooks; with
    consent the caller asks for a callback in the IVR, which keeps the number under a consent."""
    assert voice_simulator is not None
    from telephony import runtime
    from telephony.models import Callback
    from tests.telephony.conftest import InlineJobs

    twilio = voice_simulator.install(world.app)
    runtime.get().jobs = InlineJobs()
    call = twilio.call(from_=NUMBER)
    plain = call.params
    call.params = lambda **extra: plain(  # type: ignore[method-assign]
        **extra, CallerName=NAME, SpeechResult=SENTENCE, FromCity="Oostende"
    )
    call.start()
    call.press("3")  # English
    call.press("0")  # no topic
    if not world.consent:
        call.listen()
        call.hang_up()
        return
    call.listen()
    call.press("9")  # "rather be called back"
    call.press("1")  # agrees that the number is kept
    call.press("1")  # the first window
    assert call.ended
    with world.database.transaction(write=False) as s:
        consent_id = s.scalars(select(Callback.consent_id)).one()
    assert consent_id is not None

    def withdraw() -> None:
        with world.database.transaction() as s:
            consent.withdraw(s, consent_id, actor_id=None, reason="caller_request")

    world.erasures.append(withdraw)


def plant_chat(world: World) -> None:
    """A visitor writes the sentence, their name and number; the operator answers. With consent
    the visitor ticks the case-reference box and the operator keeps the name under it."""
    assert chat_models is not None
    from tests.chat.conftest import Operator as ChatOperator
    from tests.chat.conftest import Visitor, chat_contact_id

    world.app.extensions["helpline.fanout"].start()
    visitor = Visitor(world.app)
    token = visitor.start(language="en")["token"]
    contact_id = chat_contact_id(world.database, token)
    bo = ChatOperator(world.app, world.database, "bo")
    bo.accept(contact_id)
    assert visitor.say(SENTENCE, "v1")["ok"]
    assert visitor.say(f"I am {NAME}, my number is {NUMBER}", "v2")["ok"]
    bo.send(contact_id, f"Thank you, {NAME}. You said: {SENTENCE}", "o1")
    bo.ok(f"/api/contacts/{contact_id}/end")
    bo.wrap_up(contact_id, "test")
    answer = visitor.emit(
        "survey",
        {"token": token, "answers": {"helped": "yes"}, "case_reference": world.consent},
    )
    assert answer["ok"], answer
    if not world.consent:
        return
    case_ref = answer["case_reference"]
    assert case_ref
    with world.database.transaction(write=False) as s:
        consent_id = s.scalars(
            select(consent.Consent.id).where(consent.Consent.contact_id == contact_id)
        ).one()
    bo.ok(f"/api/consents/{consent_id}/identity", {"field": "name", "value": NAME})
    bo.ok(f"/api/consents/{consent_id}/identity", {"field": "phone", "value": NUMBER})
    world.erasures.append(lambda: world.cli("erase", "--case", case_ref, "--yes"))


PATHS: list[tuple[str, Callable[[World], None]]] = [
    ("console", plant_console),
    *([("voice", plant_voice)] if voice_simulator is not None else []),
    *([("chat", plant_chat)] if chat_models is not None else []),
]


# ---------------------------------------------------------------------- where to look


class _AllLogs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def all_logs() -> Iterator[_AllLogs]:
    """Every record at DEBUG and up, as with HELPLINE_LOG_LEVEL=debug (SQL statements too)."""
    handler = _AllLogs()
    root = logging.getLogger()
    sql = logging.getLogger("sqlalchemy.engine")
    previous = root.level, sql.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sql.setLevel(logging.INFO)  # statements and their parameters
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous[0])
    sql.setLevel(previous[1])


def database_haystack(database: Database) -> str:
    """The bytes the database keeps: the SQLite file and its WAL, or a pg_dump of PostgreSQL."""
    if database.is_sqlite:
        return b"\n".join(sqlite_files(database)).decode("latin-1")
    url = database.url.replace("postgresql+psycopg://", "postgresql://", 1)
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--data-only", url],
        check=True,
        capture_output=True,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
    )
    return dump.stdout.decode("utf-8", "replace")


def redis_haystack(url: str) -> str:
    client = redis.Redis.from_url(url)
    parts: list[str] = []
    for key in client.scan_iter("*"):
        parts.append(key.decode("latin-1"))
        kind = client.type(key).decode()
        values: list[Any] = []
        if kind == "string":
            values = [client.get(key)]
        elif kind == "hash":
            values = [*client.hgetall(key).keys(), *client.hgetall(key).values()]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        elif kind == "stream":
            values = [repr(client.xrange(key)).encode()]
        for value in values:
            if isinstance(value, bytes):
                parts.append(value.decode("latin-1"))
                with contextlib.suppress(zlib.error):  # RQ's job payloads are compressed
                    parts.append(zlib.decompress(value).decode("latin-1"))
    client.close()
    return "\n".join(parts)


def found(haystack: str) -> list[str]:
    lowered = haystack.lower()
    return [n for values in NEEDLES.values() for n in values if n.lower() in lowered]


def stored_tokens(database: Database) -> dict[str, str]:
    """Every encrypted value in the database (token → plaintext): identity, notes, drafts, and
    the chat's messages when the chat is in the tree."""
    columns = [(c.model, c.column) for c in rotation.COLUMNS]
    if chat_models is not None:
        columns.append((chat_models.Message, "body"))
    tokens: dict[str, str] = {}
    with database.transaction(write=False) as s:
        for model, column in columns:
            for token in s.scalars(select(getattr(model, column))):
                tokens[token] = crypto.decrypt(token)
    return tokens


# ---------------------------------------------------------------------- the test


@pytest.fixture
def world_settings(settings: Settings, tmp_path: Path, database_url: str) -> Settings:
    """The shipped config, always open (the test must not depend on the clock), with Twilio and
    the chat configured as the channels need."""
    config = tmp_path / "config"
    config.mkdir()
    for item in DEFAULT_CONFIG_DIR.glob("*.toml"):
        (config / item.name).write_bytes(item.read_bytes())
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    (config / "hours.toml").write_text(
        'country = ""\n[weekdays]\n'
        + "".join(f'{day} = ["00:00-24:00"]\n' for day in days)
        + '[alternatives]\nen = "In an emergency, call 112."\n'
    )
    env = {
        "HELPLINE_DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "test-auth-token-0123456789",
        "TWILIO_API_KEY_SID": "SK" + "1" * 32,
        "TWILIO_API_KEY_SECRET": "api-key-secret-for-tests",
        "TWILIO_TWIML_APP_SID": "AP" + "2" * 32,
        "HELPLINE_PUBLIC_BASE_URL": "https://helpline.example.org",
        "HELPLINE_CHAT_ALLOWED_ORIGINS": "http://partner.test",
    }
    loaded = load_settings(mode="test", env=env, config_dir=config, instance_dir=tmp_path / "i")
    return loaded.with_overrides(background_tasks=False)


def _run_jobs(world: World, now: dt.datetime | None = None) -> None:
    """The retention job (and the chat's purge) through RQ, as the worker runs them; with `now`
    in the future, as if the retention periods had passed."""
    connection = redis.Redis.from_url(world.redis_url)
    queue = Queue(QUEUE_NAME, connection=connection)
    queue.enqueue("console.jobs.retention.enforce_retention")
    if chat_models is not None:
        queue.enqueue("chat.jobs.purge_transcripts")
    assert SimpleWorker([queue], connection=connection).work(burst=True)
    if now is not None:
        with world.database.transaction() as s:
            retention.enforce(s, transcripts_days=30, call_metadata_days=90, now=now)
        if chat_models is not None:
            from chat.jobs import purge_transcripts

            purge_transcripts(now=now)
    world.database.truncate_wal()


def _exports(world: World) -> dict[str, str]:
    lead = Staff(world.app, world.database, "lena", "shift_lead")
    admin = Staff(world.app, world.database, "adri", "admin")
    today = utcnow().date()
    csv_text = lead.http.post(
        "/records/export.csv",
        data={
            "from": (today - dt.timedelta(days=1)).isoformat(),
            "to": (today + dt.timedelta(days=1)).isoformat(),
            "csrf_token": lead.token,
        },
    ).get_data(as_text=True)
    assert csv_text.startswith("period,dimension,code,label,contacts")
    return {
        "funders_csv": csv_text,
        "audit_page": admin.http.get("/records/audit").get_data(as_text=True),
        "audit_api": admin.http.get("/api/records/audit?limit=1000").get_data(as_text=True),
    }


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("with_consent", [False, True], ids=["without_consent", "with_consent"])
def test_planted_identity_is_found_nowhere_but_as_ciphertext_and_not_after_erasure(
    world_settings: Settings,
    database: Database,
    redis_url: str,
    all_logs: _AllLogs,
    expect_logs: Any,
    with_consent: bool,
) -> None:
    expect_logs("could not be sent")  # live fan-out to sockets that already left: best effort
    app = create_app(world_settings, database)
    app.extensions["helpline.jobs"] = JobRunner(redis_url)
    if chat_models is not None:
        from chat.ratelimit import RedisLimiter

        app.extensions["chat"].limiter = RedisLimiter(redis_url)  # as with several processes
    kb_service(database, "svc-legal-aid", "Legal Aid Brussels")
    try:
        world = World(
            app=app,
            database=database,
            settings=world_settings,
            redis_url=redis_url,
            consent=with_consent,
            ana=Staff(app, database, "ana", "operator"),
        )
        for name, plant in PATHS:
            plant(world)
            assert name
        _run_jobs(world)
        world.exports = _exports(world)

        haystacks = {
            "database": database_haystack(database),
            "redis": redis_haystack(redis_url),
            "logs": "\n".join(all_logs.lines),
            **world.exports,
        }
        assert any(line.startswith("sqlalchemy.engine") for line in all_logs.lines)
        assert len(all_logs.lines) > 100, "the app's logging should have been captured"
        assert re.search(r"rq:job:", haystacks["redis"]), "the jobs really went through Redis"
        for where, haystack in haystacks.items():
            assert found(haystack) == [], f"planted values in the {where}: {found(haystack)}"

        tokens = stored_tokens(database)
        kept = {t: v for t, v in tokens.items() if any(n in v for n in (NAME, NUMBER))}
        if with_consent:
            # Found, but only as ciphertext: the tokens are in the stored bytes and decrypt to them.
            plain_values = set(kept.values())
            assert {NAME, NUMBER} <= plain_values
            assert all(token in haystacks["database"] for token in kept)
            assert len(world.erasures) == len(PATHS)
        else:
            identity_rows = [t for t in kept if t in _identity_tokens(database)]
            assert identity_rows == [], "identity was kept without consent"
            assert world.erasures == []

        # Erasure: the person's request, then the retention periods pass.
        for erase in world.erasures:
            erase()
        _run_jobs(world, now=utcnow() + dt.timedelta(days=200))
        after = database_haystack(database)
        assert found(after) == []
        left = [t for t in tokens if t in after]
        assert left == [], f"{len(left)} ciphertexts of planted values survived erasure"
        assert found(redis_haystack(redis_url)) == []
        assert found("\n".join(all_logs.lines)) == []
    finally:
        shutdown(app)


def _identity_tokens(database: Database) -> set[str]:
    from console.domain.identity import IdentityValue

    with database.transaction(write=False) as s:
        return set(s.scalars(select(IdentityValue.ciphertext)))


def test_every_channel_in_the_tree_has_a_path() -> None:
    """A channel package added to the tree must add its planting path to PATHS."""
    root = Path(__file__).resolve().parents[2]
    expected = {"console"} | {
        path
        for package, path in (("telephony", "voice"), ("chat", "chat"))
        if (root / package / "__init__.py").exists()
    }
    assert expected <= {name for name, _ in PATHS}
