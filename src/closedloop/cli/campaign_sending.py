"""``closedloop campaigns launch|pause|resume|cancel|send|status|calendar``: steering a
campaign's sending and following it, and the shared calendar (added to the ``campaigns``
group by :mod:`closedloop.cli.campaigns`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.campaigns import calendar as cal
from closedloop.campaigns import lifecycle, service
from closedloop.campaigns.calendar import calendar_doc
from closedloop.campaigns.ical import feed
from closedloop.campaigns.sender import WaveSender
from closedloop.cli._common import (
    JsonOption,
    console,
    err_console,
    print_json,
    session_scope,
    stop_at_a_safe_point,
)
from closedloop.errors import DomainError
from closedloop.vocab import CampaignStatus

ByOption = typer.Option(
    None, "--by", help="Who does it (a username; default: the system user running the command)."
)
RefArgument = typer.Argument(..., help="The campaign's id, or its code (its latest version).")


def _by(value: str | None) -> str:
    import getpass

    return value or getpass.getuser()


def _launch_doc(report: lifecycle.LaunchReport) -> dict[str, Any]:
    return {
        "campaign_id": report.campaign_id,
        "status": report.status,
        "started": [vars(s) for s in report.started],
        "scheduled": report.scheduled,
        "superseded": report.superseded,
    }


def _launch_print(report: lifecycle.LaunchReport, verb: str) -> None:
    console.print(f"Campaign {report.campaign_id} {verb}: now {report.status}.")
    for s in report.started:
        console.print(f"  wave {s.wave_id}: {s.queued:,} message(s) queued, send job {s.job_id}")
    for wave_id in report.scheduled:
        console.print(f"  wave {wave_id}: scheduled")
    if report.superseded:
        console.print(f"  waves of the previous version cancelled: {report.superseded}")


def launch(
    ref: str = RefArgument, by: str | None = ByOption, json_output: bool = JsonOption
) -> None:
    """Launch an approved campaign.

    Waves that are due are extracted now (their messages queued, a send job queued for the
    worker); later ones wait for their time.
    """
    with session_scope() as session:
        report = lifecycle.launch(session, service.find_campaign(session, ref).id, by=_by(by))
    if json_output:
        print_json(_launch_doc(report))
    else:
        _launch_print(report, "launched")


def pause(ref: str = RefArgument, json_output: bool = JsonOption) -> None:
    """Pause a running or scheduled campaign: senders stop after the batch in hand."""
    with session_scope() as session:
        campaign = lifecycle.pause(session, service.find_campaign(session, ref).id)
        doc = {"id": campaign.id, "code": campaign.code, "status": campaign.status}
    if json_output:
        print_json(doc)
    else:
        console.print(f"Campaign {doc['code']} paused.")


def resume(
    ref: str = RefArgument, by: str | None = ByOption, json_output: bool = JsonOption
) -> None:
    """Resume a paused campaign: its waves' sending is queued again (nothing is sent twice)."""
    with session_scope() as session:
        report = lifecycle.resume(session, service.find_campaign(session, ref).id, by=_by(by))
    if json_output:
        print_json(_launch_doc(report))
    else:
        _launch_print(report, "resumed")


def cancel(
    ref: str = RefArgument,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    json_output: bool = JsonOption,
) -> None:
    """Cancel a campaign: every message still queued is skipped (sent ones stay)."""
    if not yes and not typer.confirm(f"Cancel campaign {ref}? Its queued messages are dropped."):
        raise typer.Exit(code=1)
    with session_scope() as session:
        campaign, skipped = lifecycle.cancel(session, service.find_campaign(session, ref).id)
        doc = {
            "id": campaign.id,
            "code": campaign.code,
            "status": campaign.status,
            "skipped": skipped,
        }
    if json_output:
        print_json(doc)
    else:
        console.print(f"Campaign {doc['code']} cancelled; {skipped:,} queued message(s) skipped.")


def _status_doc(ref: str) -> dict[str, Any]:
    with session_scope() as session:
        campaign = lifecycle.settle(session, service.find_campaign(session, ref).id)
        shown = service.describe(session, campaign)
    waves = []
    for w in shown.waves:
        total = sum(w.messages.values())
        pending = w.messages.get("queued", 0) + w.messages.get("sending", 0)
        waves.append(
            {
                "id": w.id,
                "name": w.name,
                "status": w.status,
                "messages": w.messages,
                "total": total,
                "done": (total - pending) / total if total else None,
            }
        )
    return {
        "id": shown.id,
        "code": shown.code,
        "version": shown.version,
        "status": shown.status,
        "waves": waves,
    }


def status(ref: str = RefArgument, json_output: bool = JsonOption) -> None:
    """A campaign's progress: each wave's state and messages by status.

    A wave whose messages are all settled is completed, and the campaign once every wave is.
    """
    doc = _status_doc(ref)
    if json_output:
        print_json(doc)
        return
    table = Table(
        "wave",
        "name",
        "status",
        "progress",
        "messages",
        title=f"{doc['code']} v{doc['version']}: {doc['status']}",
    )
    for w in doc["waves"]:
        progress = f"{w['done']:.0%}" if w["done"] is not None else ""
        table.add_row(
            str(w["id"]),
            w["name"],
            w["status"],
            progress,
            ", ".join(f"{k} {v:,}" for k, v in sorted(w["messages"].items())),
        )
    console.print(table)


def send(
    ref: str = RefArgument,
    wave: int | None = typer.Option(None, "--wave", help="Only this wave."),
    json_output: bool = JsonOption,
) -> None:
    """Send a running campaign's queued messages now, in this process.

    Instead of waiting for the worker's send job. Exactly once each; safe to stop and run
    again; only one sender works on a wave at a time. Refused unless the campaign is running.
    """
    with session_scope() as session:
        campaign = service.find_campaign(session, ref)
        if campaign.status != CampaignStatus.RUNNING.value:
            err_console.print(
                f"[red]error:[/red] campaign {campaign.code} is {campaign.status}, "
                "not running: launch or resume it first"
            )
            raise typer.Exit(code=1)
        wave_ids = [
            w.id
            for w in service.waves_of(session, campaign.id)
            if w.status == CampaignStatus.RUNNING.value and wave in (None, w.id)
        ]
    factory = get_session_factory(get_engine())
    reports = []
    with stop_at_a_safe_point("the sender") as stop:
        for wave_id in wave_ids:
            try:
                reports.append(WaveSender(factory, wave_id, stop=stop).run().as_dict())
            except DomainError as exc:
                err_console.print(f"[red]error:[/red] wave {wave_id}: {exc.detail}")
                raise typer.Exit(code=1) from exc
    doc = _status_doc(ref)
    if json_output:
        print_json({"runs": reports, "status": doc})
        return
    for r in reports:
        console.print(
            f"wave {r['wave_id']}: {r['sent']:,} sent, {r['failed']:,} failed, "
            f"{r['suppressed']:,} suppressed, {r['skipped']:,} skipped"
            + (f" — stopped: {r['stopped']}" if r["stopped"] else "")
        )
    console.print(f"Campaign {doc['code']}: {doc['status']}.")


def _range(month_text: str | None, week_text: str | None) -> tuple[date, date]:
    try:
        if week_text:
            return cal.week(date.fromisoformat(week_text))
        if month_text:
            year, month_no = (int(p) for p in month_text.split("-"))
            return cal.month(year, month_no)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] --month YYYY-MM or --week YYYY-MM-DD: {exc}")
        raise typer.Exit(code=1) from exc
    today = datetime.now(UTC).date()
    return cal.month(today.year, today.month)


def calendar(
    month_text: str | None = typer.Option(None, "--month", help="YYYY-MM (default: this month)."),
    week_text: str | None = typer.Option(None, "--week", help="The week of this day YYYY-MM-DD."),
    ics: Path | None = typer.Option(None, "--ics", help="Also write it as an iCalendar file."),
    json_output: bool = JsonOption,
) -> None:
    """The shared calendar of campaigns and waves (month or week).

    Every wave on its day with its volume per channel, the contact pressure per day (the
    most messages one targeted person gets in 7 days) and the conflicts with the pressure
    rules and channel capacities.
    """
    start, end = _range(month_text, week_text)
    with session_scope() as session:
        plan = cal.calendar(session, start, end)
        if ics is not None:
            ics.write_text(feed(session, start, end), encoding="utf-8", newline="")
    if json_output:
        print_json(calendar_doc(plan))
        return
    table = Table(
        "day",
        "waves",
        "volume per channel",
        "pressure",
        title=f"Campaigns {start} → {end - timedelta(days=1)}",
    )
    names = {e.wave_id: f"{e.code} «{e.wave}»" for e in plan.entries}
    for d in plan.days:
        if d.waves or d.pressure:
            volumes = ", ".join(f"{ch} {v:,}" for ch, v in sorted(d.volumes.items()))
            table.add_row(
                f"{d.day:%a %Y-%m-%d}",
                "; ".join(names[w] for w in d.waves),
                volumes,
                str(d.pressure or ""),
            )
    console.print(table)
    for c in plan.conflicts:
        console.print(f"[yellow]conflict ({c.kind}):[/yellow] {c.message}")


def add_commands(app: typer.Typer) -> None:
    """Add the sending and calendar commands to the ``campaigns`` group ``app``."""
    for name, command in (
        ("launch", launch),
        ("pause", pause),
        ("resume", resume),
        ("cancel", cancel),
        ("status", status),
        ("send", send),
        ("calendar", calendar),
    ):
        app.command(name)(command)
