"""``closedloop worker`` and ``closedloop jobs``: run background jobs, watch them, schedule them."""

from __future__ import annotations

import json
import signal
import threading
from datetime import timedelta
from typing import Any

import typer
from rich.table import Table

from closedloop.bootstrap import get_engine
from closedloop.cli._common import JsonOption, console, err_console, print_json, session_scope
from closedloop.jobs import retention, schedules, service
from closedloop.jobs.models import Job, JobSchedule
from closedloop.jobs.worker import Worker
from closedloop.settings import get_settings

jobs_app = typer.Typer(
    name="jobs",
    help="Background jobs (imports, scoring, dedupe, deliveries): list, cancel, rerun, schedule.",
    no_args_is_help=True,
)
schedule_app = typer.Typer(
    name="schedule", help="Recurring jobs (times in UTC).", no_args_is_help=True
)
jobs_app.add_typer(schedule_app)


def job_dict(job: Job) -> dict[str, Any]:
    """A job as JSON-able data."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "error": job.error,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "payload": job.payload,
        "result": job.result,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "run_after": job.run_after,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "locked_by": job.locked_by,
    }


def schedule_dict(schedule: JobSchedule) -> dict[str, Any]:
    """A schedule as JSON-able data."""
    return {
        "name": schedule.name,
        "kind": schedule.kind,
        "payload": schedule.payload,
        "every_seconds": schedule.every_seconds,
        "next_run_at": schedule.next_run_at,
        "enabled": schedule.enabled,
        "last_job_id": schedule.last_job_id,
    }


def worker(
    once: bool = typer.Option(False, "--once", help="Run what is due now, then exit."),
    kind: list[str] = typer.Option([], "--kind", help="Only these job kinds (repeatable)."),
    poll: float = typer.Option(1.0, "--poll", min=0.05, help="Seconds between polls when idle."),
    stale_after: float = typer.Option(
        300.0, "--stale-after", help="Requeue running jobs without a heartbeat for this long."
    ),
) -> None:
    """Run background jobs until stopped (Ctrl-C / SIGTERM finish the current job first).

    Start as many workers as you like, on one machine or several: each job is claimed by
    exactly one. Due schedules are queued by whichever worker sees them first.
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def report(job: Job, status: str) -> None:
        colour = {"done": "green", "failed": "red"}.get(status, "yellow")
        console.print(f"job {job.id} [bold]{job.kind}[/bold]: [{colour}]{status}[/{colour}]")

    loop = Worker(get_engine(), kinds=kind or None, poll_seconds=poll, stale_after=stale_after)
    loop.on_job = report
    if not once:
        console.print(f"worker {loop.worker_id} waiting for jobs (Ctrl-C to stop)")
    ran = loop.run(stop, once=once)
    console.print(f"{ran} job(s) run")


@jobs_app.command("list")
def list_(
    status: str | None = typer.Option(None, help="queued, running, done, failed, cancelled."),
    kind: str | None = typer.Option(None, help="Only this kind, e.g. scoring.run."),
    limit: int = typer.Option(50, min=1, max=10000),
    json_output: bool = JsonOption,
) -> None:
    """The most recent jobs, newest first."""
    with session_scope() as session:
        rows = [
            job_dict(j) for j in service.list_jobs(session, status=status, kind=kind, limit=limit)
        ]
    if json_output:
        print_json(rows)
        return
    table = Table("id", "kind", "status", "progress", "attempts", "created", "message / error")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["kind"],
            row["status"],
            f"{row['progress']:.0%}",
            f"{row['attempts']}/{row['max_attempts']}",
            f"{row['created_at']:%Y-%m-%d %H:%M}",
            (row["error"] or row["message"] or "")[:80],
        )
    console.print(table)


@jobs_app.command("show")
def show(job_id: int = typer.Argument(...)) -> None:
    """Everything about one job, as JSON."""
    with session_scope() as session:
        print_json(job_dict(service.get_job(session, job_id)))


@jobs_app.command("cancel")
def cancel(job_id: int = typer.Argument(...)) -> None:
    """Cancel a queued job."""
    with session_scope() as session:
        service.cancel(session, job_id)
    console.print(f"job {job_id} cancelled")


@jobs_app.command("retry")
def retry(job_id: int = typer.Argument(...)) -> None:
    """Queue a failed or cancelled job again."""
    with session_scope() as session:
        service.requeue(session, job_id)
    console.print(f"job {job_id} queued again")


@jobs_app.command("purge")
def purge(
    older_than: int | None = typer.Option(
        None,
        "--older-than",
        min=0,
        help="Days since the job ended (default: the job_retention_days setting, 30).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Delete the jobs that ended (done, failed, cancelled) more than N days ago.

    Workers do this every hour with the job_retention_days setting; queued and running jobs
    are never deleted.
    """
    days = get_settings().job_retention_days if older_than is None else older_than
    with session_scope() as session:
        deleted = retention.purge_ended(session, older_than=timedelta(days=days))
    if json_output:
        print_json({"deleted": deleted, "older_than_days": days})
    else:
        console.print(f"{deleted} job(s) that ended more than {days} day(s) ago deleted")


@schedule_app.command("add")
def schedule_add(
    name: str = typer.Argument(..., help="A unique name, e.g. nightly-scoring."),
    kind: str = typer.Argument(..., help="The job kind, e.g. scoring.run or dedupe.run."),
    every: str = typer.Option(..., "--every", help="Interval: 15m, 6h, 1d, 1w…"),
    at: str | None = typer.Option(None, "--at", help="First run at this UTC time (HH:MM)."),
    payload: str = typer.Option("{}", "--payload", help="The job's parameters as JSON."),
    json_output: bool = JsonOption,
) -> None:
    """Queue a job of KIND every interval (e.g. scoring.run every 1d at 02:00)."""
    if kind not in service.handlers():
        err_console.print(
            f"[red]error:[/red] no handler for job kind {kind!r}; known: "
            + ", ".join(sorted(service.handlers()))
        )
        raise typer.Exit(code=1)
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        err_console.print(f"[red]error:[/red] --payload is not JSON: {exc}")
        raise typer.Exit(code=1) from exc
    with session_scope() as session:
        added = schedule_dict(
            schedules.add_schedule(session, name, kind, every=every, at=at, payload=data)
        )
    if json_output:
        print_json(added)
    else:
        console.print(f"schedule {name}: {kind} next at {added['next_run_at']:%Y-%m-%d %H:%M} UTC")


@schedule_app.command("list")
def schedule_list(json_output: bool = JsonOption) -> None:
    """Every schedule with its next run."""
    with session_scope() as session:
        rows = [schedule_dict(s) for s in schedules.list_schedules(session)]
    if json_output:
        print_json(rows)
        return
    table = Table("name", "kind", "every (s)", "next run (UTC)", "enabled", "last job")
    for row in rows:
        table.add_row(
            row["name"],
            row["kind"],
            str(row["every_seconds"]),
            f"{row['next_run_at']:%Y-%m-%d %H:%M}",
            "yes" if row["enabled"] else "paused",
            str(row["last_job_id"] or ""),
        )
    console.print(table)


@schedule_app.command("pause")
def schedule_pause(name: str = typer.Argument(...)) -> None:
    """Stop queueing jobs for a schedule (resume brings it back)."""
    with session_scope() as session:
        schedules.set_enabled(session, name, False)
    console.print(f"schedule {name} paused")


@schedule_app.command("resume")
def schedule_resume(name: str = typer.Argument(...)) -> None:
    """Resume a paused schedule."""
    with session_scope() as session:
        schedules.set_enabled(session, name, True)
    console.print(f"schedule {name} resumed")


@schedule_app.command("remove")
def schedule_remove(name: str = typer.Argument(...)) -> None:
    """Delete a schedule."""
    with session_scope() as session:
        schedules.remove_schedule(session, name)
    console.print(f"schedule {name} removed")


def register(app: typer.Typer) -> None:
    """Attach ``worker`` and ``jobs`` to the main app."""
    app.command("worker")(worker)
    app.add_typer(jobs_app)
