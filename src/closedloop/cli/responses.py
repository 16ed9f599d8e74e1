"""``closedloop responses``: inbound mail (bounces, replies) by SMTP or from a mailbox file,
linking early responses, and listing what came back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, err_console, print_json, session_scope

responses_app = typer.Typer(
    name="responses",
    help="Reactions to campaigns: bounces and replies by SMTP or from a mailbox, list them.",
    no_args_is_help=True,
)


@responses_app.command("inbound-smtp")
def inbound_smtp(
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(2525, "--port", min=1, max=65535, help="The port to listen on."),
) -> None:
    """Receive bounces (DSNs) and replies by SMTP until stopped (Ctrl-C).

    Point the campaigns' bounce address at it. Hard bounces suppress the address at once,
    soft ones after CLOSEDLOOP_SOFT_BOUNCE_LIMIT; a message that cannot be stored is answered
    451 so the sending server tries again."""
    from closedloop.bootstrap import get_engine, get_session_factory
    from closedloop.responses.mailin import InboundSmtp

    server = InboundSmtp(get_session_factory(get_engine()), host=host, port=port)
    stop = threading.Event()
    with server:
        console.print(f"Receiving inbound mail on {host}:{port} (Ctrl-C to stop)")
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
    seen = dict(server.handler.seen)
    console.print(f"Stopped; received {sum(seen.values())}: {seen}")


@responses_app.command("read-mailbox")
def read_mailbox(
    path: Path = typer.Argument(..., help="An mbox file or a Maildir folder."),
    as_json: bool = JsonOption,
) -> None:
    """Read bounces and replies from an mbox file or a Maildir folder.

    Reading the same mailbox again records nothing twice."""
    from closedloop.bootstrap import get_engine, get_session_factory
    from closedloop.responses.mailin import read_mailbox as read

    if not path.exists():
        err_console.print(
            f"[red]error:[/red] {path}: no such mbox file or Maildir folder", soft_wrap=True
        )
        raise typer.Exit(code=1)
    started = time.monotonic()
    counts = dict(read(get_session_factory(get_engine()), path))
    if as_json:
        print_json(counts)
        return
    console.print(
        f"Read {sum(v for k, v in counts.items() if k != 'suppressed')} messages in "
        f"{time.monotonic() - started:.1f} s: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )


@responses_app.command("link")
def link(as_json: bool = JsonOption) -> None:
    """Attach responses that came before their message was recorded.

    Also applies the SMS delivery reports so linked to their messages."""
    from closedloop.responses.capture import link_pending
    from closedloop.responses.sms import apply_delivery_reports

    with session_scope() as session:
        linked = link_pending(session)
        applied = apply_delivery_reports(session)
    if as_json:
        print_json({"linked": linked, "applied": applied})
        return
    console.print(f"Linked {linked} responses; applied {applied} delivery reports.")


@responses_app.command("list")
def list_(
    person: int | None = typer.Option(None, "--person", min=1, help="Only this person's."),
    campaign: int | None = typer.Option(None, "--campaign", min=1, help="Only this campaign's."),
    kind: str | None = typer.Option(None, "--kind", help="Only this kind (open, click…)."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="How many, newest first."),
    as_json: bool = JsonOption,
) -> None:
    """List responses, newest first."""
    from closedloop.responses.queries import ResponsePublic, list_responses

    with session_scope() as session:
        rows, total = list_responses(
            session, person_id=person, campaign_id=campaign, kind=kind, limit=limit
        )
        items = [ResponsePublic.model_validate(r).model_dump(mode="json") for r in rows]
    if as_json:
        print_json({"items": items, "total": total})
        return
    table = Table("id", "when", "kind", "person", "campaign", "hits", "machine")
    for i in items:
        table.add_row(
            str(i["id"]),
            str(i["occurred_at"])[:19],
            i["kind"],
            str(i["person_id"] or "—"),
            str(i["campaign_id"] or "—"),
            str(i["hits"]),
            i["machine"] or "",
        )
    console.print(table)
    console.print(f"{len(items)} of {total}")


def register(app: typer.Typer) -> None:
    """Add ``closedloop responses`` to ``app``."""
    app.add_typer(responses_app)
