"""``closedloop channels``: send a wave, check it before, preview and proof its messages,
manage seed addresses and message templates, settle unconfirmed messages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.campaigns.checks import analyse_wave
from closedloop.campaigns.compose import load_plan
from closedloop.campaigns.models import Communication
from closedloop.campaigns.proofs import send_proofs
from closedloop.campaigns.seeds import SeedCreate, add_seed, list_seeds, proof_copies, remove_seed
from closedloop.campaigns.send_report import SendReport
from closedloop.campaigns.sender import WaveSender
from closedloop.campaigns.templates import TemplateCreate, TemplatePublic, create_template
from closedloop.cli._common import (
    JsonOption,
    console,
    err_console,
    print_json,
    session_scope,
    stop_at_a_safe_point,
)
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import DomainError
from closedloop.vocab import Channel
from closedloop.vocab import CommunicationStatus as St

app = typer.Typer(
    name="channels",
    help="Send waves by email, SMS and letter; check, preview and proof messages first.",
    no_args_is_help=True,
)


def _fail(exc: DomainError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc.detail}")
    for item in exc.errors:
        err_console.print(f"  - {item.get('field', '')}: {item.get('message', '')}")
    return typer.Exit(code=1)


def _report_table(report: SendReport) -> Table:
    table = Table(title=f"Wave {report.wave_id}")
    table.add_column("this run")
    table.add_column("messages", justify="right")
    for name in ("sent", "failed", "suppressed", "skipped", "retrying", "unconfirmed"):
        table.add_row(name, f"{getattr(report, name):,}")
    table.add_row(
        "[dim]ledger now[/dim]", ", ".join(f"{k} {v:,}" for k, v in sorted(report.counts.items()))
    )
    return table


@app.command("send")
def send(
    wave_id: int = typer.Argument(..., help="The wave to send."),
    wait_retries: bool = typer.Option(
        False,
        "--wait-retries",
        help="Stay until messages refused for now are retried "
        "(default: leave them queued for the next run or the campaigns.send job).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Send a wave's queued messages now, in this process (exactly once each).

    Rows are read in id order from the send ledger; consent and suppressions are checked
    again for each recipient; each message is marked before it is handed over, so a run
    killed at any moment can be started again: it goes on where the last one stopped and
    never sends a message twice. Only one sender works on a wave at a time. Ctrl-C stops
    after the current batch.
    """
    factory = get_session_factory(get_engine())
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    bar = Progress(*columns, TimeElapsedColumn(), console=err_console, transient=json_output)
    task = bar.add_task(f"wave {wave_id}", total=None)

    def progress(done: int, total: int, report: SendReport) -> None:
        bar.update(
            task, completed=done, total=total, description=f"wave {wave_id}: {report.sent:,} sent"
        )

    started = time.monotonic()
    with stop_at_a_safe_point("the sender") as stop, bar:
        try:
            report = WaveSender(factory, wave_id, progress=progress, stop=stop).run()
            while wait_retries and report.next_retry_at and not stop.is_set():
                delay = (as_utc(report.next_retry_at) - utcnow()).total_seconds()
                bar.update(task, description=f"wave {wave_id}: retry in {max(0, delay):.0f} s")
                if stop.wait(max(0.0, delay)):
                    break
                more = WaveSender(factory, wave_id, progress=progress, stop=stop).run()
                for name in ("sent", "failed", "suppressed", "skipped", "unconfirmed"):
                    setattr(report, name, getattr(report, name) + getattr(more, name))
                report.retrying, report.counts = more.retrying, more.counts
                report.next_retry_at, report.stopped = more.next_retry_at, more.stopped
        except DomainError as exc:
            raise _fail(exc) from exc
    seconds = time.monotonic() - started
    if json_output:
        print_json({**report.as_dict(), "seconds": round(seconds, 3)})
    else:
        console.print(_report_table(report))
        rate = report.sent / seconds if seconds else 0.0
        console.print(f"{report.sent:,} sent in {seconds:.1f} s ({rate:,.0f} messages/s)")
        if report.unconfirmed:
            console.print(
                f"[yellow]{report.unconfirmed} unconfirmed[/yellow]: see "
                f"closedloop channels unconfirmed {wave_id}"
            )
        if report.stopped:
            console.print(f"[yellow]stopped:[/yellow] {report.stopped}")
    if report.stopped:
        raise typer.Exit(code=2)


@app.command("check")
def check(
    wave_id: int = typer.Argument(..., help="The wave to analyse."),
    json_output: bool = JsonOption,
) -> None:
    """Analyse a wave before sending: errors refuse it, warnings say what to look at.

    Renders every queued message as the sender would (nothing is sent): templates that do
    not compile, a missing subject or unsubscribe link, fields empty for some recipients
    (with their count), SMS over their segment budget, oversized emails, recipients who
    would be skipped or suppressed now. Exit code 1 when there is an error.
    """
    with session_scope() as session:
        analysis = analyse_wave(session, wave_id)
    if json_output:
        print_json(analysis.as_dict())
    else:
        table = Table(
            title=f"Wave {wave_id}: {analysis.queued:,} queued, "
            f"{analysis.would_send:,} would be sent"
        )
        for name in ("severity", "finding", "recipients"):
            table.add_column(name)
        for f in analysis.findings:
            colour = "red" if f.severity.value == "error" else "yellow"
            count = f"{f.count:,}" if f.count is not None else ""
            table.add_row(f"[{colour}]{f.severity.value}[/{colour}]", f.message, count)
        console.print(table if analysis.findings else "[green]No finding: ready to send.[/green]")
    if not analysis.ok:
        raise typer.Exit(code=1)


@app.command("preview")
def preview(
    wave_id: int = typer.Argument(..., help="The wave whose message to show."),
    person_id: int = typer.Option(..., "--person", help="Render for this real person."),
    part: str = typer.Option("text", "--part", help="subject, text or html."),
) -> None:
    """Show the message a person would get (their language, their data, their links)."""
    with session_scope() as session:
        plan = load_plan(session, wave_id)
        cell_id = session.scalar(
            select(Communication.cell_id).where(
                Communication.wave_id == wave_id, Communication.person_id == person_id
            )
        )
        copies = proof_copies(session, plan, ["preview@example.invalid"], person_id)
    chosen = [c for c in copies if cell_id is None or c.channel == plan.cells[cell_id].channel]
    for ready in chosen[:1]:
        if part == "subject":
            console.print(ready.rendered.subject or "")
        elif part == "html":
            typer.echo(ready.rendered.body)
        else:
            typer.echo(ready.rendered.text or ready.rendered.body)


@app.command("test-send")
def test_send(
    wave_id: int = typer.Argument(..., help="The wave whose messages to proof."),
    to: list[str] = typer.Option(
        [], "--to", help="Address (email, or +E.164 for SMS); default: the seed list."
    ),
    person_id: int | None = typer.Option(
        None, "--person", help="Render with this person's data (default: a sample)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Send proofs of each cell's message to internal addresses ([PROOF] in the subject).

    Proofs are not in the contact history and carry no tracked link.
    """
    factory = get_session_factory(get_engine())
    try:
        results = send_proofs(factory, wave_id, to, person_id=person_id)
    except DomainError as exc:
        raise _fail(exc) from exc
    if json_output:
        print_json(results)
        return
    for item in results:
        console.print(
            f"{item['address']} ({item['cell']}): {item['outcome']} {item['detail'] or ''}"
        )


seeds_app = typer.Typer(
    name="seeds", help="Seed addresses: a copy of every wave.", no_args_is_help=True
)
app.add_typer(seeds_app)


@seeds_app.command("add")
def seeds_add(
    channel: Channel = typer.Argument(..., help="email, sms or letter."),
    address: str = typer.Argument(..., help="Email address, +E.164 number or a label."),
    name: str | None = typer.Option(None, "--name", help="Name used in the copies."),
    field: list[str] = typer.Option(
        [], "--field", help="name=value fields of the copies (line1=…, postal_code=…)."
    ),
) -> None:
    """Add a seed address: it gets each cell's message of every wave of its channel."""
    fields = dict(f.split("=", 1) for f in field if "=" in f)
    with session_scope() as session:
        seed = add_seed(
            session, SeedCreate(channel=channel, address=address, name=name, fields=fields)
        )
        console.print(f"Seed {seed.id}: {seed.channel} {seed.address}")


@seeds_app.command("list")
def seeds_list(json_output: bool = JsonOption) -> None:
    """List the seed addresses."""
    with session_scope() as session:
        rows = [
            {
                "id": s.id,
                "channel": s.channel,
                "address": s.address,
                "name": s.name,
                "active": s.active,
            }
            for s in list_seeds(session)
        ]
    if json_output:
        print_json(rows)
        return
    table = Table("id", "channel", "address", "name")
    for r in rows:
        table.add_row(str(r["id"]), str(r["channel"]), str(r["address"]), str(r["name"] or ""))
    console.print(table)


@seeds_app.command("remove")
def seeds_remove(seed_id: int = typer.Argument(...)) -> None:
    """Remove a seed address."""
    with session_scope() as session:
        remove_seed(session, seed_id)


templates_app = typer.Typer(
    name="templates", help="Message templates (versioned).", no_args_is_help=True
)
app.add_typer(templates_app)


@templates_app.command("add")
def templates_add(
    path: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="JSON: code, name, channel, default_locale, contents "
        "[{locale, subject, body, text_body}].",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Store a template from a JSON file (the next version when its code exists); every
    syntax error, unknown field or unsafe name is listed and nothing is stored."""
    try:
        data = TemplateCreate.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        err_console.print(f"[red]error:[/red] {path}: {exc}")
        raise typer.Exit(code=1) from exc
    with session_scope() as session:
        template = create_template(session, data, created_by="cli")
        doc = TemplatePublic.model_validate(template).model_dump()
    if json_output:
        print_json(doc)
    else:
        console.print(f"Template {doc['id']}: {doc['code']} v{doc['version']}")


@app.command("unconfirmed")
def unconfirmed(
    wave_id: int = typer.Argument(...),
    json_output: bool = JsonOption,
) -> None:
    """List the wave's unconfirmed messages: handed over when a sender stopped, before the
    server's answer was recorded. Look their Message-ID up in the server's log."""
    with session_scope() as session:
        rows = session.execute(
            select(
                Communication.id,
                Communication.person_id,
                Communication.recipient,
                Communication.external_ref,
                Communication.detail,
            )
            .where(Communication.wave_id == wave_id, Communication.status == St.UNCONFIRMED.value)
            .order_by(Communication.id)
        ).all()
    docs = [dict(r._mapping) for r in rows]
    if json_output:
        print_json(docs)
        return
    table = Table("row", "person", "recipient", "reference")
    for d in docs:
        table.add_row(
            str(d["id"]),
            str(d["person_id"]),
            str(d["recipient"] or ""),
            str(d["external_ref"] or ""),
        )
    console.print(table)


def register(root: typer.Typer) -> None:
    """Attach ``channels`` to the main app."""
    root.add_typer(app)
