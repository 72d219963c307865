"""HSDS 3.0 export: both forms validate against the schemas, and a round trip changes nothing."""

from __future__ import annotations

import csv
import filecmp
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from knowledge import demo, hsds
from knowledge.hsds_export import export_csv, export_json
from knowledge.imports import import_path
from tests.knowledge.conftest import NOW, clear_knowledge

ROOT_SCHEMAS = {"services.json": "service", "organizations.json": "organization"}


def _load_everything(session: Session, hsds_root: Path, schemas: hsds.Schemas) -> None:
    assert not import_path(session, hsds_root / "examples" / "csv", schemas=schemas).rejected
    assert not import_path(session, hsds_root / "examples", schemas=schemas).rejected
    assert not demo.load(session, now=NOW).rejected


def _validate_json_export(out: Path, hsds_root: Path, schemas: hsds.Schemas) -> int:
    checked = 0
    for path in sorted(out.glob("*.json")):
        items = json.loads(path.read_text(encoding="utf-8"))
        if path.name in ROOT_SCHEMAS:
            # The published schema file itself, not our reading of it.
            schema = json.loads(
                (hsds_root / "schema" / f"{ROOT_SCHEMAS[path.name]}.json").read_text()
            )
            validator = Draft202012Validator(schema)
            for item in items:
                assert list(validator.iter_errors(item)) == [], (path.name, item["id"])
        else:
            object_name = {"taxonomies.json": "taxonomy", "metadata.json": "metadata"}.get(
                path.name, path.stem.removesuffix("s")
            )
            for item in items:
                assert schemas.problems(object_name, item) == [], (path.name, item["id"])
        checked += len(items)
    return checked


def _cell(kind: str | None, text: str) -> Any:
    if kind == "number":
        return float(text)
    return text


def _validate_csv_export(out: Path, hsds_root: Path) -> int:
    tabular = json.loads((hsds_root / "schema" / "tabular.json").read_text())["properties"]
    checked = 0
    for name, prop in tabular.items():
        item_schema = prop["items"]
        validator = Draft202012Validator(item_schema)
        with (out / item_schema["path"]).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                typed = {
                    k: _cell(item_schema["properties"].get(k, {}).get("type"), v)
                    for k, v in row.items()
                    if v != "" and k in item_schema["properties"]
                }
                assert list(validator.iter_errors(typed)) == [], (name, row["id"])
                checked += 1
    return checked


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_validates_and_round_trips(
    database: Any, hsds_root: Path, schemas: hsds.Schemas, tmp_path: Path, fmt: str
) -> None:
    export = export_json if fmt == "json" else export_csv
    with database.transaction() as session:
        _load_everything(session, hsds_root, schemas)
    with database.transaction() as session:
        summary = export(session, tmp_path / "first", schemas)
    assert summary.counts["service"] == 15
    if fmt == "json":
        assert (
            _validate_json_export(tmp_path / "first", hsds_root, schemas) >= 50
        )  # top-level objects
    else:
        assert _validate_csv_export(tmp_path / "first", hsds_root) > 400

    # Import the export into the same data: nothing changes.
    with database.transaction() as session:
        again = import_path(session, tmp_path / "first", schemas=schemas)
    assert again.rejected == []
    assert again.total_changed == 0

    # Import it into an empty directory and export again: the same files, byte for byte.
    clear_knowledge(database)
    with database.transaction() as session:
        fresh = import_path(session, tmp_path / "first", schemas=schemas)
    assert fresh.rejected == []
    assert sum(fresh.created.values()) == sum(summary.counts.values())
    with database.transaction() as session:
        export(session, tmp_path / "second", schemas)
    comparison = filecmp.dircmp(tmp_path / "first", tmp_path / "second")
    assert comparison.diff_files == []
    assert comparison.left_only == comparison.right_only == []
    assert (
        filecmp.cmpfiles(
            tmp_path / "first",
            tmp_path / "second",
            [p.name for p in (tmp_path / "first").iterdir()],
            shallow=False,
        )[1]
        == []
    )
