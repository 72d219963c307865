"""`helpline keys rotate`, `helpline erase --case REF`, and start-up without the identity key."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from console.cli import main
from console.db import Database, utcnow
from console.domain import cases, consent, crypto, identity, notes
from console.domain.consent import Method, Scope
from console.domain.identity import IdentityValue
from console.settings import Settings, SettingsError, load_settings
from tests.records.conftest import held_contact
from tests.support import ROOT, make_operator


def _env(database_url: str, keys: str | None) -> dict[str, str | None]:
    return {
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_MODE": "test",
        "HELPLINE_IDENTITY_KEYS": keys,
    }


def _case_with_identity(database: Database, settings: Settings) -> tuple[str, int, int]:
    ana = make_operator(database, "ana")
    contact_id = held_contact(database, settings, ana)
    with database.transaction() as s:
        case = cases.open_case(s, contact_id, operator_id=ana)
        consent_id = consent.grant(
            s,
            contact_id=contact_id,
            case_id=case.id,
            scope=Scope.CASE_FOLLOW_UP,
            method=Method.VERBAL,
            operator_id=ana,
            expires_at=utcnow() + dt.timedelta(days=30),
        ).id
        identity.store_identity(s, consent_id, "name", "Ottoline Brabander", actor_id=ana)
        identity.store_identity(s, consent_id, "phone", "+32 470 31 41 59", actor_id=ana)
        notes.keep(s, contact_id, "spoke about the move", operator_id=ana)
        return case.ref, consent_id, contact_id


def test_keys_rotate_re_encrypts_everything_readably(
    database: Database, database_url: str, settings: Settings
) -> None:
    old, new = crypto.generate_key(), crypto.generate_key()
    crypto.configure([old])
    _ref, consent_id, contact_id = _case_with_identity(database, settings)
    runner = CliRunner()
    status = runner.invoke(main, ["keys", "status"], env=_env(database_url, f"{new},{old}"))
    assert status.exit_code == 0, status.output
    assert "3 values under an older key" in status.output
    result = runner.invoke(main, ["keys", "rotate"], env=_env(database_url, f"{new},{old}"))
    assert result.exit_code == 0, result.output
    assert "identity_values: 2 re-encrypted" in result.output
    assert "older keys can now be removed" in result.output
    crypto.configure([new])
    with database.transaction() as s:
        assert (
            identity.read_identity(
                s,
                consent_id,
                "name",
                actor_id=None,
                reason="case_follow_up",
                scope=Scope.CASE_FOLLOW_UP,
            )
            == "Ottoline Brabander"
        )
        assert notes.note_text(s, contact_id) == "spoke about the move"


def test_erase_case_from_the_command_line(
    database: Database, database_url: str, settings: Settings
) -> None:
    key = crypto.generate_key()
    crypto.configure([key])
    ref, consent_id, contact_id = _case_with_identity(database, settings)
    make_operator(database, "adam", role="admin")
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["erase", "--case", ref.lower(), "--admin", "adam", "--yes"],
        env=_env(database_url, key),
    )
    assert result.exit_code == 0, result.output
    assert "identity_values: 2" in result.output
    assert "notes: 1" in result.output
    with database.transaction(write=False) as s:
        assert s.scalars(select(IdentityValue)).all() == []
        assert notes.note_text(s, contact_id) is None
        assert consent.get_consent(s, consent_id).status() == "withdrawn"
    unknown = runner.invoke(
        main, ["erase", "--case", "NOSUCHREF", "--yes"], env=_env(database_url, key)
    )
    assert unknown.exit_code != 0
    assert "No case or contact" in unknown.output


def test_production_without_the_identity_key_stops_with_one_line(
    database_url: str, tmp_path: object
) -> None:
    settings = load_settings(
        mode="production",
        env={"HELPLINE_SECRET_KEY": "x" * 32, "HELPLINE_DATABASE_URL": database_url},
    )
    with pytest.raises(SettingsError, match=r"^HELPLINE_IDENTITY_KEYS: required"):
        crypto.keys_from_settings(settings)
    bad = settings.with_overrides(env={"HELPLINE_IDENTITY_KEYS": "not-a-key"})
    with pytest.raises(SettingsError, match="key #1 is not a Fernet key"):
        crypto.keys_from_settings(bad)
    result = CliRunner().invoke(
        main,
        ["keys", "status"],
        env={
            "HELPLINE_MODE": "production",
            "HELPLINE_SECRET_KEY": "x" * 32,
            "HELPLINE_DATABASE_URL": database_url,
            "HELPLINE_IDENTITY_KEYS": None,
        },
    )
    assert result.exit_code != 0
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith("Error: configuration error: HELPLINE_IDENTITY_KEYS: required")
    )


def test_create_app_fails_at_start_up_without_the_key(database_url: str) -> None:
    from console.app import create_app

    settings = load_settings(
        mode="production",
        env={"HELPLINE_SECRET_KEY": "x" * 32, "HELPLINE_DATABASE_URL": database_url},
    ).with_overrides(background_tasks=False)
    with pytest.raises(SettingsError, match="HELPLINE_IDENTITY_KEYS"):
        create_app(settings)


def test_serve_in_production_without_the_key_says_so_in_one_line(
    tmp_path: Path, database_url: str
) -> None:
    env = {
        **os.environ,
        "HELPLINE_MODE": "production",
        "HELPLINE_SECRET_KEY": "x" * 32,
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    env.pop("HELPLINE_IDENTITY_KEYS", None)
    done = subprocess.run(
        [sys.executable, "-m", "console.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("helpline: configuration error: HELPLINE_IDENTITY_KEYS: required")
    assert "Traceback" not in done.stderr
