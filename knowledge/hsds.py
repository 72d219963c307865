"""What the HSDS 3.0 data model looks like to the importer and exporter.

The schemas themselves are Open Referral's compiled JSON Schemas, read from a directory at run time
(`HELPLINE_HSDS_SCHEMAS`, or `../shared/hsds-3.0/schema` beside a development checkout): they are
CC BY-SA and are not copied into this project.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import Boolean, Date, Float
from sqlalchemy.sql.type_api import TypeEngine

from knowledge.models import HSDS_MODELS, HSDSObject
from knowledge.types import UTCDateTime

SCHEMA_ENV = "HELPLINE_HSDS_SCHEMAS"
_DEV_SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "hsds-3.0" / "schema"

# Parents before children, so links can be checked in one pass.
TABLE_ORDER = (
    "taxonomy",
    "taxonomy_term",
    "organization",
    "program",
    "service",
    "location",
    "service_at_location",
    "contact",
    "phone",
    "schedule",
    "language",
    "address",
    "accessibility",
    "service_area",
    "funding",
    "cost_option",
    "required_document",
    "organization_identifier",
    "attribute",
    "metadata",
    "meta_table_description",
)

# Nested JSON property -> object type it holds.
NESTED = {
    "phones": "phone",
    "schedules": "schedule",
    "service_areas": "service_area",
    "service_at_locations": "service_at_location",
    "languages": "language",
    "organization": "organization",
    "funding": "funding",
    "cost_options": "cost_option",
    "program": "program",
    "programs": "program",
    "required_documents": "required_document",
    "contacts": "contact",
    "attributes": "attribute",
    "metadata": "metadata",
    "location": "location",
    "locations": "location",
    "service": "service",
    "services": "service",
    "organization_identifiers": "organization_identifier",
    "addresses": "address",
    "accessibility": "accessibility",
    "taxonomy_term": "taxonomy_term",
    "taxonomy_detail": "taxonomy",
}

# Links that must point at an existing object, or the row is rejected.
REQUIRED_LINKS = {
    "service": {"organization_id": "organization"},
    "program": {"organization_id": "organization"},
    "service_at_location": {"service_id": "service", "location_id": "location"},
    "cost_option": {"service_id": "service"},
    "organization_identifier": {"organization_id": "organization"},
    "attribute": {"taxonomy_term_id": "taxonomy_term"},
}
# Rows that belong to something: at least one of these links must resolve. The others may dangle
# (HSDS's own example data does); they are kept verbatim and reported as notes.
OWNER_LINKS = {
    "phone": {
        "contact_id": "contact",
        "service_at_location_id": "service_at_location",
        "service_id": "service",
        "location_id": "location",
        "organization_id": "organization",
    },
    "contact": {
        "service_at_location_id": "service_at_location",
        "service_id": "service",
        "location_id": "location",
        "organization_id": "organization",
    },
    "schedule": {
        "service_at_location_id": "service_at_location",
        "service_id": "service",
        "location_id": "location",
    },
    "language": {"phone_id": "phone", "service_id": "service", "location_id": "location"},
    "address": {"location_id": "location"},
    "accessibility": {"location_id": "location"},
    "service_area": {"service_id": "service"},
    "funding": {"service_id": "service", "organization_id": "organization"},
    "required_document": {"service_id": "service"},
}
# Optional links to objects that may live outside the data set.
SOFT_LINKS = {
    "organization": {"parent_organization_id": "organization"},
    "service": {"program_id": "program"},
    "location": {"organization_id": "organization"},
    "taxonomy_term": {"parent_id": "taxonomy_term", "taxonomy_id": "taxonomy"},
}
LANGUAGE_FIELDS = {
    "language": "code",
    "taxonomy_term": "language",
    "meta_table_description": "language",
}
EXTENSIONS = {
    "organization": ("cross_border_contact_point",),
    "service": ("accepts_direct_referrals",),
}


def schema_dir(explicit: str | Path | None = None) -> Path:
    """Where the compiled HSDS schemas are; raises FileNotFoundError with a hint if nowhere."""
    for candidate in (explicit, os.environ.get(SCHEMA_ENV), _DEV_SCHEMAS):
        if candidate and (Path(candidate) / "tabular.json").is_file():
            return Path(candidate)
    raise FileNotFoundError(
        f"HSDS 3.0 schemas not found: pass --schemas DIR or set {SCHEMA_ENV} to the directory "
        "holding service.json, organization.json, service_at_location.json and tabular.json"
    )


def columns(object_name: str) -> list[str]:
    """The tabular columns of an object type, in the schema's order, plus our extensions."""
    return [column.name for column in HSDS_MODELS[object_name].__table__.columns]


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=["email"])

    @checker.checks("uuid", raises=ValueError)
    def _uuid(value: object) -> bool:
        return not isinstance(value, str) or bool(uuid.UUID(value))

    @checker.checks("date-time", raises=ValueError)
    def _datetime(value: object) -> bool:
        return not isinstance(value, str) or bool(dt.datetime.fromisoformat(value))

    return checker


@dataclass(frozen=True)
class Problem:
    path: tuple[str | int, ...]
    message: str


class Schemas:
    """Validators for nested objects (by HSDS object name) and for tabular rows."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._checker = _format_checker()
        self._raw = {
            name: json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
            for name in ("service", "organization", "service_at_location", "tabular")
        }

    @cached_property
    def objects(self) -> dict[str, dict[str, Any]]:
        """Each named object schema, taking the fullest inlined copy found in the compiled files."""
        found: dict[str, dict[str, Any]] = {}
        for name in ("service", "organization", "service_at_location"):
            for schema in _walk(self._raw[name]):
                object_name = schema.get("name")
                if not isinstance(object_name, str) or object_name not in HSDS_MODELS:
                    continue
                if len(json.dumps(schema)) > len(json.dumps(found.get(object_name, {}))):
                    found[object_name] = schema
        for name, prop in self._raw["tabular"]["properties"].items():
            found.setdefault(name, prop["items"])
        return found

    @cached_property
    def tabular(self) -> dict[str, dict[str, Any]]:
        return {name: prop["items"] for name, prop in self._raw["tabular"]["properties"].items()}

    def csv_name(self, object_name: str) -> str:
        return str(self.tabular[object_name]["path"])

    def columns(self, object_name: str) -> list[str]:
        return columns(object_name)

    def required_columns(self, object_name: str) -> list[str]:
        item = self.tabular[object_name]
        return [*item.get("required", []), *item.get("tabular_required", [])]

    @cached_property
    def _validators(self) -> dict[str, Draft202012Validator]:
        validators = {
            name: Draft202012Validator(schema, format_checker=self._checker)
            for name, schema in self.objects.items()
        }
        for name in ("service", "organization", "service_at_location"):
            validators[name] = Draft202012Validator(self._raw[name], format_checker=self._checker)
        return validators

    @cached_property
    def _row_validators(self) -> dict[str, Draft202012Validator]:
        return {
            name: Draft202012Validator(schema, format_checker=self._checker)
            for name, schema in self.tabular.items()
        }

    def problems(self, object_name: str, instance: Any) -> list[Problem]:
        return _problems(self._validators[object_name], instance)

    def row_problems(self, object_name: str, row: Mapping[str, Any]) -> list[Problem]:
        return _problems(self._row_validators[object_name], row)


def _problems(validator: Draft202012Validator, instance: Any) -> list[Problem]:
    return [
        Problem(tuple(error.absolute_path), _message(error.message))
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def _message(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "…"


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# ---------------------------------------------------------------- values


class ValueProblem(ValueError):
    pass


_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


def column_type(model: type[HSDSObject], field: str) -> TypeEngine[Any] | None:
    column = model.__table__.columns.get(field)
    return column.type if column is not None else None


def to_python(model: type[HSDSObject], field: str, value: Any) -> Any:
    """A JSON or CSV value as the column stores it; raises ValueProblem when it cannot be."""
    if value is None or value == "":
        return None
    kind = column_type(model, field)
    if isinstance(kind, Boolean):
        if isinstance(value, bool):
            return value
        parsed = _BOOL.get(str(value).strip().lower())
        if parsed is None:
            raise ValueProblem(f"{field}: not true or false: {value!r}")
        return parsed
    if isinstance(kind, Float):
        if isinstance(value, bool):
            raise ValueProblem(f"{field}: not a number: {value!r}")
        if isinstance(value, int | float):
            return float(value)
        if not _NUMBER.match(str(value).strip()):
            raise ValueProblem(f"{field}: not a number: {value!r}")
        return float(value)
    if isinstance(kind, UTCDateTime):
        try:
            parsed_dt = dt.datetime.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise ValueProblem(f"{field}: not a date-time: {value!r}") from exc
        return parsed_dt if parsed_dt.tzinfo else parsed_dt.replace(tzinfo=dt.UTC)
    if isinstance(kind, Date):
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise ValueProblem(f"{field}: not a date (YYYY-MM-DD): {value!r}") from exc
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )


def to_json(value: Any) -> Any:
    """A stored value as HSDS JSON writes it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def to_cell(value: Any) -> str:
    """A stored value as a CSV cell."""
    value = to_json(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def coerce_cell(object_name: str, field: str, value: Any) -> Any:
    """A tabular cell (CSV text, or a tabular-JSON value) in the JSON type the schema expects."""
    if value is None or value == "":
        return None
    if field in EXTENSIONS.get(object_name, ()):
        return value
    if isinstance(column_type(HSDS_MODELS[object_name], field), Float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if _NUMBER.match(text):
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
        return text  # left as text so the schema reports "not of type number"
    return value if isinstance(value, str) else str(value)
