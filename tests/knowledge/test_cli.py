"""`helpline kb …` through click, with the database handed over as the context object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from console.cli import main
from console.db import Database
from knowledge.cli import kb


class _Obj:
    def __init__(self, database: Database) -> None:
        self._database = database

    def sessionmaker(self) -> Any:
        return self._database.write


def test_kb_is_attached_to_helpline() -> None:
    assert main.commands["kb"] is kb


def test_import_search_export(database: Database, hsds_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    obj = _Obj(database)
    result = runner.invoke(kb, ["import", str(hsds_root / "examples" / "csv")], obj=obj)
    assert result.exit_code == 0, result.output
    assert "created 21, updated 0, unchanged 0, rejected 0" in result.output

    result = runner.invoke(kb, ["load-demo"], obj=obj)
    assert result.exit_code == 0
    assert "rejected 0" in result.output

    result = runner.invoke(kb, ["search", "beschermingsb", "--lang", "nl"], obj=obj)
    assert result.exit_code == 0
    first = result.output.splitlines()[0].split("\t")
    assert first[:3] == ["article", "protection-orders-nl", "Beschermingsbevel en contactverbod"]

    result = runner.invoke(kb, ["search", "shelter", "--json", "--open-now"], obj=obj)
    assert result.exit_code == 0
    assert '"kind": "service"' in result.output

    out = tmp_path / "export"
    result = runner.invoke(kb, ["export", "--format", "csv", "--out", str(out)], obj=obj)
    assert result.exit_code == 0, result.output
    assert (out / "services.csv").is_file()
    assert (out / "datapackage.json").is_file()
    assert len(list((out / "articles").glob("*.md"))) == 20

    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "not-a-uuid", "name": "x", "status": "active"}]')
    (tmp_path / "services.json").write_text(broken.read_text())
    result = runner.invoke(kb, ["import", "--strict", str(tmp_path / "services.json")], obj=obj)
    assert result.exit_code == 1
    assert "rejected: services.json" in result.output
    assert "not-a-uuid" in result.output


def test_reindex_and_due(database: Database) -> None:
    runner = CliRunner()
    obj = _Obj(database)
    assert runner.invoke(kb, ["load-demo"], obj=obj).exit_code == 0
    result = runner.invoke(kb, ["reindex"], obj=obj)
    assert result.output.strip() == "indexed 20 articles and 14 services"
    result = runner.invoke(kb, ["due", "--grace-days", "365"], obj=obj)
    assert "Trauma Counselling" in result.output
