"""``closedloop seed demo``: fill an empty store with a realistic, reproducible demo base."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from closedloop.bootstrap import get_engine
from closedloop.cli._common import JsonOption, console, err_console, print_json
from closedloop.errors import DomainError
from closedloop.migrations import upgrade

seed_app = typer.Typer(help="Fill the database with generated data.", no_args_is_help=True)


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter("use the form YYYY-MM-DD, e.g. 2026-11-22") from exc


def run_seed(
    engine: Engine,
    persons: int,
    seed: int,
    *,
    append: bool = False,
    today: date | None = None,
    transient: bool = False,
) -> dict[str, Any]:
    """Seed the demo base with a progress bar on stderr; domain errors exit with a message."""
    from closedloop.demo import seed_demo  # numpy, Faker: loaded when a base is generated

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    bar = Progress(*columns, console=err_console, transient=transient)
    task = bar.add_task("Persons", total=persons)
    shown: list[bool] = []

    def report(phase: str, done: int, total: int) -> None:
        """Show the service's progress on the bar."""
        if not shown:  # started on the first report: a refusal shows no empty bar
            bar.start()
            shown.append(True)
        label = "Persons" if phase == "persons" else "Rebuilding indexes"
        bar.update(task, description=label, completed=done, total=total)

    try:
        return seed_demo(engine, persons, seed, append=append, today=today, progress=report)
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(code=1) from exc
    finally:
        if shown:
            bar.stop()


@seed_app.command("demo")
def demo(
    persons: int = typer.Option(20_000, "--persons", min=1, help="Number of persons to generate."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed gives the same data."),
    append: bool = typer.Option(
        False, "--append", help="Add to a database that already has persons (ids continue)."
    ),
    today: str | None = typer.Option(
        None, "--today", help="Last day of the history, YYYY-MM-DD (default: today)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Generate a realistic demo base in seven locales.

    Persons with households and companies, consents, three years of orders, planted
    duplicates (ground truth in duplicate_truth) and one past campaign with a control group.
    Creates or upgrades the schema first, so it works on an empty file; refuses a database
    that already has persons unless --append is given.
    """
    engine = get_engine()
    upgrade(engine)
    summary = run_seed(
        engine, persons, seed, append=append, today=_parse_day(today), transient=json_output
    )
    if json_output:
        print_json(summary)
        return
    table = Table(title=f"Demo base (seed {seed}), {summary['seconds']} s")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary.items():
        if name not in ("import_batch_id", "seconds"):
            table.add_row(name, f"{count:,}")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Attach the ``seed`` command group to the main app."""
    app.add_typer(seed_app, name="seed")
