"""The records feature's own settings: the taxonomy, the triage checklist, the retention policy
and the export threshold, each from its file in `settings.config_dir`.

`load_records_settings` checks them all, so a mistake stops start-up with one line naming it.
`apply` hands the parts that domain functions read without a settings argument (the consent
limits, the key ring) to their modules.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.domain import consent, crypto
from console.domain.taxonomy import Taxonomy, load_taxonomy
from console.domain.triage import Checklist, load_checklist
from console.settings import Settings, SettingsError


@dataclass(frozen=True)
class RetentionPolicy:
    transcripts_days: int = 30
    call_metadata_days: int = 90
    identity_max_days: dict[str, int] = field(
        default_factory=lambda: {s.value: d for s, d in consent.DEFAULT_MAX_DAYS.items()}
    )


@dataclass(frozen=True)
class RecordsSettings:
    taxonomy: Taxonomy
    checklist: Checklist
    retention: RetentionPolicy
    small_count_threshold: int = 5


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML ({exc})") from exc


def _days(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SettingsError(f"{name}: a whole number of at least {minimum}, got {value!r}")
    return value


def load_retention(path: Path) -> RetentionPolicy:
    data = _read(path)
    if data.get("outcomes", "keep") != "keep":
        raise SettingsError(
            f'{path.name}: outcomes must be "keep" (outcome records hold no identity)'
        )
    limits = {s.value: d for s, d in consent.DEFAULT_MAX_DAYS.items()}
    for scope, days in data.get("identity_max_days", {}).items():
        if scope not in limits:
            raise SettingsError(
                f"{path.name}: identity_max_days.{scope}: unknown scope (one of "
                f"{', '.join(limits)})"
            )
        limits[scope] = _days(f"{path.name}: identity_max_days.{scope}", days)
    return RetentionPolicy(
        transcripts_days=_days(f"{path.name}: transcripts_days", data.get("transcripts_days", 30)),
        call_metadata_days=_days(
            f"{path.name}: call_metadata_days", data.get("call_metadata_days", 90)
        ),
        identity_max_days=limits,
    )


def load_records_settings(settings: Settings) -> RecordsSettings:
    directory = settings.config_dir
    export = _read(directory / "export.toml")
    return RecordsSettings(
        taxonomy=load_taxonomy(directory / "taxonomy.toml"),
        checklist=load_checklist(directory / "triage.toml"),
        retention=load_retention(directory / "retention.toml"),
        small_count_threshold=_days(
            "export.toml: small_count_threshold", export.get("small_count_threshold", 5)
        ),
    )


def apply(settings: Settings, records: RecordsSettings, *, keep_ring: bool = False) -> None:
    """Configure this process: the key ring and the consent limits the domain reads.

    `keep_ring` leaves a ring that is already set alone (a job running inside the server process
    must not swap the server's keys for freshly generated test keys).
    """
    if not (keep_ring and crypto.is_configured()):
        crypto.configure_from_settings(settings)
    consent.configure_limits(records.retention.identity_max_days)


def setup(settings: Settings, *, keep_ring: bool = False) -> RecordsSettings:
    """Load and apply in one step: for the app factory, the CLI and job functions."""
    records = load_records_settings(settings)
    apply(settings, records, keep_ring=keep_ring)
    return records
