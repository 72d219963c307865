"""One entry point for `kb import`: HSDS data and/or a folder of Markdown articles."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from knowledge import articles, hsds
from knowledge.hsds_import import ImportReport, Progress, Rejection, import_hsds
from knowledge.indexing import reindex_after_import


def import_articles(
    session: Session, paths: Iterable[Path], progress: Progress | None = None
) -> ImportReport:
    report = ImportReport()
    paths = list(paths)
    if progress:
        progress.start(len(paths), "articles")
    for path, data in articles.read_files(paths):
        if isinstance(data, articles.ArticleProblem):
            report.rejected.append(Rejection("article", path.stem, path.name, str(data)))
        else:
            try:
                with session.begin_nested():
                    outcome = articles.upsert(session, data)
            except SQLAlchemyError as exc:
                detail = getattr(exc, "orig", None) or exc
                reason = "database refused the article: " + str(detail).splitlines()[0]
                report.rejected.append(Rejection("article", data.id, path.name, reason))
            else:
                {"created": report.created, "updated": report.updated}.get(
                    outcome, report.unchanged
                )["article"] += 1
                if outcome != "unchanged":
                    report.changed["article"].add(data.id)
        if progress:
            progress.advance()
    return report


def has_hsds(path: Path) -> bool:
    if path.is_dir():
        return any(path.glob("*.csv")) or any(path.glob("*.json"))
    return path.suffix in (".json", ".csv")


def import_path(
    session: Session,
    path: Path,
    *,
    schemas: hsds.Schemas | None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import whatever `path` holds and bring the search index up to date. The caller commits."""
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    report = ImportReport()
    if has_hsds(path):
        report.merge(import_hsds(session, path, schemas=schemas, progress=progress))
    markdown = articles.markdown_files(path)
    if markdown:
        report.merge(import_articles(session, markdown, progress))
    if report.total_changed:
        reindex_after_import(session, report)
    return report
