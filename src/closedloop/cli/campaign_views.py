"""closedloop campaigns list and show: the campaigns at a glance, and one campaign's fields,
cells (its marketing mix), waves with their messages, and calendar conflicts.

:func:`add_commands` adds them to the ``campaigns`` group (:mod:`closedloop.cli.campaigns`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import typer
from pydantic import BaseModel
from rich.table import Table

from closedloop.campaigns import service
from closedloop.campaigns.calendar_conflicts import conflicts_of
from closedloop.cli._common import JsonOption, console, print_json, session_scope
from closedloop.vocab import CampaignStatus

RefArgument = typer.Argument(..., help="The campaign's id, or its code (its latest version).")


def _doc(model: BaseModel) -> dict[str, Any]:
    return json.loads(model.model_dump_json())  # type: ignore[no-any-return]


def _money(value: Decimal | None, currency: str) -> str:
    return f"{value:,.2f} {currency}" if value is not None else ""


def list_(
    status: CampaignStatus | None = typer.Option(None, "--status", help="Only this state."),
    json_output: bool = JsonOption,
) -> None:
    """List campaigns (every version), the latest start first."""
    with session_scope() as session:
        rows = [
            service.describe(session, c) for c in service.list_campaigns(session, status=status)
        ]
    if json_output:
        print_json([_doc(r) for r in rows])
        return
    table = Table("id", "code", "v", "name", "status", "starts", "ends", "waves", "budget")
    for r in rows:
        table.add_row(
            str(r.id),
            r.code,
            str(r.version),
            r.name,
            r.status,
            str(r.starts_on or ""),
            str(r.ends_on or ""),
            str(len(r.waves)),
            _money(r.budget, r.currency),
        )
    console.print(table)


def _tests(tests: Any) -> str:
    """The tests in a line: "by value tier; A/B 20 % on open after 12 h; hold-out 10 %"."""
    ab = tests.ab_test
    said = ["by value tier" if tests.stratify_by_tier else "", "one per household"
            if tests.one_per_household else "",
            f"A/B {ab.share:.0%} on {ab.metric} after {ab.decide_after_hours:g} h"
            + (f", won by {ab.winner_cell}" if ab.winner_cell else "") if ab else "",
            f"hold-out {tests.holdout_share:.0%}" if tests.holdout_share else ""]  # fmt: skip
    return "; ".join(s for s in said if s)


def _print(shown: Any, conflicts: list[str]) -> None:
    console.print(f"[bold]{shown.code}[/bold] v{shown.version} — {shown.name} ({shown.status})")
    for label, value in (
        ("objective", shown.objective),
        ("offer", shown.offer),
        ("target segment", shown.segment_id),
        ("budget", _money(shown.budget, shown.currency)),
        ("cost per contact", _money(shown.cost_per_contact, shown.currency)),
        ("owner", shown.owner),
        ("dates", f"{shown.starts_on or '?'} → {shown.ends_on or '?'}"),
        ("priority", shown.priority),
        ("purpose", shown.purpose),
        ("author", shown.created_by),
        ("approved by", shown.approved_by),
        ("tests", _tests(shown.tests)),
    ):
        if value not in (None, ""):
            console.print(f"  {label}: {value}")
    cells = Table(
        "cell", "name", "channel", "offer", "price", "template", "segment", "share", title="Cells"
    )
    for c in shown.cells:
        template = f"{c.template} v{c.template_version}" if c.template else ""
        cells.add_row(
            c.code,
            c.name,
            c.channel or "control",
            c.offer or "",
            str(c.price or ""),
            template,
            str(c.segment_id or ""),
            f"{c.share:.0%}",
        )
    console.print(cells)
    waves = Table("wave", "name", "when", "status", "planned", "messages", title="Waves")
    for w in shown.waves:
        messages = ", ".join(f"{k} {v:,}" for k, v in sorted(w.messages.items()))
        waves.add_row(
            str(w.id),
            w.name,
            str(w.scheduled_at or "at launch"),
            w.status,
            str(w.expected_volume or ""),
            messages,
        )
    console.print(waves)
    for conflict in conflicts:
        console.print(f"[yellow]conflict:[/yellow] {conflict}")


def show(ref: str = RefArgument, json_output: bool = JsonOption) -> None:
    """Show a campaign: fields, cells, waves, messages and calendar conflicts.

    The cells are the marketing mix (channel, offer, price, template per target); the
    conflicts are those of the calendar its waves are part of.
    """
    with session_scope() as session:
        campaign = service.find_campaign(session, ref)
        shown = service.describe(session, campaign)
        conflicts = [c.message for c in conflicts_of(session, campaign.id)]
    if json_output:
        print_json({**_doc(shown), "conflicts": conflicts})
    else:
        _print(shown, conflicts)


def add_commands(app: typer.Typer) -> None:
    """Add the list and show commands to the ``campaigns`` group ``app``."""
    app.command("list")(list_)
    app.command("show")(show)
