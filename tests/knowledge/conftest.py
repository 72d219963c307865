"""Fixtures of the knowledge-base tests: the HSDS conformance files and a demo-loaded database."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from console.db import Database
from knowledge import demo, hsds
from knowledge.models import metadata

HSDS_ROOT = Path(__file__).resolve().parents[3] / "shared" / "hsds-3.0"
# A Tuesday morning in Brussels (UTC+1): office-hours services are open.
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def hsds_root() -> Path:
    if not (HSDS_ROOT / "schema" / "tabular.json").is_file():
        if os.environ.get("CI"):
            pytest.fail(
                f"HSDS 3.0 reference files missing at {HSDS_ROOT} (CI has shared/ beside main)"
            )
        pytest.skip(
            f"HSDS 3.0 reference files not found at {HSDS_ROOT} (clone shared/ beside main)"
        )
    return HSDS_ROOT


@pytest.fixture(scope="session")
def schemas(hsds_root: Path) -> hsds.Schemas:
    return hsds.Schemas(hsds_root / "schema")


def clear_knowledge(database: Database) -> None:
    with database.write_engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))


@pytest.fixture(scope="module")
def demo_database(migrated_database: Database) -> Iterator[Database]:
    """The demo directory and articles, loaded once for a module of read-only tests."""
    clear_knowledge(migrated_database)
    with migrated_database.transaction() as session:
        report = demo.load(session, now=NOW)
    assert not report.rejected
    yield migrated_database
    clear_knowledge(migrated_database)


@pytest.fixture
def demo_session(demo_database: Database) -> Iterator[object]:
    session = demo_database.read()
    yield session
    session.rollback()
    session.close()
