"""`kb export`: the directory as HSDS 3.0, nested JSON or the tabular CSV package.

Every object is written exactly once. In JSON, children are nested under one "home" parent and carry
all their link fields explicitly, so a re-import restores every link; objects with no parent to
live under (locations, taxonomies, orphan attributes, metadata) get files of their own. Everything
written is validated against the HSDS schemas first: an export that would not validate fails
instead of writing a file another system would choke on.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import hsds
from knowledge.models import HSDS_MODELS

Row = dict[str, Any]

# Which parent a child is nested under in JSON, by first link that names an exported object.
HOMES: dict[str, tuple[tuple[str, str], ...]] = {
    "contact": (
        ("service_at_location_id", "service_at_location"),
        ("service_id", "service"),
        ("location_id", "location"),
        ("organization_id", "organization"),
    ),
    "phone": (
        ("contact_id", "contact"),
        ("service_at_location_id", "service_at_location"),
        ("service_id", "service"),
        ("location_id", "location"),
        ("organization_id", "organization"),
    ),
    "schedule": (
        ("service_at_location_id", "service_at_location"),
        ("service_id", "service"),
        ("location_id", "location"),
    ),
    "language": (("phone_id", "phone"), ("service_id", "service"), ("location_id", "location")),
    "funding": (("service_id", "service"), ("organization_id", "organization")),
    "address": (("location_id", "location"),),
    "accessibility": (("location_id", "location"),),
    "service_area": (("service_id", "service"),),
    "cost_option": (("service_id", "service"),),
    "required_document": (("service_id", "service"),),
    "service_at_location": (("service_id", "service"),),
    "program": (("organization_id", "organization"),),
    "organization_identifier": (("organization_id", "organization"),),
    "attribute": (("link_id", "service"), ("link_id", "organization"), ("link_id", "location")),
}
# Nested property under each parent, per child type (HSDS property names).
CHILD_PROPERTY = {
    "contact": "contacts",
    "phone": "phones",
    "schedule": "schedules",
    "language": "languages",
    "funding": "funding",
    "address": "addresses",
    "accessibility": "accessibility",
    "service_area": "service_areas",
    "cost_option": "cost_options",
    "required_document": "required_documents",
    "service_at_location": "service_at_locations",
    "program": "programs",
    "organization_identifier": "organization_identifiers",
    "attribute": "attributes",
}
TOP_LEVEL = {
    "organizations.json": "organization",
    "services.json": "service",
    "locations.json": "location",
    "taxonomies.json": "taxonomy",
    "taxonomy_terms.json": "taxonomy_term",
    "attributes.json": "attribute",
    "metadata.json": "metadata",
    "meta_table_descriptions.json": "meta_table_description",
}


class ExportInvalid(RuntimeError):
    """Stored data that would not validate against the HSDS schemas."""


@dataclass
class ExportSummary:
    files: list[Path] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def load_rows(session: Session) -> dict[str, list[Row]]:
    """Every HSDS object as JSON-ready dicts without empty fields, sorted by id."""
    rows: dict[str, list[Row]] = {}
    for name in hsds.TABLE_ORDER:
        model = HSDS_MODELS[name]
        table = model.__table__
        result = session.execute(select(table).order_by(table.c.id)).mappings()
        rows[name] = [
            {key: hsds.to_json(value) for key, value in row.items() if value is not None}
            for row in result
        ]
    return rows


def export_csv(session: Session, out: Path, schemas: hsds.Schemas) -> ExportSummary:
    out.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary()
    rows = load_rows(session)
    resources = []
    for name in hsds.TABLE_ORDER:
        columns = schemas.columns(name)
        for row in rows[name]:
            coerced = {
                key: hsds.coerce_cell(name, key, hsds.to_cell(value)) for key, value in row.items()
            }
            _check(
                schemas.row_problems(name, {k: v for k, v in coerced.items() if v is not None}),
                name,
                row,
            )
        path = out / schemas.csv_name(name)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            for row in rows[name]:
                writer.writerow([hsds.to_cell(row.get(column)) for column in columns])
        summary.files.append(path)
        summary.counts[name] = len(rows[name])
        resources.append(_resource(schemas, name, columns))
    descriptor = {"name": "hsds", "profile": "tabular-data-package", "resources": resources}
    package = out / "datapackage.json"
    package.write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")
    summary.files.append(package)
    return summary


def _resource(schemas: hsds.Schemas, name: str, columns: list[str]) -> dict[str, Any]:
    props = schemas.tabular[name]["properties"]
    fields = []
    for column in columns:
        prop = props.get(column, {"type": "boolean"})
        kind = prop.get("datapackage_type") or prop.get("type", "string")
        fields.append({"name": column, "type": kind})
    return {
        "name": name,
        "path": schemas.csv_name(name),
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "schema": {"fields": fields, "primaryKey": "id"},
    }


def export_json(session: Session, out: Path, schemas: hsds.Schemas) -> ExportSummary:
    out.mkdir(parents=True, exist_ok=True)
    rows = load_rows(session)
    ids = {name: {row["id"] for row in rows[name]} for name in rows}
    # children[(parent type, parent id)][property] -> child rows
    children: dict[tuple[str, str], dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    orphans: dict[str, list[Row]] = defaultdict(list)
    for name, homes in HOMES.items():
        for row in rows[name]:
            home = next(
                ((target, row[link]) for link, target in homes if row.get(link) in ids[target]),
                None,
            )
            if home is None:
                orphans[name].append(row)
            else:
                children[home][CHILD_PROPERTY[name]].append(row)

    def nest(name: str, row: Row) -> Row:
        nested = dict(row)
        for prop, kids in sorted(children.get((name, row["id"]), {}).items()):
            kid_name = next(k for k, v in CHILD_PROPERTY.items() if v == prop)
            nested[prop] = [nest(kid_name, kid) for kid in kids]
        return nested

    documents: dict[str, list[Row]] = {
        "organizations.json": [nest("organization", r) for r in rows["organization"]],
        "services.json": [nest("service", r) for r in rows["service"]],
        "locations.json": [nest("location", r) for r in rows["location"]],
        "taxonomies.json": rows["taxonomy"],
        "taxonomy_terms.json": rows["taxonomy_term"],
        "attributes.json": orphans["attribute"],
        "metadata.json": rows["metadata"],
        "meta_table_descriptions.json": rows["meta_table_description"],
    }
    leftovers = [name for name in orphans if name != "attribute" and orphans[name]]
    if leftovers:
        raise ExportInvalid(f"objects with no parent to nest under: {', '.join(leftovers)}")
    summary = ExportSummary()
    for file_name, items in documents.items():
        object_name = TOP_LEVEL[file_name]
        for item in items:
            _check(schemas.problems(object_name, item), object_name, item)
        path = out / file_name
        path.write_text(json.dumps(items, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        summary.files.append(path)
    summary.counts = {name: len(rows[name]) for name in hsds.TABLE_ORDER}
    return summary


def _check(problems: Iterable[hsds.Problem], name: str, row: Mapping[str, Any]) -> None:
    problems = list(problems)
    if problems:
        detail = "; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems[:3])
        raise ExportInvalid(f"{name} {row.get('id')}: {detail}")
