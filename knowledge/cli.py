"""`helpline kb`: import, export and search the knowledge base from the command line.

The session factory comes from the click context object (`console.cli.Context.sessionmaker()`),
so this module needs nothing from the console.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlalchemy.orm import Session

    from knowledge import hsds
    from knowledge.hsds_import import ImportReport

# The knowledge modules (jsonschema, markdown, holidays…) load when a kb command runs, not
# whenever `helpline` starts.
SCHEMA_ENV = "HELPLINE_HSDS_SCHEMAS"


@contextmanager
def _session() -> Iterator[Session]:
    ctx_obj = click.get_current_context().obj
    if ctx_obj is None or not hasattr(ctx_obj, "sessionmaker"):
        raise click.ClickException("kb runs under `helpline`, which provides the database")
    session: Session = ctx_obj.sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class _RichProgress:
    """Adapts rich's progress bar to the importer's start/advance protocol."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: Any = None

    def start(self, total: int, description: str) -> None:
        self._task = self._progress.add_task(description, total=total)

    def advance(self, steps: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, steps)


def _schemas(directory: str | None, *, required: bool) -> hsds.Schemas | None:
    from knowledge import hsds

    try:
        return hsds.Schemas(hsds.schema_dir(directory))
    except FileNotFoundError as exc:
        if required:
            raise click.ClickException(str(exc)) from exc
        return None


@click.group()
def kb() -> None:
    """Knowledge base: information articles and the HSDS 3.0 referral directory."""


@kb.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--schemas",
    "schema_dir",
    envvar=SCHEMA_ENV,
    default=None,
    help="Directory of the HSDS 3.0 compiled JSON Schemas.",
)
@click.option("--notes", is_flag=True, help="Also list the notes (kept dangling links, …).")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any row was rejected.")
def import_command(path: Path, schema_dir: str | None, notes: bool, strict: bool) -> None:
    """Import HSDS JSON, an HSDS CSV package, or a folder of Markdown articles."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from knowledge.imports import has_hsds, import_path

    schemas = _schemas(schema_dir, required=has_hsds(path))
    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            # Progress goes to stderr so scripts can read the report on stdout.
            console=Console(stderr=True),
            transient=True,
        ) as progress,
        _session() as session,
    ):
        report = import_path(session, path, schemas=schemas, progress=_RichProgress(progress))
    _print_report(report, notes)
    if strict and report.rejected:
        raise SystemExit(1)


def _print_report(report: ImportReport, notes: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    names = sorted(set(report.created) | set(report.updated) | set(report.unchanged))
    table = Table("object", "created", "updated", "unchanged", title="import")
    for name in names:
        table.add_row(
            name, str(report.created[name]), str(report.updated[name]), str(report.unchanged[name])
        )
    console = Console()
    console.print(table)
    click.echo(
        f"created {sum(report.created.values())}, updated {sum(report.updated.values())}, "
        f"unchanged {sum(report.unchanged.values())}, rejected {len(report.rejected)}"
    )
    for rejection in report.rejected:
        click.echo(f"rejected: {rejection}")
    if report.notes:
        if notes:
            for note in report.notes:
                click.echo(f"note: {note}")
        else:
            click.echo(f"{len(report.notes)} notes (use --notes to list them)")


@kb.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--schemas",
    "schema_dir",
    envvar=SCHEMA_ENV,
    default=None,
    help="Directory of the HSDS 3.0 compiled JSON Schemas.",
)
def export_command(fmt: str, out: Path, schema_dir: str | None) -> None:
    """Write the directory as HSDS 3.0 (validated) and the articles as Markdown to OUT."""
    from knowledge import articles
    from knowledge.hsds_export import ExportInvalid, export_csv, export_json

    schemas = _schemas(schema_dir, required=True)
    assert schemas is not None
    with _session() as session:
        try:
            summary = (export_json if fmt == "json" else export_csv)(session, out, schemas)
        except ExportInvalid as exc:
            raise click.ClickException(f"export would not validate: {exc}") from exc
        written = articles.export(session, out / "articles")
    total = sum(summary.counts.values())
    click.echo(
        f"wrote {total} HSDS objects in {len(summary.files)} files and "
        f"{len(written)} articles to {out}"
    )


@kb.command("search")
@click.argument("query")
@click.option("--lang", default=None, help="Caller's language (ISO 639 code).")
@click.option("--region", default=None, help="Service area or town.")
@click.option("--term", "taxonomy_term", default=None, help="Taxonomy term id or code.")
@click.option("--age", type=int, default=None)
@click.option("--open-now", is_flag=True)
@click.option("--zone", default=None, help="IANA time zone for schedule offsets.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per result.")
def search_command(
    query: str,
    lang: str | None,
    region: str | None,
    taxonomy_term: str | None,
    age: int | None,
    open_now: bool,
    zone: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Print ranked results: kind, id, title, score."""
    from knowledge.search import search as run_search

    with _session() as session:
        results = run_search(
            session,
            query,
            lang=lang,
            region=region,
            taxonomy_term=taxonomy_term,
            age=age,
            open_now=open_now,
            zone=zone,
            limit=limit,
        )
    for result in results:
        if as_json:
            click.echo(json.dumps(asdict(result), ensure_ascii=False))
        else:
            state = "" if result.open_now is None else (" open" if result.open_now else " closed")
            click.echo(f"{result.kind}\t{result.id}\t{result.title}\t{result.score:.4f}{state}")
    if not results and not as_json:
        click.echo("no results", err=True)


@kb.command("reindex")
def reindex_command() -> None:
    """Rebuild the search index from the directory and the articles."""
    from knowledge import indexing

    with _session() as session:
        articles_count, services = indexing.rebuild(session)
    click.echo(f"indexed {articles_count} articles and {services} services")


@kb.command("due")
@click.option("--grace-days", type=int, default=365, show_default=True)
def due_command(grace_days: int) -> None:
    """List articles and services due for review."""
    from knowledge.freshness import due_for_review

    with _session() as session:
        items = due_for_review(session, dt.datetime.now(dt.UTC), grace_days)
    for item in items:
        click.echo(f"{item.kind}\t{item.id}\t{item.title}\t{item.reason}")


@kb.command("load-demo")
def load_demo_command() -> None:
    """Load the invented Scheldt Valley directory and articles (idempotent)."""
    from knowledge import demo

    with _session() as session:
        report = demo.load(session)
    click.echo(
        f"demo data: created {sum(report.created.values())}, "
        f"updated {sum(report.updated.values())}, rejected {len(report.rejected)}"
    )
