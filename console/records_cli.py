"""`helpline keys …` (identity encryption keys) and `helpline erase --case REF` (a data-subject
erasure request). Attached to the `helpline` command by console.cli; the click context object is
console.cli's Context (settings and database), so nothing is imported from the CLI module itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from console.db import utcnow

if TYPE_CHECKING:
    from console.cli import Context


@click.group()
def keys() -> None:
    """Identity encryption keys (HELPLINE_IDENTITY_KEYS, newest first)."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key. Put it first in HELPLINE_IDENTITY_KEYS, keep the old ones after it."""
    from console.domain.crypto import generate_key

    click.echo(generate_key())


def _ring(obj: Context) -> None:
    from console.domain.records_config import setup
    from console.settings import SettingsError

    try:
        setup(obj.settings)
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


@keys.command("rotate")
@click.option("--batch", default=500, show_default=True, help="Rows per transaction.")
@click.pass_obj
def keys_rotate(obj: Context, batch: int) -> None:
    """Re-encrypt every stored value under the newest key, while the line keeps running."""
    from console.domain import rotation

    _ring(obj)
    done = rotation.rotate_all(obj.database, batch=batch)
    for name, count in done.items():
        click.echo(f"{name}: {count} re-encrypted")
    left = rotation.pending(obj.database)
    if left:
        raise click.ClickException(f"{left} values are still under an older key; run it again")
    click.echo("every value is under the newest key; older keys can now be removed")


@keys.command("status")
@click.pass_obj
def keys_status(obj: Context) -> None:
    """How many stored values are not yet under the newest key."""
    from console.domain import rotation

    _ring(obj)
    click.echo(f"{rotation.pending(obj.database)} values under an older key")


@click.command("erase")
@click.option("--case", "ref", required=True, help="The case reference (or a contact reference).")
@click.option(
    "--admin",
    "admin_username",
    default=None,
    help="The admin serving the request, recorded in the audit trail (else: the system).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def erase(obj: Context, ref: str, admin_username: str | None, yes: bool) -> None:
    """Serve a data-subject erasure request: end the case's consents and erase its identity,
    notes and drafts. Outcome records, which hold no identity, are kept."""
    from sqlalchemy import select

    from console.domain import retention
    from console.domain.errors import DomainError
    from console.domain.operators import Operator

    _ring(obj)
    if not yes:
        click.confirm(f"Erase everything identifying under {ref}?", abort=True)
    try:
        with obj.database.transaction() as session:
            actor_id = None
            if admin_username:
                actor_id = session.scalar(
                    select(Operator.id).where(Operator.username == admin_username.lower())
                )
                if actor_id is None:
                    raise click.ClickException(f"no operator {admin_username!r}")
            counts = retention.erase_case(session, ref, actor_id=actor_id, now=utcnow())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))
    obj.database.truncate_wal()
