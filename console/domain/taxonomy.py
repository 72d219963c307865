"""The versioned wrap-up taxonomy (config/taxonomy.toml) and the check of an outcome's details.

`Taxonomy` extends the spine's `OutcomeTaxonomy`: the same outcome codes and version, plus the
form's fields. Its `check` refuses a form built from another version, unknown fields and codes,
and a data outcome without its required fields, each with a message that names the field. The keys
of `details` are the outcome record contract of docs/developing.md.

Referrals name services of the knowledge base's directory: when the directory is there, a referral
must name one of its services and takes the directory's name for it, so no typed text is kept.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pycountry
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from console.domain.errors import Conflict, ValidationFailed
from console.domain.outcomes import OutcomeCode, OutcomeTaxonomy
from console.domain.triage import Track
from console.settings import SettingsError

DETAIL_KEYS = (
    "caller_role",
    "victimisation",
    "cross_border",
    "country",
    "needs",
    "information_given",
    "referrals",
    "heard_from",
    "triage_track",
    "survey",
)
REQUIRABLE = frozenset(
    {"caller_role", "victimisation", "needs", "heard_from", "triage_track", "information_given"}
)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}\Z")
_CODE = re.compile(r"^[a-z0-9_]{1,32}\Z")
MAX_ITEMS = 50
COUNTRIES: dict[str, str] = {c.alpha_2: c.name for c in pycountry.countries}


class StaleTaxonomy(Conflict):
    code = "stale_taxonomy"


@dataclass(frozen=True)
class Choice:
    code: str
    label: str


# Looks a knowledge-base service up: its name, or None when the directory does not know it.
ServiceLookup = Callable[[Session, str], str | None]


def _directory_service(session: Session, service_id: str) -> str | bool | None:
    """The directory's name for a service; False when there is no directory to ask."""
    try:
        from knowledge.models import Service
    except ImportError:
        return False
    if not inspect(session.connection()).has_table(Service.__tablename__):
        return False
    name = session.scalar(select(Service.name).where(Service.id == service_id))
    return str(name) if name is not None else None


@dataclass(frozen=True)
class Taxonomy(OutcomeTaxonomy):
    caller_roles: tuple[Choice, ...] = ()
    victimisation: tuple[Choice, ...] = ()
    needs: tuple[Choice, ...] = ()
    heard_from: tuple[Choice, ...] = ()
    required: frozenset[str] = field(default_factory=frozenset)

    # ------------------------------------------------------------------ the form

    def to_form(self) -> dict[str, Any]:
        """What the console builds the wrap-up form from."""

        def choices(items: tuple[Choice, ...]) -> list[dict[str, str]]:
            return [{"code": c.code, "label": c.label} for c in items]

        return {
            "version": self.version,
            "required": sorted(self.required),
            "outcomes": [
                {"code": c.code, "label": c.label, "non_data": c.non_data} for c in self.codes
            ],
            "caller_role": choices(self.caller_roles),
            "victimisation": choices(self.victimisation),
            "needs": choices(self.needs),
            "heard_from": choices(self.heard_from),
            "countries": [
                {"code": k, "label": v} for k, v in sorted(COUNTRIES.items(), key=_by_label)
            ],
            "triage_tracks": [t.value for t in Track],
        }

    def label(self, dimension: str, code: str) -> str:
        items = {
            "caller_role": self.caller_roles,
            "victimisation": self.victimisation,
            "needs": self.needs,
            "heard_from": self.heard_from,
            "outcome": tuple(Choice(c.code, c.label) for c in self.codes),
        }.get(dimension, ())
        return next((c.label for c in items if c.code == code), code)

    # ------------------------------------------------------------------ checking

    def check(
        self,
        session: Session,
        outcome: OutcomeCode,
        details: dict[str, Any] | None,
        form_version: int | None,
        now: dt.datetime,
    ) -> dict[str, Any]:
        if form_version is None:
            raise ValidationFailed(
                "taxonomy_version: required with a data outcome (the version the form was built "
                "from)"
            )
        if form_version != self.version:
            raise StaleTaxonomy(
                f"The wrap-up form is version {form_version} but the taxonomy is now version "
                f"{self.version}. Reload the form: your draft is kept."
            )
        return self.check_details(session, details or {}, now)

    def check_details(
        self, session: Session, details: dict[str, Any], now: dt.datetime
    ) -> dict[str, Any]:
        if not isinstance(details, dict):
            raise ValidationFailed("details: must be an object")
        unknown = sorted(set(details) - set(DETAIL_KEYS))
        if unknown:
            raise ValidationFailed(f"details: unknown field {unknown[0]!r}")
        cross_border = details.get("cross_border", False)
        if not isinstance(cross_border, bool):
            raise ValidationFailed("cross_border: true or false")
        clean: dict[str, Any] = {
            "caller_role": _one(details, "caller_role", self.caller_roles),
            "victimisation": _many(details, "victimisation", self.victimisation),
            "cross_border": cross_border,
            "country": _country(details.get("country"), cross_border),
            "needs": _many(details, "needs", self.needs),
            "information_given": _ids(details.get("information_given")),
            "referrals": _referrals(session, details.get("referrals"), now),
            "heard_from": _one(details, "heard_from", self.heard_from),
            "triage_track": _track(details.get("triage_track")),
            "survey": _survey(details.get("survey")),
        }
        for name in sorted(self.required):
            if clean.get(name) in (None, [], ""):
                raise ValidationFailed(f"{name.replace('_', ' ')}: required")
        return clean


def _by_label(item: tuple[str, str]) -> str:
    return item[1]


def _one(details: dict[str, Any], name: str, choices: tuple[Choice, ...]) -> str | None:
    value = details.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in {c.code for c in choices}:
        raise ValidationFailed(f"{name}: unknown code {_shown(value)}")
    return value


def _many(details: dict[str, Any], name: str, choices: tuple[Choice, ...]) -> list[str]:
    value = details.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationFailed(f"{name}: a list of codes")
    known = {c.code for c in choices}
    for item in value:
        if not isinstance(item, str) or item not in known:
            raise ValidationFailed(f"{name}: unknown code {_shown(item)}")
    return sorted(set(value))


def _shown(value: object) -> str:
    """An unknown value, quoted in a refusal only if it is short and code-like (never echo text
    that might be a name back into a message that could be logged)."""
    if isinstance(value, str) and _CODE.match(value):
        return repr(value)
    return "(not a code of this taxonomy)"


def _country(value: object, cross_border: bool) -> str | None:
    if not cross_border:
        if value not in (None, ""):
            raise ValidationFailed("country: only for a cross-border case")
        return None
    if value in (None, ""):
        raise ValidationFailed("country: required for a cross-border case")
    if not isinstance(value, str) or value.upper() not in COUNTRIES:
        raise ValidationFailed("country: an ISO 3166 two-letter country code")
    return value.upper()


def _ids(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ValidationFailed(f"information_given: a list of at most {MAX_ITEMS} article ids")
    result = []
    for item in value:
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if not isinstance(text, str) or not _ID.match(text):
            raise ValidationFailed("information_given: article ids only")
        result.append(text)
    return sorted(set(result))


def _referrals(session: Session, value: object, now: dt.datetime) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ValidationFailed(f"referrals: a list of at most {MAX_ITEMS} services")
    result: dict[str, dict[str, str]] = {}
    for item in value:
        if not isinstance(item, dict) or set(item) - {"service_id", "name", "referred_at"}:
            raise ValidationFailed("referrals: each is {service_id, name, referred_at}")
        service_id = item.get("service_id")
        if not isinstance(service_id, str) or not _ID.match(service_id):
            raise ValidationFailed("referrals: a service id is required")
        known = _directory_service(session, service_id)
        if known is None:
            raise ValidationFailed("referrals: the directory has no such service")
        name = item.get("name")
        if isinstance(known, str):
            name = known
        elif not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationFailed("referrals: the service's name (at most 200 characters)")
        referred_at = item.get("referred_at") or now.isoformat()
        try:
            when = dt.datetime.fromisoformat(str(referred_at))
        except ValueError as exc:
            raise ValidationFailed("referrals: referred_at must be an ISO 8601 time") from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        result[service_id] = {
            "service_id": service_id,
            "name": name.strip(),
            "referred_at": when.astimezone(dt.UTC).isoformat(),
        }
    return [result[k] for k in sorted(result)]


def _track(value: object) -> str | None:
    if value in (None, ""):
        return None
    try:
        return Track(str(value)).value
    except ValueError as exc:
        raise ValidationFailed(f"triage_track: one of {', '.join(t.value for t in Track)}") from exc


def _survey(value: object) -> dict[str, Any] | None:
    """The visitor's anonymous answers: codes, numbers and flags only, never their words."""
    if value in (None, {}):
        return None
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        raise ValidationFailed("survey: an object of answers")
    for key, answer in value.items():
        if not _CODE.match(str(key)):
            raise ValidationFailed("survey: question codes only")
        if isinstance(answer, str) and not _CODE.match(answer):
            raise ValidationFailed("survey: answers are codes, numbers or yes/no")
        if not isinstance(answer, str | int | float | bool) and answer is not None:
            raise ValidationFailed("survey: answers are codes, numbers or yes/no")
    return dict(value)


# ---------------------------------------------------------------------- loading


def _choices(path: Path, data: dict[str, Any], key: str) -> tuple[Choice, ...]:
    items = data.get(key, [])
    result = []
    for index, raw in enumerate(items):
        try:
            code, label = str(raw["code"]), str(raw["label"])
        except (KeyError, TypeError) as exc:
            raise SettingsError(
                f"{path.name}: [[{key}]] #{index + 1} needs code and label"
            ) from exc
        if not _CODE.match(code):
            raise SettingsError(f"{path.name}: [[{key}]] code {code!r} must be lowercase a-z0-9_")
        result.append(Choice(code, label))
    if len({c.code for c in result}) != len(result):
        raise SettingsError(f"{path.name}: [[{key}]] codes must be unique")
    return tuple(result)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and check config/taxonomy.toml; a mistake stops start-up with one line naming it."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise SettingsError(f"{path}: the wrap-up taxonomy is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML ({exc})") from exc
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise SettingsError(f"{path.name}: version must be a whole number ≥ 1")
    outcomes = []
    for index, raw in enumerate(data.get("outcome", [])):
        try:
            outcomes.append(
                OutcomeCode(str(raw["code"]), str(raw["label"]), bool(raw.get("non_data", False)))
            )
        except (KeyError, TypeError) as exc:
            raise SettingsError(
                f"{path.name}: [[outcome]] #{index + 1} needs code and label"
            ) from exc
    if not outcomes:
        raise SettingsError(f"{path.name}: at least one [[outcome]] is required")
    required = data.get("required", [])
    if not isinstance(required, list) or not set(required) <= REQUIRABLE:
        raise SettingsError(f"{path.name}: required may name {', '.join(sorted(REQUIRABLE))}")
    return Taxonomy(
        version=version,
        codes=tuple(outcomes),
        caller_roles=_choices(path, data, "caller_role"),
        victimisation=_choices(path, data, "victimisation"),
        needs=_choices(path, data, "need"),
        heard_from=_choices(path, data, "heard_from"),
        required=frozenset(required),
    )
