"""``closedloop pressure``: contact-pressure rules and channel capacities (M12)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, print_json, session_scope

app = typer.Typer(
    name="pressure",
    help="Contact-pressure rules (at most N messages per period, a minimum gap) and channel "
    "capacities.",
    no_args_is_help=True,
)


@app.command("list")
def list_cmd(json_output: bool = JsonOption) -> None:
    """List the pressure rules and the channel capacities."""
    from closedloop.campaigns.coordination import list_capacities
    from closedloop.campaigns.pressure import list_rules

    with session_scope() as session:
        rules = [_rule_dict(r) for r in list_rules(session)]
        caps: list[dict[str, Any]] = [{"channel": c.channel, "max_messages": c.max_messages,
                 "period_days": c.period_days} for c in list_capacities(session)]  # fmt: skip
    if json_output:
        print_json({"rules": rules, "capacities": caps})
        return
    table = Table(title="Pressure rules")
    for name in ("id", "name", "channel", "max", "per days", "min gap h", "tier", "active"):
        table.add_column(name)
    for r in rules:
        table.add_row(str(r["id"]), r["name"], r["channel"] or "all", str(r["max_messages"]),
                      str(r["period_days"]), f"{r['min_gap_hours']:g}", r["tier"] or "all",
                      "yes" if r["active"] else "no")  # fmt: skip
    console.print(table)
    if caps:
        caps_table = Table(title="Channel capacities")
        for name in ("channel", "max", "per days"):
            caps_table.add_column(name)
        for c in caps:
            caps_table.add_row(c["channel"], str(c["max_messages"]), str(c["period_days"]))
        console.print(caps_table)


def _rule_dict(rule: object) -> dict[str, Any]:
    names = ("id", "name", "channel", "max_messages", "period_days", "min_gap_hours", "tier",
             "active")  # fmt: skip
    return {name: getattr(rule, name) for name in names}


@app.command("set")
def set_cmd(
    name: str = typer.Argument(..., help="The rule's name (an existing rule is replaced)."),
    max_messages: int = typer.Option(..., "--max", help="At most this many messages (weighted)."),
    period_days: int = typer.Option(..., "--days", help="…in any window of this many days."),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel (default: all)."),
    min_gap_hours: float = typer.Option(0.0, "--gap-hours", help="Minimum hours between two."),
    tier: str | None = typer.Option(None, "--tier", help="Only persons of this value tier."),
    inactive: bool = typer.Option(False, "--inactive", help="Store the rule switched off."),
    json_output: bool = JsonOption,
) -> None:
    """Create or replace a pressure rule
    (closedloop pressure set weekly --max 2 --days 7)."""
    from closedloop.campaigns.pressure import save_rule

    with session_scope() as session:
        rule = save_rule(session, name, max_messages=max_messages, period_days=period_days,
                         channel=channel, min_gap_hours=min_gap_hours, tier=tier,
                         active=not inactive)  # fmt: skip
        data = _rule_dict(rule)
    if json_output:
        print_json(data)
    else:
        console.print(f"Rule {name} saved (id {data['id']}).")


@app.command("delete")
def delete_cmd(name: str = typer.Argument(..., help="The rule's name or id.")) -> None:
    """Delete a pressure rule."""
    from closedloop.campaigns.pressure import delete_rule

    with session_scope() as session:
        delete_rule(session, name)
    console.print(f"Rule {name} deleted.")


@app.command("capacity")
def capacity_cmd(
    channel: str = typer.Argument(..., help="email, sms, phone, letter or event."),
    max_messages: int | None = typer.Option(None, "--max", help="At most this many messages…"),
    period_days: int = typer.Option(1, "--per-days", help="…per period of this many days."),
    remove: bool = typer.Option(False, "--remove", help="Remove the channel's capacity."),
) -> None:
    """Set a channel's capacity, e.g. closedloop pressure capacity phone --max 200 (calls a
    day) or capacity letter --max 5000 --per-days 7 (letters a week)."""
    from closedloop.campaigns.coordination import delete_capacity, set_capacity

    with session_scope() as session:
        if remove:
            delete_capacity(session, channel)
            console.print(f"Capacity of {channel} removed.")
            return
        if max_messages is None:
            raise typer.BadParameter("give --max N, or --remove", param_hint="--max")
        set_capacity(session, channel, max_messages, period_days)
    console.print(f"Capacity of {channel}: {max_messages} per {period_days} day(s).")


def register(root: typer.Typer) -> None:
    """Attach ``pressure`` to the main app."""
    root.add_typer(app)
