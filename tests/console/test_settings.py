"""Settings fail at start-up with one clear line naming what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.settings import SettingsError, load_settings, socketio_channel
from tests.support import ROOT


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="HELPLINE_SECRET_KEY"):
        load_settings(mode="production", env={}, instance_dir=tmp_path)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HELPLINE_SECRET_KEY": "short"}, "HELPLINE_SECRET_KEY"),
        ({"HELPLINE_DATABASE_URL": "mysql://x"}, "HELPLINE_DATABASE_URL"),
        ({"HELPLINE_REDIS_URL": "http://x"}, "HELPLINE_REDIS_URL"),
        ({"HELPLINE_TIMEZONE": "Mars/Olympus"}, "HELPLINE_TIMEZONE"),
        ({"HELPLINE_RESERVATION_TIMEOUT": "soon"}, "reservation_timeout"),
        ({"HELPLINE_PROXY_COUNT": "-1"}, "HELPLINE_PROXY_COUNT"),
    ],
)
def test_invalid_settings_name_themselves(tmp_path: Path, env: dict[str, str], named: str) -> None:
    full = {"HELPLINE_SECRET_KEY": "x" * 32, **env}
    with pytest.raises(SettingsError, match=named):
        load_settings(mode="production", env=full, instance_dir=tmp_path)


def test_demo_keeps_one_generated_key(tmp_path: Path) -> None:
    first = load_settings(mode="demo", env={}, instance_dir=tmp_path)
    second = load_settings(mode="demo", env={}, instance_dir=tmp_path)
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert first.database_url == f"sqlite:///{tmp_path / 'helpline.sqlite3'}"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(mode="test", env={}, instance_dir=tmp_path)
    with pytest.raises(AttributeError):
        settings.secret_key = "changed"  # type: ignore[misc]


def test_the_cli_fails_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HELPLINE_INSTANCE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "console.cli", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "HELPLINE_SECRET_KEY" in lines[0]
    assert "Traceback" not in result.stderr


def test_the_demo_is_open_around_the_clock_and_the_helpline_keeps_its_hours(
    tmp_path: Path,
) -> None:
    import datetime as dt

    from console.domain.hours import load_hours

    demo = load_settings(mode="demo", env={}, instance_dir=tmp_path)
    real = load_settings(mode="test", env={}, instance_dir=tmp_path)
    assert demo.hours_path.parent.name == "demo"
    assert real.hours_path == real.config_dir / "hours.toml"
    sunday_night = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
    christmas = dt.datetime(2026, 12, 25, 11, 0, tzinfo=dt.UTC)
    for moment in (sunday_night, christmas):
        assert load_hours(demo.hours_path, demo.timezone).is_open(moment)
        assert not load_hours(real.hours_path, real.timezone).is_open(moment)


def test_each_redis_database_gets_its_own_live_event_channel() -> None:
    """Pub/Sub channels are server-wide, unlike keys: two lines sharing a Redis server, each in a
    database of its own, must not hear each other's live events."""
    assert socketio_channel("redis://127.0.0.1:6379/14") == "helpline-socketio:14"
    assert socketio_channel("redis://127.0.0.1:6379/15") == "helpline-socketio:15"
    assert socketio_channel("redis://127.0.0.1:6379") == "helpline-socketio:0"
    assert socketio_channel("unix:///run/redis.sock?db=3") == "helpline-socketio:3"
