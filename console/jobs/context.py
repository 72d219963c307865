"""What a job function needs in whichever process runs it: settings and the database."""

from __future__ import annotations

from dataclasses import dataclass

from console.db import Database
from console.settings import Settings


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    database: Database


_context: JobContext | None = None


def set_context(settings: Settings, database: Database) -> JobContext:
    global _context
    _context = JobContext(settings, database)
    return _context


def get_context() -> JobContext:
    if _context is None:
        from console.settings import load_settings

        settings = load_settings(mode="production")
        return set_context(settings, Database(settings.database_url))
    return _context
