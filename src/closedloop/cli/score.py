"""``closedloop score``: the scoring run (RFM, value models, CLV, tiers, lifecycle stages),
its history, the currency rates it converts with, and the value and demand reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from closedloop.bootstrap import get_engine
from closedloop.cli._common import (
    JsonOption,
    console,
    err_console,
    print_json,
    session_scope,
)
from closedloop.errors import DomainError
from closedloop.scoring import queries
from closedloop.scoring.lifecycle import LifecycleRules
from closedloop.scoring.models import CurrencyRate, ScoreRun
from closedloop.scoring.schemas import ScoreParams, ScoreRunPublic

rates_app = typer.Typer(
    name="rates",
    help="Currency rates used to convert orders into the base currency.",
    no_args_is_help=True,
)
reports_app = typer.Typer(
    name="reports", help="Customer value and demand reports.", no_args_is_help=True
)


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter("use the form YYYY-MM-DD, e.g. 2026-11-22") from exc


def _shares(value: str) -> list[float]:
    try:
        return [float(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise typer.BadParameter("give shares such as 0.2,0.3") from exc


def _run_json(run: ScoreRun) -> dict[str, Any]:
    return ScoreRunPublic.model_validate(run).model_dump(mode="json")


def score(
    as_of: str | None = typer.Option(
        None, "--as-of", help="Score the history up to this UTC day, YYYY-MM-DD (default: today)."
    ),
    window_days: int = typer.Option(
        730, "--window-days", min=0, help="RFM window in days (0: the whole history)."
    ),
    horizon_days: int = typer.Option(
        365, "--horizon-days", min=1, max=3650, help="CLV horizon in days."
    ),
    discount_rate: float = typer.Option(
        0.1, "--discount-rate", min=0, max=1, help="Annual discount rate of the CLV."
    ),
    tiers: str = typer.Option(
        "0.2,0.3", "--tiers", help="Shares of tiers A, B… by CLV (the rest is the last tier)."
    ),
    holdout_days: int = typer.Option(
        182, "--holdout-days", min=7, help="Holdout period that checks the purchase models."
    ),
    fit_sample: int = typer.Option(
        250_000, "--fit-sample", min=1000, help="Fit the models on at most this many buyers."
    ),
    currency: str | None = typer.Option(
        None,
        "--currency",
        help="Base currency of the amounts (three letters, e.g. USD); orders in other "
        "currencies are converted with the stored rates. Default: CLOSEDLOOP_DEFAULT_CURRENCY.",
    ),
    update_lifecycle: bool = typer.Option(
        False,
        "--update-lifecycle",
        help="Also set each person's lifecycle status (prospect, customer, lapsed, won back).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Score every person from their orders and store the results as a new run.

    Computes recency, frequency and monetary value over the window, RFM codes and segments,
    fits BG/NBD, MBG/NBD and Pareto/NBD (choosing by a holdout check scaled to the history),
    P(alive) (never from BG/NBD, which calls every one-time buyer alive), expected purchases in
    30/90/365 days, Gamma-Gamma expected spend, CLV over the horizon, value tiers and
    lifecycle stages. Earlier runs are kept: each person's value over time is their history.
    """
    try:
        params = ScoreParams(
            as_of=_day(as_of),
            window_days=window_days or None,
            horizon_days=horizon_days,
            discount_rate=discount_rate,
            tier_shares=_shares(tiers),
            holdout_days=holdout_days,
            fit_sample=fit_sample,
            base_currency=currency,
            lifecycle=LifecycleRules(),
            update_lifecycle=update_lifecycle,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    bar = Progress(*columns, TimeElapsedColumn(), console=err_console, transient=json_output)
    task = bar.add_task("Scoring", total=1.0)

    def progress(step: str, fraction: float) -> None:
        bar.update(task, completed=fraction, description=step.capitalize())

    from closedloop.scoring import service  # pandas, scipy: loaded for this command only

    try:
        with bar:
            run = service.run_scoring(get_engine(), params, created_by="cli", progress=progress)
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.detail}", highlight=False)
        for item in exc.errors:
            err_console.print(f"  - {item.get('field', '')}: {item.get('message', '')}")
        raise typer.Exit(code=1) from exc
    if json_output:
        print_json(_run_json(run))
        return
    _print_run(run)


def _print_run(run: ScoreRun) -> None:
    summary = run.summary or {}
    models = run.models or {}
    console.print(
        f"Run [bold]{run.id}[/bold] as of {run.as_of:%Y-%m-%d}: {run.status}; "
        f"{summary.get('buyers', 0):,} buyers of {summary.get('persons_scored', 0):,} persons "
        f"scored, model {models.get('chosen') or 'none'}."
    )
    if summary.get("future_orders"):
        console.print(
            f"[yellow]{summary['future_orders']:,} order(s) dated after the as-of day were "
            f"left out[/yellow] (up to {summary.get('future_orders_last')})."
        )
    for item in summary.get("unscored") or []:
        console.print(
            f"[yellow]{item['persons']:,} person(s) without {', '.join(item['fields'])}:"
            f"[/yellow] {item['reason']}.",
            highlight=False,
        )
    table = Table(title="Value tiers")
    for name in ("tier", "persons", "revenue", "CLV"):
        table.add_column(name, justify="right" if name != "tier" else "left")
    for letter, doc in sorted((summary.get("tiers") or {}).items()):
        clv = doc.get("clv")
        table.add_row(
            letter,
            f"{doc['persons']:,}",
            f"{doc['revenue']:,.2f}",
            f"{clv:,.2f}" if clv is not None else "—",
        )
    console.print(table)
    segments = Table(title="RFM segments")
    segments.add_column("segment")
    segments.add_column("persons", justify="right")
    ranked = sorted((summary.get("segments") or {}).items(), key=lambda kv: -kv[1]["persons"])
    for name, doc in ranked:
        segments.add_row(str(name), f"{doc['persons']:,}")
    console.print(segments)


def runs(
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="How many runs to list."),
    json_output: bool = JsonOption,
) -> None:
    """List scoring runs, newest first."""
    with session_scope() as session:
        found, total = queries.list_runs(session, limit=limit)
        data = [_run_json(r) for r in found]
    if json_output:
        print_json({"items": data, "total": total})
        return
    table = Table(title=f"Scoring runs ({total})")
    for name in ("id", "as of", "status", "buyers", "model", "started", "seconds"):
        table.add_column(name)
    for item in data:
        summary = item.get("summary") or {}
        seconds = sum((summary.get("seconds") or {}).values())
        table.add_row(
            str(item["id"]),
            item["as_of"][:10],
            item["status"],
            f"{summary.get('buyers', 0):,}",
            str((item.get("models") or {}).get("chosen") or "—"),
            item["started_at"][:19],
            f"{seconds:.1f}",
        )
    console.print(table)


@rates_app.command("set")
def set_rate(
    currency: str = typer.Argument(..., help="Three-letter code, e.g. USD."),
    rate: float = typer.Argument(..., help="Value of one unit in the base currency."),
    base: str | None = typer.Option(None, "--base", help="Base currency (default: settings)."),
) -> None:
    """Store the rate that converts CURRENCY into the base currency."""
    from closedloop.scoring import service

    with session_scope() as session:
        service.set_rate(session, currency, rate, base=base)
    console.print(f"{currency.upper()} → rate {rate} stored.")


@rates_app.command("list")
def list_rates(json_output: bool = JsonOption) -> None:
    """Show the stored currency rates."""
    with session_scope() as session:
        rows: list[dict[str, Any]] = [
            {"base": r.base_currency, "currency": r.currency, "rate": float(r.rate)}
            for r in session.scalars(select(CurrencyRate).order_by(CurrencyRate.currency))
        ]
    if json_output:
        print_json(rows)
        return
    table = Table(title="Currency rates")
    for name in ("base", "currency", "rate"):
        table.add_column(name)
    for row in rows:
        table.add_row(row["base"], row["currency"], f"{row['rate']:g}")
    console.print(table)


@reports_app.command("value")
def value(
    run_id: int | None = typer.Option(None, "--run", help="Run id (default: the latest)."),
    json_output: bool = JsonOption,
) -> None:
    """Customer value of a run: RFM grid, segments, tiers, stages, CLV distribution."""
    from closedloop.reports import value as value_report

    with session_scope() as session:
        report = value_report.value_report(session, run_id)
    if json_output:
        print_json(report.as_dict())
        return
    if report.run is None:
        console.print("No finished scoring run yet: run [bold]closedloop score[/bold].")
        return
    _print_run(report.run)


@reports_app.command("demand")
def demand(
    months: int = typer.Option(6, "--months", min=1, max=36, help="Forecast horizon, months."),
    json_output: bool = JsonOption,
) -> None:
    """Demand per category and month with trend, seasonality, forecast and change."""
    from closedloop.reports import demand as demand_report  # Ibis, scipy

    try:
        report = demand_report.demand_report(get_engine(), horizon=months)
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.detail}", highlight=False)
        raise typer.Exit(code=1) from exc
    if json_output:
        print_json(report.as_dict())
        return
    table = Table(title="Demand by category: last 12 months vs the 12 before, forecast")
    for name in ("category", "last 12 m", "previous 12 m", "change", "next months"):
        table.add_column(name, justify="left" if name == "category" else "right")
    for row in report.categories:
        change = f"{row.change_pct:+.1f}%" if row.change_pct is not None else "—"
        table.add_row(
            row.name,
            f"{row.last_12:,.0f}",
            f"{row.previous_12:,.0f}",
            change,
            f"{sum(row.forecast):,.0f}",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``score``, ``score-runs``, ``rates`` and ``reports`` to the ``closedloop`` command."""
    app.command("score")(score)
    app.command("score-runs")(runs)
    app.add_typer(rates_app, name="rates")
    app.add_typer(reports_app, name="reports")
