"""Extraction, targeting, tests and funnels of campaigns: the ``extract``, ``target``,
``funnel``, ``holdout`` and ``ab-decide`` commands of ``closedloop campaigns``.

:func:`add_commands` adds them to the ``campaigns`` group (:mod:`closedloop.cli.campaigns`
calls it).
"""

from __future__ import annotations

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, print_json, session_scope


def extract(
    wave_ids: list[int] = typer.Argument(..., help="The waves to extract (one or more)."),
    json_output: bool = JsonOption,
) -> None:
    """Extract waves: their campaigns' targets through the funnel (hold-out, control and A/B
    cells, consent, suppression, household, pressure, arbitration, capacity) into queued
    messages. Several waves are extracted highest priority first, each in its own transaction;
    extracting a wave again only adds persons that became eligible."""
    from sqlalchemy import select

    from closedloop.campaigns.extraction import extract_wave
    from closedloop.campaigns.models import Campaign, Wave

    with session_scope() as session:
        rows = session.execute(
            select(Wave.id, Campaign.priority).join(Campaign, Campaign.id == Wave.campaign_id)
            .where(Wave.id.in_(wave_ids))
        ).all()  # fmt: skip
        missing = sorted(set(wave_ids) - {r[0] for r in rows})
        if missing:
            console.print(f"[red]error:[/red] no wave {', '.join(map(str, missing))}")
            raise typer.Exit(code=1)
        order = [wid for wid, _ in sorted(rows, key=lambda r: (-(r[1] or 0), r[0]))]
    results = []
    for wave_id in order:
        with session_scope() as session:
            results.append(extract_wave(session, wave_id).as_dict())
    if json_output:
        print_json(results if len(results) > 1 else results[0])
        return
    for r in results:
        table = Table(title=f"Wave {r['wave_id']}: {r['queued']:,} queued of {r['target']:,}")
        table.add_column("stage")
        table.add_column("persons", justify="right")
        for stage, n in r["excluded"].items():
            table.add_row(stage, f"{n:,}")
        table.add_row("already queued", f"{r['already_queued']:,}")
        for cell, n in r["by_cell"].items():
            table.add_row(f"queued in cell {cell}", f"{n:,}")
        console.print(table)


def target(
    campaign: str = typer.Argument(..., help="The campaign's code or id."),
    segment: int | None = typer.Option(None, "--segment", help="The target segment's id."),
    household: bool | None = typer.Option(None, "--household/--no-household",
                                          help="One person per household."),
    stratify: bool | None = typer.Option(None, "--stratify/--no-stratify",
                                         help="Split cells within each value tier."),
    weight: int | None = typer.Option(None, "--weight", help="Fatigue weight of a message."),
    expected_value: float | None = typer.Option(None, "--expected-value",
                                                help="Value of a contact (arbitration)."),
    ab_share: float | None = typer.Option(None, "--ab-share",
                                          help="A/B: share of the audience the test cells get."),
    ab_metric: str | None = typer.Option(None, "--ab-metric", help="A/B: open, click, purchase."),
    ab_after_hours: float | None = typer.Option(None, "--ab-after-hours",
                                                help="A/B: hours after sending to pick."),
    json_output: bool = JsonOption,
) -> None:  # fmt: skip
    """Set a campaign's target segment and extraction options."""
    from closedloop.campaigns.targeting import TargetingOptions, set_targeting, targeting_dict

    options = TargetingOptions(segment, household, stratify, weight, expected_value, ab_share,
                               ab_metric, ab_after_hours)  # fmt: skip
    with session_scope() as session:
        data = targeting_dict(set_targeting(session, campaign, options))
    if json_output:
        print_json(data)
    else:
        console.print(", ".join(f"{k}={v}" for k, v in data.items() if v is not None))


def funnel(
    wave_id: int = typer.Argument(..., help="The wave."),
    stage: str | None = typer.Option(None, "--stage", help="List the persons left at this stage."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="How many persons to list."),
    json_output: bool = JsonOption,
) -> None:
    """Show a wave's funnel: target → each exclusion stage → queued → sent; with --stage,
    the persons left out there and why."""
    from closedloop.campaigns.funnel import exclusions, wave_funnel

    with session_scope() as session:
        data = wave_funnel(session, wave_id).as_dict()
        found = exclusions(session, wave_id, stage=stage, limit=limit) if stage else []
        persons = [{"person_id": e.person_id, "stage": e.stage, "reason": e.reason}
                   for e in found]  # fmt: skip
    if json_output:
        print_json({**data, "persons": persons} if stage else data)
        return
    table = Table(title=f"Wave {wave_id} funnel")
    table.add_column("stage")
    table.add_column("left out", justify="right")
    table.add_column("remaining", justify="right")
    table.add_row("target", "", f"{data['target']:,}")
    for step in data["steps"]:
        table.add_row(step["stage"], f"{step['excluded']:,}", f"{step['remaining']:,}")
    table.add_row("sent", "", f"{data['sent']:,}")
    console.print(table)
    for p in persons:
        console.print(f"person {p['person_id']}: {p['reason']}")


def holdout(
    percent: float | None = typer.Argument(None, help="The new percentage (0–50)."),
    new_salt: bool = typer.Option(False, "--new-salt", help="Draw a new hold-out group."),
    json_output: bool = JsonOption,
) -> None:
    """Show or set the global long-term hold-out: a percentage of all persons who get no
    campaign (persistent: the same persons while the salt is kept)."""
    from closedloop.campaigns.assignment import get_global_holdout, set_global_holdout

    with session_scope() as session:
        if percent is not None:
            set_global_holdout(session, percent, new_salt=new_salt)
        setting = get_global_holdout(session)
    value = setting.percentage if setting else 0.0
    if json_output:
        print_json({"percentage": value})
    else:
        console.print(f"Global hold-out: {value:g} %")


def ab_decide(
    campaign: str = typer.Argument(..., help="The campaign's code or id."),
    force: bool = typer.Option(False, "--force", help="Decide now, before the set time."),
    queue: bool = typer.Option(False, "--queue", help="Queue the job (decides when due)."),
    json_output: bool = JsonOption,
) -> None:
    """Pick an A/B test's winner on its metric and extract the rest into the winner's cell."""
    from closedloop.campaigns.ab_test import decide, queue_decision

    with session_scope() as session:
        if queue:
            job_id = queue_decision(session, campaign)
            console.print(f"Job {job_id} queued.")
            return
        data = decide(session, campaign, force=force).as_dict()
    if json_output:
        print_json(data)
    else:
        console.print(f"Winner: cell {data['winner_cell_id']} on {data['metric']}")
        for c in data["cells"]:
            console.print(f"  {c['code']}: {c['responded']} of {c['sent']} ({c['rate']:.1%})")


def add_commands(app: typer.Typer) -> None:
    """Add the extraction commands to the ``campaigns`` group ``app``."""
    app.command("extract")(extract)
    app.command("target")(target)
    app.command("funnel")(funnel)
    app.command("holdout")(holdout)
    app.command("ab-decide")(ab_decide)
