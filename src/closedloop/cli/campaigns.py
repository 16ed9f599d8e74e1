"""closedloop campaigns: plan a campaign, approve it, launch it, follow and steer its
sending (create, list, show, edit, approve, launch, pause, resume, cancel, send, status).

Here are the planning commands (create, edit, approve); list and show come from
:mod:`closedloop.cli.campaign_views`, launching and sending from
:mod:`closedloop.cli.campaign_sending`, the extraction commands (extract, target, funnel,
holdout, ab-decide) from :mod:`closedloop.cli.extraction`, the evaluation report from
:mod:`closedloop.cli.evaluation`.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from closedloop.campaigns import lifecycle, service, versions
from closedloop.campaigns.schemas import CampaignCreate, CampaignUpdate, CellCreate, WaveCreate
from closedloop.cli._common import (
    JsonOption,
    console,
    err_console,
    print_json,
    session_scope,
)
from closedloop.vocab import Channel, Purpose

app = typer.Typer(
    name="campaigns",
    help="Plan, approve, launch and send campaigns; follow their progress.",
    no_args_is_help=True,
)
ByOption = typer.Option(
    None, "--by", help="Who does it (a username; default: the system user running the command)."
)
RefArgument = typer.Argument(..., help="The campaign's id, or its code (its latest version).")


def _by(value: str | None) -> str:
    return value or getpass.getuser()


M = TypeVar("M", bound=BaseModel)


def _model(kind: type[M], data: dict[str, Any], source: str) -> M:
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        err_console.print(f"[red]error:[/red] {source} is not a valid campaign:")
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(top)"
            err_console.print(f"  - {where}: {e['msg']}")
        raise typer.Exit(code=1) from exc


def _file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]error:[/red] cannot read {path}: {exc}")
        raise typer.Exit(code=1) from exc
    if not isinstance(data, dict):
        err_console.print(f"[red]error:[/red] {path} must hold one JSON object")
        raise typer.Exit(code=1)
    return data


def _doc(model: BaseModel) -> dict[str, Any]:
    return json.loads(model.model_dump_json())  # type: ignore[no-any-return]


@app.command("create")
def create(
    file: Path | None = typer.Option(
        None, "--file", help="A JSON campaign (fields, waves and cells); options override it."
    ),
    code: str | None = typer.Option(None, "--code", help="A short unique code, e.g. SPRING27."),
    name: str | None = typer.Option(None, "--name", help="The campaign's name."),
    objective: str | None = typer.Option(None, "--objective", help="What it is for."),
    offer: str | None = typer.Option(None, "--offer", help="The offer's code."),
    segment: int | None = typer.Option(None, "--segment", help="The target segment's id."),
    budget: Decimal | None = typer.Option(None, "--budget", help="The budget."),
    cost: Decimal | None = typer.Option(None, "--cost-per-contact", help="Planned unit cost."),
    owner: str | None = typer.Option(None, "--owner", help="The owner's username."),
    starts: datetime | None = typer.Option(None, "--starts", formats=["%Y-%m-%d"]),
    ends: datetime | None = typer.Option(None, "--ends", formats=["%Y-%m-%d"]),
    priority: int | None = typer.Option(None, "--priority", help="0–1000; higher wins."),
    purpose: Purpose | None = typer.Option(None, "--purpose", help="Consent purpose needed."),
    channel: Channel | None = typer.Option(None, "--channel", help="One cell A on this channel."),
    template: str | None = typer.Option(None, "--template", help="Cell A's template code."),
    control: float | None = typer.Option(
        None, "--control-share", help="Add a control cell with this share (e.g. 0.1)."
    ),
    wave_at: list[datetime] = typer.Option(
        [], "--wave-at", help="A wave at this date and time (repeat for more; UTC)."
    ),
    by: str | None = ByOption,
    json_output: bool = JsonOption,
) -> None:
    """Create a draft campaign from a JSON file or from options.

    The file (--file) holds the fields, waves and cells (see
    docs/concepts/campaigns.md); options override it. Without a file: one cell A on
    --channel, an optional control cell, one wave per --wave-at (or one at launch).
    """
    data = _file(file)
    given: dict[str, Any] = {
        "code": code,
        "name": name,
        "objective": objective,
        "offer": offer,
        "segment_id": segment,
        "budget": budget,
        "cost_per_contact": cost,
        "owner": owner,
        "starts_on": starts.date() if starts else None,
        "ends_on": ends.date() if ends else None,
        "priority": priority,
        "purpose": purpose,
    }
    data.update({k: v for k, v in given.items() if v is not None})
    if channel is not None:
        share = 1.0 - (control or 0.0)
        data["cells"] = [
            CellCreate(
                code="A",
                name=f"{channel.value} A",
                channel=channel,
                template=template,
                offer=offer,
                share=share,
            )
        ]
        if control:
            data["cells"].append(
                CellCreate(code="CONTROL", name="Control group", is_control=True, share=control)
            )
    if wave_at:
        data["waves"] = [
            WaveCreate(name=f"Wave {i + 1}", scheduled_at=w) for i, w in enumerate(wave_at)
        ]
    elif "waves" not in data:
        data["waves"] = [WaveCreate(name="Wave 1")]
    data = {k: (_doc(v) if isinstance(v, BaseModel) else v) for k, v in data.items()}
    data = {
        k: ([_doc(i) if isinstance(i, BaseModel) else i for i in v] if isinstance(v, list) else v)
        for k, v in data.items()
    }
    model = _model(CampaignCreate, data, str(file or "the options"))
    with session_scope() as session:
        campaign = service.create_campaign(session, model, created_by=_by(by))
        shown = service.describe(session, campaign)
    if json_output:
        print_json(_doc(shown))
    else:
        console.print(f"Campaign {shown.code} created (id {shown.id}, draft).")


@app.command("edit")
def edit(
    ref: str = RefArgument,
    file: Path | None = typer.Option(None, "--file", help="A JSON object of the changes."),
    name: str | None = typer.Option(None, "--name"),
    objective: str | None = typer.Option(None, "--objective"),
    budget: Decimal | None = typer.Option(None, "--budget"),
    priority: int | None = typer.Option(None, "--priority"),
    by: str | None = ByOption,
    json_output: bool = JsonOption,
) -> None:
    """Change a campaign (a running one gets a new version).

    A draft changes in place; an approved or scheduled one goes back to draft; a running or
    paused one is frozen, so the change makes a new version (a draft) to approve and launch.
    """
    data = _file(file)
    given = {"name": name, "objective": objective, "budget": budget, "priority": priority}
    data.update({k: v for k, v in given.items() if v is not None})
    model = _model(CampaignUpdate, data, str(file or "the options"))
    with session_scope() as session:
        campaign = service.find_campaign(session, ref)
        result = versions.edit(session, campaign.id, model, by=_by(by))
        shown = service.describe(session, result.campaign)
    if json_output:
        print_json(
            {
                **_doc(shown),
                "new_version": result.new_version,
                "approval_withdrawn": result.approval_withdrawn,
            }
        )
    elif result.new_version:
        console.print(
            f"Campaign {shown.code} is running: the change made version {shown.version} "
            f"(id {shown.id}, draft). Approve and launch it to replace the waves not yet sent."
        )
    else:
        note = " (back to draft: approve it again)" if result.approval_withdrawn else ""
        console.print(f"Campaign {shown.code} changed{note}.")


def approve(
    ref: str = RefArgument, by: str | None = ByOption, json_output: bool = JsonOption
) -> None:
    """Approve a draft campaign.

    The pre-send analysis runs first (the messages rendered for the target segment): a
    missing unsubscribe link or subject, a field empty for some recipients, an SMS over its
    segment budget, an oversized email refuse it; its warnings are shown. Refused also when
    it is incomplete, or when its author approves it while the four-eyes setting
    CLOSEDLOOP_CAMPAIGN_APPROVAL_BY_OTHER is on.
    """
    with session_scope() as session:
        found = service.find_campaign(session, ref).id
        campaign, warnings = lifecycle.approve_checked(session, found, by=_by(by))
        said = [(f"cell {w.cell}: " if w.cell else "") + w.message for w in warnings]
        shown = service.describe(session, campaign).model_copy(update={"warnings": said})
    if json_output:
        print_json(_doc(shown))
    else:
        for line in said:
            console.print(f"Warning: {line}")
        console.print(f"Campaign {shown.code} approved by {shown.approved_by}.")


def register(root: typer.Typer) -> None:
    """Attach campaigns (with the extraction and evaluation commands) to the main app."""
    from closedloop.cli import campaign_sending, campaign_views, evaluation, extraction

    # In the order of --help: create, edit, list, show, approve, then sending and the rest.
    campaign_views.add_commands(app)
    app.command("approve")(approve)
    campaign_sending.add_commands(app)
    extraction.add_commands(app)
    evaluation.add_report(app)
    root.add_typer(app)
