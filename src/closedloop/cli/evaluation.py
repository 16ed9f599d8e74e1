"""``closedloop evaluation``: a campaign's report (did it work, against its control group?)
and its responders, non-responders, buyers or a cell as a segment for the next campaign."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, print_json, session_scope

evaluation_app = typer.Typer(
    name="evaluation",
    help="Campaign evaluation: the report against the control group, segments from its groups.",
    no_args_is_help=True,
)

RuleOption = typer.Option(
    "last-touch",
    "--rule",
    help="Attribution rule for purchases reached by several waves: last-touch, first-touch "
    "or linear.",
)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def _lift(g: dict[str, Any]) -> tuple[str, str, str]:
    lift = g.get("lift")
    if not lift:
        return "–", "–", "–"
    conv = lift["conversion"]
    points = (
        f"{conv['diff'] * 100:+.2f} ({conv['ci_low'] * 100:.2f} to {conv['ci_high'] * 100:.2f})"
    )
    p = lift["p_adjusted"] if lift["p_adjusted"] is not None else conv["p_value"]
    p_text = "–" if p is None else (f"{p:.2g}" + (" *" if p < 0.05 else ""))
    roi = "–" if lift["roi"] is None else f"{lift['roi'] * 100:+.0f} %"
    return points, p_text, roi


def _table(title: str, groups: list[dict[str, Any]], currency: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in (
        "group",
        "members",
        "contacted",
        "delivered",
        "opened",
        "clicked",
        "responded",
        "converted",
        "conv. rate",
        f"revenue {currency}",
        f"cost {currency}",
        "lift, points (95 % CI)",
        "p",
        "ROI",
    ):
        table.add_column(name, justify="left" if name == "group" else "right")
    for g in groups:
        points, p, roi = _lift(g)
        table.add_row(
            g["label"],
            *(
                f"{g[k]:,}"
                for k in (
                    "members",
                    "contacted",
                    "delivered",
                    "opened",
                    "clicked",
                    "responded",
                    "converted",
                )
            ),
            _pct(g["rates"]["conversion"]),
            _money(g["revenue"]),
            _money(g["cost"]),
            points,
            p,
            roi,
        )
    return table


def show(data: dict[str, Any]) -> None:
    """Print a report as tables: verdict, cells, waves, the A/B winner and the notes."""
    cur = data["currency"]
    console.print(
        f"[bold]{data['campaign_code']}[/bold] {data['campaign_name']} "
        f"({data['status']}) — attribution {data['rule']}, window "
        f"{data['window_days']} days"
    )
    style = "yellow" if not data["final"] else "bold"
    console.print(f"[{style}]Verdict:[/{style}] {data['verdict']}")
    rows = [*data["cells"], data["total"]]
    console.print(_table("Cells (lift against the control group)", rows, cur))
    if data["waves"]:
        console.print(_table("Waves", [w["total"] for w in data["waves"]], cur))
    winner = data.get("winner")
    if winner:
        verdict = "significant" if winner["significant"] else "not significant"
        console.print(
            f"A/B winner on {winner['metric']}: [bold]{winner['best_label']}[/bold] "
            f"({verdict}; {winner['correction']})"
        )
    for note in data["notes"]:
        console.print(f"[dim]· {note}[/dim]")


@evaluation_app.command("report")
def report(
    campaign_id: int = typer.Argument(..., help="The campaign's id."),
    rule: str = RuleOption,
    as_json: bool = JsonOption,
) -> None:
    """Evaluate a campaign: per cell and wave contacted, delivered, opened, clicked, responded,
    converted, revenue and cost; lift against the control group with its 95 % interval and
    p-value; the A/B winner; and a plain verdict."""
    from closedloop.evaluation import evaluate, parse_rule, report_dict

    # a read of the campaign's tables only: no other domain's models or plugins to load
    with session_scope(whole_schema=False) as session:
        data = report_dict(evaluate(session, campaign_id, rule=parse_rule(rule)))
    if as_json:
        print_json(data)
    else:
        show(data)


@evaluation_app.command("segment")
def segment(
    campaign_id: int = typer.Argument(..., help="The campaign's id."),
    group: str = typer.Option(
        ..., "--group", help="responders, non-responders, buyers or cell (with --cell)."
    ),
    name: str = typer.Option(..., "--name", help="The new segment's name."),
    cell: str = typer.Option("", "--cell", help="The cell's code or id (for --group cell)."),
    as_json: bool = JsonOption,
) -> None:
    """Freeze a group of an evaluated campaign into a snapshot segment (for the next one)."""
    from closedloop.evaluation import parse_source, segment_from_evaluation

    with session_scope() as session:
        made = segment_from_evaluation(
            session, campaign_id, parse_source(group), name, cell=cell or None, created_by="cli"
        )
        data = {
            "id": made.id,
            "name": made.name,
            "members": made.frozen_count,
            "origin": made.origin,
        }
    if as_json:
        print_json(data)
    else:
        console.print(
            f"Segment [bold]{data['id']}[/bold] {data['name']}: {data['members']:,} persons"
        )


@evaluation_app.command("rebuild-counters")
def rebuild(
    campaign_id: int | None = typer.Argument(None, help="The campaign's id (all when left out)."),
    check: bool = typer.Option(
        False, "--check", help="Only compare the counters with a recount; exit 1 if they differ."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Recount the funnel counters a report reads (contacted, delivered, opened, clicked,
    responded, cost per cell and wave) from the messages and responses, and store them.
    The sender and the capture keep them up to date; rebuild after a bulk load, a restore or
    a change made outside closedloop. With --check, list the counters that differ."""
    from closedloop.evaluation import check_counters, rebuild_counters

    with session_scope() as session:
        if check:
            drift = [d.__dict__ for d in check_counters(session, campaign_id)]
        else:
            done = rebuild_counters(session, campaign_id)
    if check:
        if as_json:
            print_json({"differences": drift})
        elif not drift:
            console.print("The funnel counters agree with a recount.")
        for d in [] if as_json else drift:
            console.print(
                f"campaign {d['campaign_id']} {d['scope']} cell {d['cell_id']} wave "
                f"{d['wave_id']}: {d['column']} stored {d['stored']:g}, counted {d['counted']:g}"
            )
        if drift:
            raise typer.Exit(1)
        return
    if as_json:
        print_json({"campaigns": {str(k): v for k, v in done.items()}})
    else:
        console.print(f"Funnel counters rebuilt for {len(done):,} campaigns.")


def register(app: typer.Typer) -> None:
    """Add ``closedloop evaluation`` to ``app``."""
    app.add_typer(evaluation_app)


def add_report(campaigns_app: typer.Typer) -> None:
    """Add ``report`` to the ``closedloop campaigns`` group (``closedloop campaigns report ID``)."""
    campaigns_app.command("report")(report)
