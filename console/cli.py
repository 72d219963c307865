"""The `helpline` command: serve, worker, db upgrade, create-operator, demo."""

from __future__ import annotations

import gc
import getpass
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from console.db import Database
from console.settings import Mode, Settings, SettingsError, load_settings


class Context:
    """Lazily loaded settings and database, shared by every subcommand (and `helpline kb`)."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self._settings: Settings | None = None
        self._database: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(mode=self.mode)
            except SettingsError as exc:
                click.echo(f"helpline: configuration error: {exc}", err=True)
                sys.exit(2)
        return self._settings

    @property
    def database(self) -> Database:
        if self._database is None:
            # Embedded mode (no Redis) is one server process: its SQLite writers may take turns
            # among themselves (console.db). With Redis, several processes share the database.
            self._database = Database(
                self.settings.database_url, sole_writer=self.settings.redis_url is None
            )
        return self._database

    def sessionmaker(self) -> Any:
        return self.database.write


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every plugin it loads, and Werkzeug warns that it is not gunicorn.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


pass_ctx = click.make_pass_decorator(Context)


@click.group()
@click.option(
    "--mode",
    type=click.Choice(["production", "demo", "test"]),
    envvar="HELPLINE_MODE",
    default="production",
    show_default=True,
    help="demo and test generate a secret key; production requires HELPLINE_SECRET_KEY.",
)
@click.option("--log-level", envvar="HELPLINE_LOG_LEVEL", default="info")
@click.pass_context
def main(ctx: click.Context, mode: Mode, log_level: str) -> None:
    """Operations console for a victim-support helpline."""
    _logging(log_level)
    ctx.obj = Context(mode)


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@pass_ctx
def db_upgrade(obj: Context, revision: str) -> None:
    """Apply every migration (all packages' heads)."""
    from console.migrate import upgrade

    upgrade(obj.database, revision)
    click.echo("database is up to date")


@main.command("create-operator")
@click.argument("username")
@click.option("--role", type=click.Choice(["operator", "shift_lead", "admin"]), default="operator")
@click.option("--name", "display_name", default=None, help="Name shown to colleagues.")
@click.option("--languages", default="en", show_default=True, help="Comma-separated codes.")
@click.option("--skills", default="", help="Comma-separated topic codes; empty means all.")
@click.option("--password", default=None, help="Prompted for when left out.")
@pass_ctx
def create_operator(
    obj: Context,
    username: str,
    role: str,
    display_name: str | None,
    languages: str,
    skills: str,
    password: str | None,
) -> None:
    """Create a staff account."""
    from console.domain import operators
    from console.domain.errors import DomainError

    if password is None:
        password = getpass.getpass("Password: ")
    try:
        with obj.database.transaction() as session:
            operator = operators.create_operator(
                session,
                username=username,
                password=password,
                display_name=display_name,
                role=role,
                languages=[x.strip() for x in languages.split(",") if x.strip()],
                skills=[x.strip() for x in skills.split(",") if x.strip()],
                max_chats=obj.settings.operators.max_chats,
            )
            click.echo(f"created {operator.role} {operator.username} (id {operator.id})")
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_ctx
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the console (Flask-SocketIO, threading mode)."""
    from console.migrate import upgrade

    upgrade(obj.database)
    run_server(obj.settings, obj.database, host, port)


def settle_heap() -> None:
    """Move everything built at start-up out of the garbage collector's sight.

    A full collection walks every object alive; for a server holding its app, its libraries and
    hundreds of sockets that is a pause of a tenth of a second, long enough to hold up an event on
    its way to every console. Frozen objects are never walked again (they live as long as the
    process anyway), so later collections see only what requests create.
    """
    gc.collect()
    gc.freeze()


def run_server(
    settings: Settings,
    database: Database,
    host: str,
    port: int,
    before_serving: Callable[[Any], None] | None = None,
) -> None:
    from console.app import create_app
    from console.extensions import socketio
    from console.web.serving import AnonymousRequestHandler

    try:
        app = create_app(settings, database)
    except SettingsError as exc:
        # Packages check their own settings in create_app; the same one clear line as above.
        click.echo(f"helpline: configuration error: {exc}", err=True)
        sys.exit(2)
    if before_serving is not None:
        before_serving(app)
    click.echo(f"serving {settings.helpline_name} on http://{host}:{port}")
    settle_heap()
    # log_output=False: Werkzeug's access log would write client addresses; ours does not.
    socketio.run(
        app,
        host=host,
        port=port,
        log_output=False,
        allow_unsafe_werkzeug=True,
        request_handler=AnonymousRequestHandler,
    )


@main.command()
@click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
@pass_ctx
def worker(obj: Context, burst: bool) -> None:
    """Run an RQ worker (with the scheduler) for the background jobs."""
    from console.jobs.worker import run_worker

    run_worker(obj.settings, burst=burst)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-stream", is_flag=True, help="Seed the demo but simulate no contacts.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_stream: bool) -> None:
    """Seed demo accounts and data, then serve with a stream of simulated contacts."""
    obj: Context = ctx.obj
    if obj.mode == "production":
        obj.mode = "demo"
    from console import demo as demo_module
    from console.migrate import upgrade

    upgrade(obj.database)
    import knowledge.demo

    with obj.database.transaction() as s:
        knowledge.demo.load(s)
    accounts = demo_module.seed(obj.database, obj.settings)
    click.echo("")
    click.echo("Demo accounts (shown once; they are stored only as argon2 hashes):")
    for account in accounts:
        click.echo(f"  {account.role:<11} {account.username:<10} password: {account.password}")
    click.echo("")

    def start_stream(app: Any) -> None:
        if not no_stream:
            demo_module.start_stream(app, obj.settings, obj.database)

    run_server(obj.settings, obj.database, host, port, before_serving=start_stream)


def attach(group: click.Command) -> None:
    """Packages add their command groups (or commands) here: knowledge's `kb`, records' `keys`."""
    main.add_command(group)


from knowledge.cli import kb  # noqa: E402

attach(kb)

from console.stats_cli import stats  # noqa: E402

attach(stats)

from console.records_cli import erase, keys  # noqa: E402

attach(keys)
attach(erase)

from telephony.cli import simulate, telephony_group  # noqa: E402

attach(simulate)
attach(telephony_group)

if __name__ == "__main__":
    main()
