"""``closedloop demo``: one command from nothing to a demo base in the browser."""

from __future__ import annotations

import os

import typer
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.channels.catcher import MailCatcher
from closedloop.cli._common import console
from closedloop.consent import forms
from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.migrations import upgrade
from closedloop.settings import get_settings
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.vocab import Channel, Purpose, Role

DEMO_USER = "admin"
DEMO_PASSWORD = "closedloop-demo"  # noqa: S105 - printed for the demo on purpose


def demo(
    persons: int = typer.Option(20_000, help="Persons in the demo base (when it is empty)."),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same base."),
    host: str = typer.Option("127.0.0.1", help="Address to serve on."),
    port: int = typer.Option(8000, help="Port to serve on."),
    serve: bool = typer.Option(True, help="Start the web app once the base is ready."),
    mail_catcher: bool = typer.Option(
        True,
        "--mail-catcher/--no-mail-catcher",
        help="Catch the demo's emails in the app (admin menu, Outbox) instead of sending them "
        "to the configured SMTP server.",
    ),
    mail_port: int = typer.Option(
        0, "--mail-port", min=0, max=65535, help="Port of the mail catcher (0: any free port)."
    ),
) -> None:
    """Create the database, fill it with a demo base, add a demo admin and serve the web app.

    Safe to run again: an existing base and existing users are kept. The emails the demo
    sends (sign-up confirmations…) are caught by an SMTP server of its own and shown to
    admins on the Outbox page, so sign-up, confirmation and preference centre can be
    followed in the browser.
    """
    from closedloop.cli.seed import run_seed
    from closedloop.cli.serve import run_server
    from closedloop.demo.launchable import ensure_launchable_campaign

    engine = get_engine()
    upgrade(engine)
    factory = get_session_factory(engine)
    with unit_of_work(factory) as session:
        has_persons = (session.scalar(select(func.count()).select_from(Person)) or 0) > 0
        has_users = (session.scalar(select(func.count()).select_from(User)) or 0) > 0
    if has_persons:
        console.print("The base already has persons: keeping it.")
    else:
        run_seed(engine, persons=persons, seed=seed)
    login = "your existing users"
    if not has_users:
        with unit_of_work(factory) as session:
            users_service.create_user(
                session, DEMO_USER, DEMO_PASSWORD, Role.ADMIN, full_name="Demo administrator"
            )
        login = f"user [bold]{DEMO_USER}[/bold], password [bold]{DEMO_PASSWORD}[/bold]"
    url = f"http://{host}:{port}"
    with unit_of_work(factory) as session:
        form_slug = _demo_signup_form(session)
        ready = ensure_launchable_campaign(session)
    console.print(f"\nclosedloop is ready at [bold]{url}[/bold] — log in with {login}.")
    if form_slug:
        console.print(f"A public sign-up form to try: [bold]{url}/signup/{form_slug}[/bold]")
    if ready:
        console.print(f"A campaign ready to launch: [bold]{url}/campaigns[/bold] ({ready}).")
    if not serve:
        console.print("")
        return
    if "CLOSEDLOOP_PUBLIC_BASE_URL" not in os.environ:  # links in emails lead to this demo
        os.environ["CLOSEDLOOP_PUBLIC_BASE_URL"] = url
        get_settings.cache_clear()
    catcher = _start_mail_catcher(engine, mail_port) if mail_catcher else None
    if catcher is not None:
        console.print(
            f"Emails are caught, not sent: read them at [bold]{url}/outbox[/bold] "
            f"(SMTP on {catcher.host}:{catcher.port})."
        )
    console.print("")
    try:
        run_server(host=host, port=port)
    finally:
        if catcher is not None:
            catcher.stop()


def _start_mail_catcher(engine: Engine, port: int) -> MailCatcher:
    """Start the catcher and point this process's SMTP settings at it (the web app and its
    worker thread read them)."""
    catcher = MailCatcher(engine, port=port).start()
    os.environ["CLOSEDLOOP_SMTP_HOST"] = catcher.host
    os.environ["CLOSEDLOOP_SMTP_PORT"] = str(catcher.port)
    for name in ("USERNAME", "PASSWORD"):
        os.environ["CLOSEDLOOP_SMTP_" + name] = ""
    os.environ["CLOSEDLOOP_SMTP_STARTTLS"] = "false"
    # the catcher delivers nothing: the demo base's campaigns may be sent to it
    os.environ["CLOSEDLOOP_DELIVERY_IS_TEST_SINK"] = "true"
    get_settings.cache_clear()
    return catcher


def _demo_signup_form(session: Session) -> str | None:
    """Add a newsletter sign-up form to a base that has none; returns its slug."""
    if forms.list_forms(session):
        return None
    data = forms.SignupFormCreate(
        slug="newsletter",
        title="Stay in touch",
        intro="News, offers and invitations, at most twice a month.",
        topics=[
            forms.Topic(code="news", label="Newsletter", purpose=Purpose.NEWSLETTER),
            forms.Topic(code="offers", label="Offers", purpose=Purpose.MARKETING),
            forms.Topic(code="events", label="Event invitations", purpose=Purpose.EVENTS),
        ],
        channels=[Channel.EMAIL, Channel.SMS],
        proof_text="I agree to receive the topics I ticked by the channels I ticked. I can "
        "withdraw at any time from the link in every message.",
        proof_version="demo-1",
    )
    return forms.create_form(session, data, created_by="demo").slug


def register(app: typer.Typer) -> None:
    """Attach ``closedloop demo`` to the main app."""
    app.command("demo")(demo)
