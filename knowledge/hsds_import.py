"""`kb import`: HSDS 3.0 nested JSON or the tabular CSV package, validated, upserted by id.

Every row (a CSV line, or one object of the nested JSON) is checked on its own and written in its
own savepoint: a bad row is rejected with its reason while the rest of the file goes in, and no row
is ever half written. Absent fields leave stored values alone; empty CSV cells and JSON nulls clear
them.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from knowledge import hsds, languages
from knowledge.hours import ScheduleError, parse_rule
from knowledge.models import HSDS_MODELS, HSDSObject


class Progress(Protocol):
    def start(self, total: int, description: str) -> None: ...

    def advance(self, steps: int = 1) -> None: ...


@dataclass(frozen=True)
class Rejection:
    object: str
    id: str | None
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.object} {self.id or '(no id)'}: {self.reason}"


@dataclass
class ImportReport:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changed: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def merge(self, other: ImportReport) -> None:
        self.created.update(other.created)
        self.updated.update(other.updated)
        self.unchanged.update(other.unchanged)
        self.rejected.extend(other.rejected)
        self.notes.extend(other.notes)
        for name, ids in other.changed.items():
            self.changed[name].update(ids)

    @property
    def total_changed(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())


@dataclass
class SourceRow:
    object: str
    id: str
    values: dict[str, Any]
    where: str
    inferred: set[str] = field(default_factory=set)


@dataclass
class _Batch:
    rows: list[SourceRow] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # program id -> service row it was nested in (its organization is the program's)
    program_hints: dict[str, SourceRow] = field(default_factory=dict)


# ---------------------------------------------------------------- reading: tabular


def read_tabular(
    schemas: hsds.Schemas, tables: Mapping[str, Iterable[Mapping[str, Any]]], source: str
) -> _Batch:
    """Rows of the tabular form, keyed by CSV file name ("services.csv") or object name."""
    batch = _Batch()
    by_csv = {schemas.csv_name(name): name for name in hsds.TABLE_ORDER}
    for key, rows in tables.items():
        object_name = by_csv.get(key) or (key if key in HSDS_MODELS else None)
        if object_name is None:
            batch.notes.append(f"{source}: {key} is not an HSDS table; skipped")
            continue
        columns = set(schemas.columns(object_name))
        for number, raw in enumerate(rows, start=2):
            where = f"{source}/{key}:{number}"
            row = {
                name: hsds.coerce_cell(object_name, name, value)
                for name, value in raw.items()
                if name in columns
            }
            instance = {k: v for k, v in row.items() if v is not None}
            reasons = [_problem_text(p) for p in schemas.row_problems(object_name, instance)]
            reasons += [
                f"missing required field: {name}"
                for name in schemas.required_columns(object_name)
                if name not in instance and f"'{name}' is a required property" not in reasons
            ]
            if reasons:
                batch.rejected.append(
                    Rejection(object_name, instance.get("id"), where, "; ".join(reasons))
                )
                continue
            batch.rows.append(SourceRow(object_name, str(row["id"]), row, where))
    return batch


def read_csv_package(schemas: hsds.Schemas, directory: Path) -> _Batch:
    tables: dict[str, list[dict[str, str]]] = {}
    for name in hsds.TABLE_ORDER:
        path = directory / schemas.csv_name(name)
        if path.is_file():
            with path.open(newline="", encoding="utf-8-sig") as handle:
                tables[path.name] = list(csv.DictReader(handle))
    return read_tabular(schemas, tables, directory.name)


# ---------------------------------------------------------------- reading: nested JSON


def object_for_file(stem: str) -> str | None:
    """services.json, service_full.json, service_list.json -> "service"; taxonomies -> taxonomy."""
    name = stem.lower()
    for suffix in ("_full", "_list"):
        name = name.removesuffix(suffix)
    if name in HSDS_MODELS:
        return name
    if name.endswith("ies") and name[:-3] + "y" in HSDS_MODELS:
        return name[:-3] + "y"
    if name.endswith("s") and name[:-1] in HSDS_MODELS:
        return name[:-1]
    return None


def read_json(schemas: hsds.Schemas | None, path: Path) -> _Batch:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and any(str(k).endswith(".csv") for k in data):
        return read_tabular(_require(schemas), data, path.name)
    if isinstance(data, dict) and "openapi_url" in data and "id" not in data:
        batch = _Batch()
        batch.notes.append(f"{path.name}: API description, no records; skipped")
        return batch
    object_name = object_for_file(path.stem)
    items = data.get("contents") if isinstance(data, dict) and "contents" in data else data
    if not isinstance(items, list):
        items = [items]
    batch = _Batch()
    if object_name is None:
        batch.rejected.append(
            Rejection("?", None, path.name, "cannot tell which HSDS object the file holds")
        )
        return batch
    for index, item in enumerate(items):
        where = f"{path.name}[{index}]" if len(items) > 1 or path.stem.endswith("s") else path.name
        read_nested(schemas, batch, object_name, item, where)
    return batch


def read_nested(
    schemas: hsds.Schemas | None, batch: _Batch, object_name: str, item: Any, where: str
) -> None:
    """Flatten one nested object (validated whole against its schema, when given) into rows."""
    if not isinstance(item, dict):
        batch.rejected.append(Rejection(object_name, None, where, "not a JSON object"))
        return
    bad: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for problem in schemas.problems(object_name, item) if schemas else ():
        bad[_owning_object(item, problem.path)].append(_problem_text(problem))
    _flatten(schemas, batch, object_name, item, (), where, None, None, bad)


def _owning_object(item: Any, path: tuple[str | int, ...]) -> tuple[Any, ...]:
    """The path of the innermost object on `path`: the one whose field (or self) is at fault."""
    owner: tuple[Any, ...] = ()
    node = item
    for depth, step in enumerate(path):
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict):
            owner = path[: depth + 1]
    return owner


def _problem_text(problem: hsds.Problem) -> str:
    where = ".".join(str(p) for p in problem.path)
    return f"{where}: {problem.message}" if where else problem.message


def _flatten(
    schemas: hsds.Schemas | None,
    batch: _Batch,
    object_name: str,
    node: dict[str, Any],
    path: tuple[Any, ...],
    where: str,
    parent: SourceRow | None,
    via: str | None,
    bad: Mapping[tuple[Any, ...], list[str]],
) -> SourceRow | None:
    location = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    if path in bad or not isinstance(node.get("id"), str):
        reasons = bad.get(path) or ["missing id"]
        nested = sum(1 for _ in _descendants(node)) - 1
        reason = "; ".join(reasons) + (f" (its {nested} nested objects skipped)" if nested else "")
        batch.rejected.append(Rejection(object_name, node.get("id"), location, reason))
        return None
    columns = set(hsds.columns(object_name))
    values = {k: v for k, v in node.items() if k in columns}
    row = SourceRow(object_name, node["id"], values, location)
    if parent is not None and via is not None:
        _infer_links(row, parent, via, columns)
    batch.rows.append(row)
    for key, child in node.items():
        child_object = hsds.NESTED.get(key)
        if child_object is None or not isinstance(child, dict | list):
            continue
        children = child if isinstance(child, list) else [child]
        for index, grandchild in enumerate(children):
            step = (key, index) if isinstance(child, list) else (key,)
            if not isinstance(grandchild, dict):
                continue
            created = _flatten(
                schemas, batch, child_object, grandchild, path + step, where, row, key, bad
            )
            if created is not None and isinstance(child, dict):
                _link_parent(row, created, key, columns)
            if created is not None and child_object == "program" and object_name == "service":
                batch.program_hints[created.id] = row
    return row


def _descendants(node: Any) -> Iterable[Any]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _descendants(value)
    elif isinstance(node, list):
        for value in node:
            yield from _descendants(value)


def _infer_links(row: SourceRow, parent: SourceRow, via: str, columns: set[str]) -> None:
    """A nested child inherits the link to the object it is nested in (explicit values win)."""
    if via in (
        "organization",
        "program",
        "location",
        "service",
        "taxonomy_term",
        "taxonomy_detail",
    ):
        return  # a single nested object is the parent's target, not its child
    inferred: dict[str, Any] = {}
    if row.object == "attribute":
        inferred = {"link_id": parent.id, "link_entity": parent.object}
    elif row.object == "metadata":
        inferred = {"resource_id": parent.id, "resource_type": parent.object}
    elif f"{parent.object}_id" in columns:
        inferred = {f"{parent.object}_id": parent.id}
    for name, value in inferred.items():
        if row.values.get(name) in (None, ""):
            row.values[name] = value
            row.inferred.add(name)


def _link_parent(parent: SourceRow, child: SourceRow, key: str, columns: set[str]) -> None:
    name = "taxonomy_id" if key == "taxonomy_detail" else f"{key}_id"
    if name in columns and parent.values.get(name) in (None, ""):
        parent.values[name] = child.id
        parent.inferred.add(name)


# ---------------------------------------------------------------- merging


def merge_rows(batch: _Batch) -> list[SourceRow]:
    """One row per (object, id): the same phone nested under a service and a location is one row."""
    merged: dict[tuple[str, str], SourceRow] = {}
    for row in batch.rows:
        key = (row.object, row.id)
        first = merged.get(key)
        if first is None:
            merged[key] = SourceRow(
                row.object, row.id, dict(row.values), row.where, set(row.inferred)
            )
            continue
        for name, value in row.values.items():
            if name not in first.values or (
                name in first.inferred and first.values[name] in (None, "")
            ):
                first.values[name] = value
                if name in row.inferred:
                    first.inferred.add(name)
            elif first.values[name] != value and name not in row.inferred:
                if name in first.inferred:
                    first.values[name] = value
                    first.inferred.discard(name)
                else:
                    batch.notes.append(
                        f"{row.where}: {row.object} {row.id}: {name} differs from {first.where}; "
                        "kept the first"
                    )
    for program_id, service in batch.program_hints.items():
        program = merged.get(("program", program_id))
        owner = merged.get(("service", service.id))
        if program and owner and program.values.get("organization_id") in (None, ""):
            organization = owner.values.get("organization_id")
            if organization:
                program.values["organization_id"] = organization
                program.inferred.add("organization_id")
    return list(merged.values())


# ---------------------------------------------------------------- applying


class _Known:
    """Ids that exist, in the database or earlier in this import."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._ids: dict[str, set[str]] = {}

    def __getitem__(self, object_name: str) -> set[str]:
        if object_name not in self._ids:
            model = HSDS_MODELS[object_name]
            self._ids[object_name] = set(self._session.scalars(select(model.id)))
        return self._ids[object_name]


def apply_rows(
    session: Session,
    rows: list[SourceRow],
    report: ImportReport,
    progress: Progress | None = None,
) -> None:
    known = _Known(session)
    order = {name: index for index, name in enumerate(hsds.TABLE_ORDER)}
    rows = sorted(rows, key=lambda r: order[r.object])
    if progress:
        progress.start(len(rows), "importing")
    for row in rows:
        reason = _apply_row(session, row, known, report)
        if reason:
            report.rejected.append(Rejection(row.object, row.id, row.where, reason))
        if progress:
            progress.advance()


def _apply_row(session: Session, row: SourceRow, known: _Known, report: ImportReport) -> str | None:
    model = HSDS_MODELS[row.object]
    converted: dict[str, Any] = {}
    problems = []
    for name, value in row.values.items():
        try:
            converted[name] = hsds.to_python(model, name, value)
        except hsds.ValueProblem as exc:
            problems.append(str(exc))
    if problems:
        return "; ".join(problems)
    existing = session.get(model, row.id)
    merged = _values_of(existing) if existing is not None else {}
    merged.update(converted)
    merged["id"] = row.id
    missing = [
        column.name
        for column in model.__table__.columns
        if not column.nullable and column.default is None and merged.get(column.name) is None
    ]
    if missing:
        return "missing required field: " + ", ".join(missing)
    problem = _semantic_problem(row.object, merged) or _link_problem(row, merged, known, report)
    if problem:
        return problem
    changed = {k: v for k, v in converted.items() if existing is None or getattr(existing, k) != v}
    if existing is not None and not changed:
        report.unchanged[row.object] += 1
        known[row.object].add(row.id)
        return None
    try:
        with session.begin_nested():
            if existing is None:
                session.add(model(**merged))
            else:
                for name, value in changed.items():
                    setattr(existing, name, value)
            session.flush()
    except SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        return "database refused the row: " + str(detail).splitlines()[0]
    (report.created if existing is None else report.updated)[row.object] += 1
    report.changed[row.object].add(row.id)
    known[row.object].add(row.id)
    return None


def _values_of(obj: HSDSObject) -> dict[str, Any]:
    return {column.name: getattr(obj, column.name) for column in obj.__table__.columns}


def _semantic_problem(object_name: str, values: Mapping[str, Any]) -> str | None:
    if object_name == "schedule":
        try:
            parse_rule(values)
        except ScheduleError as exc:
            return f"bad schedule: {exc}"
    field_name = hsds.LANGUAGE_FIELDS.get(object_name)
    if field_name and values.get(field_name) and not languages.is_valid(values[field_name]):
        return f"{field_name}: not an ISO 639 language code: {values[field_name]!r}"
    return None


def _link_problem(
    row: SourceRow, values: Mapping[str, Any], known: _Known, report: ImportReport
) -> str | None:
    for name, target in hsds.REQUIRED_LINKS.get(row.object, {}).items():
        if values.get(name) not in known[target]:
            return f"{name}: no {target} with id {values.get(name)!r}"
    owners = hsds.OWNER_LINKS.get(row.object)
    if owners:
        given = {name: values[name] for name in owners if values.get(name)}
        if not given:
            return "not linked to any " + " or ".join(sorted(set(owners.values())))
        resolved = [name for name, value in given.items() if value in known[owners[name]]]
        if not resolved:
            return "links to nothing known: " + ", ".join(
                f"{name} {value!r}" for name, value in given.items()
            )
        dangling = [name for name in given if name not in resolved]
    else:
        dangling = []
    soft = hsds.SOFT_LINKS.get(row.object, {})
    dangling += [
        name
        for name, target in soft.items()
        if values.get(name) and values[name] not in known[target]
    ]
    for name in dangling:
        report.notes.append(
            f"{row.where}: {row.object} {row.id}: {name} {values[name]!r} is not in the directory; "
            "kept as given"
        )
    return None


# ---------------------------------------------------------------- entry point


def _require(schemas: hsds.Schemas | None) -> hsds.Schemas:
    if schemas is None:
        raise ValueError("the tabular form needs the HSDS schemas (its CSV names and types)")
    return schemas


def _combine(batches: Iterable[_Batch]) -> _Batch:
    combined = _Batch()
    for batch in batches:
        combined.rows.extend(batch.rows)
        combined.rejected.extend(batch.rejected)
        combined.notes.extend(batch.notes)
        combined.program_hints.update(batch.program_hints)
    return combined


def import_hsds(
    session: Session,
    path: Path,
    *,
    schemas: hsds.Schemas | None,
    progress: Progress | None = None,
    reindex: Callable[[Session, ImportReport], None] | None = None,
) -> ImportReport:
    """Import an HSDS CSV package directory, a tabular-JSON file, or nested JSON file(s).

    Without `schemas` (only for trusted data such as the demo's) nested JSON skips JSON Schema
    validation; every other check still applies.
    """
    report = ImportReport()
    if path.is_dir():
        if any(path.glob("*.csv")):
            batches = [read_csv_package(_require(schemas), path)]
        else:
            # A folder of JSON files is one data set: rows are merged and applied parents first.
            batches = [_combine(read_json(schemas, p) for p in sorted(path.glob("*.json")))]
    else:
        batches = [read_json(schemas, path)] if path.suffix == ".json" else []
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as handle:
                batches = [
                    read_tabular(
                        _require(schemas),
                        {path.name: list(csv.DictReader(handle))},
                        path.parent.name,
                    )
                ]
    for batch in batches:
        part = ImportReport(rejected=list(batch.rejected))
        rows = merge_rows(batch)
        part.notes.extend(batch.notes)
        apply_rows(session, rows, part, progress)
        report.merge(part)
    if reindex is not None and report.total_changed:
        reindex(session, report)
    return report
