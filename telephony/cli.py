"""`helpline simulate call` (Twilio's side of a call, played locally) and `helpline telephony`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import telephony.jobs  # noqa: F401  (the worker learns telephony's periodic jobs from this import)

FALLBACK = Path(__file__).resolve().parent / "static" / "fallback.xml"


@click.group()
def simulate() -> None:
    """Play Twilio's side of calls against a running server (or one started in this process)."""


@simulate.command("call")
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="The server.")
@click.option(
    "--public-base-url",
    envvar="HELPLINE_PUBLIC_BASE_URL",
    default=None,
    help="The URL Twilio would call (and sign), if the server sits behind a proxy.",
)
@click.option("--from", "from_", default="+32470000001", show_default=True, help="Caller ID.")
@click.option("--to", default="+3225550100", show_default=True, help="The line's number.")
@click.option("--press", "keys", multiple=True, help="Keys for the menus, in order (repeatable).")
@click.option("--wait", "patience", default=30.0, show_default=True, help="Seconds to wait.")
@click.option("--hang-up-in-queue", is_flag=True, help="Hang up after hearing the queue once.")
@click.option("--in-process", is_flag=True, help="Start the app in this process (no server).")
@click.option(
    "--operator",
    default=None,
    help="With --in-process: this operator accepts the call, which is bridged and answered.",
)
def call(
    url: str,
    public_base_url: str | None,
    from_: str,
    to: str,
    keys: tuple[str, ...],
    patience: float,
    hang_up_in_queue: bool,
    in_process: bool,
    operator: str | None,
) -> None:
    """One call: the menu (pressing --press keys), the queue, then hang up or be answered.

    The auth token is TWILIO_AUTH_TOKEN (the server's), or the demo's generated one.
    """
    from telephony.simulator import SimulatedTwilio, WebhookFailed

    obj = click.get_current_context().obj
    settings = obj.settings
    app: Any = None
    if operator and not in_process:
        raise click.UsageError("--operator needs --in-process (a server's operators answer there)")
    if in_process:
        from console.app import create_app
        from console.migrate import upgrade
        from telephony.simulator import install

        upgrade(obj.database)
        app = create_app(settings.with_overrides(background_tasks=False), obj.database)
        twilio = install(app)
    else:
        from telephony.settings import load_telephony_settings

        tset = load_telephony_settings(settings)
        if not tset.token_configured:
            raise click.ClickException(
                "TWILIO_AUTH_TOKEN is not set: the server refuses unsigned calls"
            )
        twilio = SimulatedTwilio(
            url,
            auth_token=tset.auth_token,
            account_sid=tset.account_sid or "AC" + "0" * 32,
            public_base_url=public_base_url,
            line=to,
        )
    simulated = twilio.call(from_=from_, to=to)
    try:
        simulated.start()
        for key in keys:
            if simulated.where != "gather":
                break
            simulated.press(key)
        if simulated.where == "gather":
            simulated.silence()
        if simulated.where == "queue" and operator:
            _accept(obj, simulated.sid, operator)
        if simulated.where == "queue":
            if hang_up_in_queue:
                simulated.listen()
            else:
                simulated.wait_in_queue(timeout=patience, pace=2.0)
        if simulated.where == "dial":
            click.echo(f"ringing {simulated.dialled}; the simulated operator answers")
            simulated.operator_answers()
            simulated.operator_hangs_up()
        simulated.hang_up()
    except WebhookFailed as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if app is not None:
            from console.app import shutdown

            shutdown(app)
    for line in simulated.heard:
        click.echo(f"  heard: {line}")
    click.echo(
        f"call {simulated.sid} ended ({simulated.final_status}), {len(twilio.webhooks)} webhooks"
    )


def _accept(obj: Any, call_sid: str, username: str) -> None:
    """The operator takes the call in the domain, as the console's accept button does."""
    from sqlalchemy import select

    from console.domain import operators, queue
    from console.domain.contacts import Channel, find_by_channel_ref
    from console.domain.errors import DomainError
    from console.domain.operators import Operator, Presence

    try:
        with obj.database.transaction() as session:
            operator = session.scalar(select(Operator).where(Operator.username == username))
            if operator is None:
                raise click.ClickException(f"no operator {username!r}")
            contact = find_by_channel_ref(session, Channel.VOICE, call_sid)
            assert contact is not None
            operators.set_presence(session, operator, Presence.AVAILABLE)
            queue.claim(session, contact.id, operator.id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{username} accepted the call")


@click.group("telephony")
def telephony_group() -> None:
    """The phone line's files and checks."""


@telephony_group.command("fallback")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def fallback(path: Path | None) -> None:
    """Write the fallback TwiML (message + partner line) from config/ivr.toml.

    Host it where Twilio can fetch it when this app is down (the proxy, a static site, Twilio
    Assets) and set it as the number's Fallback URL (method GET).
    """
    from telephony import twiml
    from telephony.settings import load_telephony_settings

    obj = click.get_current_context().obj
    document = str(twiml.fallback(load_telephony_settings(obj.settings))) + "\n"
    target = path or FALLBACK
    target.write_text(document, encoding="utf-8")
    click.echo(f"wrote {target}")
