"""What may be kept of a caller, the day key's rotation, and telephony's settings."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from console.db import Database, utcnow
from console.domain.hours import load_hours
from console.settings import Settings, SettingsError, load_settings
from telephony import privacy, twiml
from telephony.cli import FALLBACK
from telephony.models import CallLeg, HashKey
from telephony.settings import load_telephony_settings
from telephony.speech import Speaker
from tests.telephony.conftest import ROOT, write_hours

SECRET = "the line's secret key"


@pytest.mark.parametrize(
    "raw",
    [
        "+266696687",
        "266696687",
        "+7378742833",
        "+86282452253",
        "+2562533",
        "anonymous",
        "Restricted",
        "unknown",
        "UNAVAILABLE",
        "private",
        "",
        "  ",
        "client:operator_3",
        "sip:x@y",
    ],
)
def test_withheld_callers_have_no_country_and_no_number(raw: str) -> None:
    caller = privacy.classify(raw)
    assert caller.withheld
    assert caller.country is None
    assert caller.number is None


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("+32470123456", "BE"),
        ("+33612345678", "FR"),
        ("+212612345678", "MA"),
        ("+266 22 123456".replace(" ", ""), "LS"),  # a real Lesotho number stays Lesotho
        ("+32123", None),  # too short to be valid: no country, but still a number to hash
        ("+999123456789", None),  # no such country code
    ],
)
def test_the_country_comes_only_from_a_valid_number(raw: str, country: str | None) -> None:
    caller = privacy.classify(raw)
    assert not caller.withheld
    assert caller.country == country
    assert caller.number is not None


@pytest.mark.parametrize("raw", ["hello", "+32 470", "+3247<01>", "1;2", "+" + "1" * 25])
def test_anything_else_is_malformed(raw: str) -> None:
    with pytest.raises(privacy.MalformedCaller) as caught:
        privacy.classify(raw)
    assert raw.strip() not in str(caught.value) or raw.strip() in ("",)


def test_the_number_never_shows_in_a_callers_repr() -> None:
    caller = privacy.classify("+32470123456")
    assert "470123456" not in repr(caller)
    assert "470123456" not in str(caller)


def test_the_repeat_hash_changes_with_the_day_and_old_keys_and_hashes_are_dropped(
    database: Database,
) -> None:
    caller = privacy.classify("+32470123456")
    monday = privacy.caller_hash(database, caller, "2026-11-23", SECRET)
    assert monday == privacy.caller_hash(database, caller, "2026-11-23", SECRET)
    privacy.day_keys.forget()
    # The same day, the same key:
    assert monday == privacy.caller_hash(database, caller, "2026-11-23", SECRET)
    tuesday = privacy.caller_hash(database, caller, "2026-11-24", SECRET)
    assert tuesday != monday
    other = privacy.classify("+32470999999")
    assert privacy.caller_hash(database, other, "2026-11-24", SECRET) != tuesday
    with database.transaction() as session:
        session.add(CallLeg(call_sid="CA" + "1" * 32, caller_hash=monday, hash_day="2026-11-23"))
        session.add(CallLeg(call_sid="CA" + "2" * 32, caller_hash=tuesday, hash_day="2026-11-24"))
    now = utcnow()
    with database.transaction() as session:
        keys, hashes, blocks = privacy.forget_old(session, "2026-11-24", now)
    assert (keys, hashes, blocks) == (1, 1, 0)
    with database.transaction(write=False) as session:
        assert list(session.scalars(select(HashKey.day))) == ["2026-11-24"]
        kept = dict(session.execute(select(CallLeg.call_sid, CallLeg.caller_hash)).all())
    assert kept == {"CA" + "1" * 32: None, "CA" + "2" * 32: tuesday}
    assert database.truncate_wal()


def test_the_days_key_in_the_database_cannot_reproduce_a_hash_alone(database: Database) -> None:
    """All of a country's mobile numbers can be hashed in minutes: the key beside the hashes
    must not be enough."""
    import hashlib
    import hmac

    caller = privacy.classify("+32470123456")
    digest = privacy.caller_hash(database, caller, "2026-11-23", SECRET)
    with database.transaction(write=False) as session:
        stored = session.scalar(select(HashKey.secret).where(HashKey.day == "2026-11-23"))
    assert stored is not None
    from_stored = hmac.new(bytes.fromhex(stored), b"+32470123456", hashlib.sha256).hexdigest()
    assert digest != from_stored
    privacy.day_keys.forget()
    assert privacy.caller_hash(database, caller, "2026-11-23", "another secret") != digest


def test_the_block_hash_uses_its_own_key(database: Database) -> None:
    caller = privacy.classify("+32470123456")
    day = privacy.caller_hash(database, caller, "2026-11-23", SECRET)
    block = privacy.block_hash("a" * 32, caller)
    assert block is not None
    assert block != day
    assert block == privacy.block_hash("a" * 32, privacy.classify("32470123456"))
    assert privacy.block_hash("b" * 32, caller) != block
    assert privacy.block_hash("a" * 32, privacy.classify("anonymous")) is None


def _settings(config_dir: Path, tmp_path: Path) -> Settings:
    return load_settings(mode="test", env={}, config_dir=config_dir, instance_dir=tmp_path)


def test_the_shipped_ivr_config_loads(config_dir: Path, tmp_path: Path) -> None:
    tset = load_telephony_settings(_settings(config_dir, tmp_path))
    assert [lang.code for lang in tset.languages] == ["nl", "fr", "en", "ar"]
    assert [lang.digit for lang in tset.languages] == ["1", "2", "3", "4"]
    assert tset.country_languages["MA"] == "ar"
    assert tset.callback.max_attempts == 3
    assert tset.short_abandon_seconds == 10


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('goodbye = "Thank you for calling. Goodbye."\n', ""), "prompts.en.goodbye: missing"),
        (
            ("[audio.en]\n", '[audio.en]\nposition = "https://x.example/p.mp3"\n'),
            "audio.en.position: a recording cannot say {position}",
        ),
        (
            ("[audio.en]\n", '[audio.en]\ngreetings = "https://x.example/g.mp3"\n'),
            "audio.en.greetings: no such prompt",
        ),
        (
            ('overflow_number = "+441632960000"', 'overflow_number = "112"'),
            "fallback.overflow_number: expected an E.164 number",
        ),
        (('key = "9"', 'key = "99"'), "callback.key"),
        (('topics = ["domestic_violence"', 'topics = ["nonsense"'), "voice.topics"),
    ],
)
def test_a_bad_ivr_setting_stops_start_up_with_a_line_naming_it(
    config_dir: Path, tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    path = config_dir / "ivr.toml"
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_telephony_settings(_settings(config_dir, tmp_path))


def test_a_recorded_prompt_is_played_instead_of_said(config_dir: Path, tmp_path: Path) -> None:
    path = config_dir / "ivr.toml"
    path.write_text(
        path.read_text().replace(
            "[audio.nl]\n", '[audio.nl]\ngreeting = "https://x.example/w.mp3"\n'
        )
    )
    tset = load_telephony_settings(_settings(config_dir, tmp_path))
    document = str(twiml.language_menu(tset, tset.language("nl")))
    assert "<Play>https://x.example/w.mp3</Play>" in document
    assert "Welkom" not in document
    assert '<Say language="fr-FR" voice="Polly.Celine">Pour le français' in document


def test_opening_hours_are_spoken_in_each_language(config_dir: Path, tmp_path: Path) -> None:
    shutil.copy(ROOT / "config" / "hours.toml", config_dir / "hours.toml")
    settings = _settings(config_dir, tmp_path)
    tset = load_telephony_settings(settings)
    hours = load_hours(config_dir / "hours.toml", settings.timezone)
    spoken = {lang.code: Speaker(tset, lang).hours(hours) for lang in tset.languages}
    assert spoken["en"] == "Monday to Friday from 09:00 to 17:00"
    assert spoken["nl"] == "maandag tot vrijdag van 09:00 tot 17:00"
    assert spoken["fr"] == "du lundi au vendredi de 09:00 à 17:00"
    assert spoken["ar"].startswith("من الاثنين إلى الجمعة")


def test_callback_windows_fall_inside_opening_hours(
    config_dir: Path, tmp_path: Path, database: Database
) -> None:
    write_hours(config_dir, ["10:00-12:00", "14:00-18:00"])
    settings = _settings(config_dir, tmp_path)
    from telephony import callbacks, runtime

    rt = runtime.build(settings, database)
    tz = ZoneInfo(settings.timezone)
    now = dt.datetime(2026, 11, 23, 9, 20, tzinfo=tz)  # a Monday
    windows = callbacks.windows(rt, now)
    local = [
        (s.astimezone(tz).strftime("%a %H:%M"), e.astimezone(tz).strftime("%H:%M"))
        for s, e in windows
    ]
    assert local == [("Mon 10:00", "12:00"), ("Mon 14:00", "16:00"), ("Mon 16:00", "18:00")]
    speaker = Speaker(rt.tset, rt.tset.language("en"))
    assert speaker.window(*windows[0], now, tz) == "today between 10:00 and 12:00"
    later = dt.datetime(2026, 11, 23, 17, 5, tzinfo=tz)
    first = callbacks.windows(rt, later)[0]
    assert speaker.window(*first, later, tz) == "tomorrow between 10:00 and 12:00"


def test_the_shipped_fallback_document_matches_the_config(tmp_path: Path) -> None:
    settings = load_settings(mode="test", env={}, instance_dir=tmp_path)
    expected = str(twiml.fallback(load_telephony_settings(settings))) + "\n"
    assert FALLBACK.read_text(encoding="utf-8") == expected, (
        "config/ivr.toml changed: run `helpline telephony fallback` to write the document again"
    )
    assert "<Dial>+441632960000</Dial>" in expected


def test_the_fallback_document_is_served_as_a_static_file(voice_app: Any) -> None:
    response = voice_app.test_client().get("/voice/static/fallback.xml")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == FALLBACK.read_text(encoding="utf-8")


def test_partner_line_dials_show_the_line_not_the_caller(tmp_path: Path) -> None:
    """Twilio passes the caller's number on to whoever a <Dial> rings, unless callerId is set."""
    import dataclasses

    tset = load_telephony_settings(load_settings(mode="test", env={}, instance_dir=tmp_path))
    lang = tset.default_language
    refused = str(twiml.unavailable(tset, lang, twiml.line_caller_id(tset, "+3225550100")))
    assert '<Dial callerId="+3225550100">+441632960000</Dial>' in refused

    configured = dataclasses.replace(
        tset, callback=dataclasses.replace(tset.callback, caller_id="+3225550111")
    )
    assert twiml.line_caller_id(configured, "+3225550100") == "+3225550111"
    assert '<Dial callerId="+3225550111">+441632960000</Dial>' in str(twiml.fallback(configured))
