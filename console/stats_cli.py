"""`helpline stats`: rebuild the statistics' rollups from the raw records.

Run it after changing `config/wallboard.toml`'s service-level or short-abandon settings, after
restoring a backup, or to check the running totals: the rebuild recomputes every rollup, the
staffed time, and each operator's current-shift wellbeing figures in one transaction.
"""

from __future__ import annotations

import time
from typing import Any

import click


@click.group()
def stats() -> None:
    """Statistics: rollups behind the wallboard and the reports."""


@stats.command("rebuild")
@click.pass_obj
def rebuild(obj: Any) -> None:
    """Recompute every rollup from the contacts, outcomes and presence log."""
    from console.domain import rollups
    from console.domain.stats_settings import install, load_stats_settings

    cfg = install(load_stats_settings(obj.settings))
    started = time.perf_counter()
    with obj.database.transaction() as session:
        result = rollups.rebuild(session, cfg)
    click.echo(
        f"rebuilt statistics from {result.contacts} contacts and {result.presence_changes} "
        f"staffed spans: {result.rollup_rows} rollup rows, {result.staffing_rows} staffing rows "
        f"in {time.perf_counter() - started:.1f}s"
    )
