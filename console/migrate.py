"""`helpline db upgrade`: Alembic migrations, run from code so no alembic.ini is needed.

Each package owns a branch of migrations rooted at no parent (console, knowledge, …); `upgrade`
runs every head, so packages developed side by side never fight over one linear chain.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from console.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def target_metadata() -> list[MetaData]:
    import console.models

    # Telephony maps its tables on console's base; importing its models completes that metadata.
    import telephony.models  # noqa: F401

    metadatas = [console.models.metadata]
    for extra in extra_metadata():
        metadatas.append(extra)
    return metadatas


def extra_metadata() -> list[MetaData]:
    """Metadata of stand-alone packages that keep their own declarative base."""
    found: list[MetaData] = []
    try:
        from knowledge.models import metadata as kb_metadata
    except ImportError:
        pass
    else:
        found.append(kb_metadata)
    try:
        from chat.models import metadata as chat_metadata
    except ImportError:
        pass
    else:
        found.append(chat_metadata)
    return found


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("version_locations", str(MIGRATIONS / "versions"))
    return cfg


def upgrade(database: Database, revision: str = "heads") -> None:
    cfg = alembic_config(database.url)
    with database.write_engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade(database: Database, revision: str) -> None:
    cfg = alembic_config(database.url)
    with database.write_engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)
