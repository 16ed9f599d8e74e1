"""The buttons of a campaign's page (M11): approve, launch, pause, resume and cancel it.

Each runs its state change (:mod:`closedloop.campaigns.lifecycle`) in a savepoint, audits it
and goes back to the campaign's page (:mod:`closedloop.web.routes.campaigns`), which says
what happened or why it was refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response

from closedloop.campaigns import lifecycle
from closedloop.deps import DbSession
from closedloop.errors import DomainError
from closedloop.i18n import N_
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.web.rendering import flash
from closedloop.web.routes import page_router
from closedloop.web.security import requires

router = page_router()
Approver = Annotated[User, requires(Permission.CAMPAIGNS_APPROVE)]
Sender = Annotated[User, requires(Permission.CAMPAIGNS_SEND)]
CampaignId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _act(
    request: Request, db: DbSession, user: User, campaign_id: int, verb: str, done: str, action: Any
) -> Response:
    """Run a state change in a savepoint: on a refusal nothing of it is kept, and the
    campaign's page says why."""
    try:
        with db.begin_nested():
            action()
    except DomainError as exc:
        flash(request, exc.detail, "error")
    else:
        users_service.audit(db, user, verb, "campaign", campaign_id, channel="web")
        flash(request, done)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id:int}/approve", response_class=Response)
def approve(request: Request, db: DbSession, user: Approver, campaign_id: CampaignId) -> Response:
    """Approve the draft."""
    return _act(
        request,
        db,
        user,
        campaign_id,
        "approve",
        N_("The campaign is approved."),
        lambda: _approve(request, db, campaign_id, user.username),
    )


def _approve(request: Request, db: DbSession, campaign_id: int, by: str) -> None:
    """Approve, and flash each warning of the pre-send analysis."""
    _campaign, warnings = lifecycle.approve_checked(db, campaign_id, by=by)
    for w in warnings:
        flash(request, (f"cell {w.cell}: " if w.cell else "") + w.message, "info")


@router.post("/campaigns/{campaign_id:int}/launch", response_class=Response)
def launch(request: Request, db: DbSession, user: Sender, campaign_id: CampaignId) -> Response:
    """Launch the approved campaign (due waves extracted and queued for sending)."""
    return _act(
        request,
        db,
        user,
        campaign_id,
        "launch",
        N_("The campaign is launched."),
        lambda: lifecycle.launch(db, campaign_id, by=user.username),
    )


@router.post("/campaigns/{campaign_id:int}/pause", response_class=Response)
def pause(request: Request, db: DbSession, user: Sender, campaign_id: CampaignId) -> Response:
    """Pause the campaign's sending."""
    return _act(
        request,
        db,
        user,
        campaign_id,
        "pause",
        N_("The campaign is paused."),
        lambda: lifecycle.pause(db, campaign_id),
    )


@router.post("/campaigns/{campaign_id:int}/resume", response_class=Response)
def resume(request: Request, db: DbSession, user: Sender, campaign_id: CampaignId) -> Response:
    """Resume the paused campaign."""
    return _act(
        request,
        db,
        user,
        campaign_id,
        "resume",
        N_("The campaign goes on."),
        lambda: lifecycle.resume(db, campaign_id, by=user.username),
    )


@router.post("/campaigns/{campaign_id:int}/cancel", response_class=Response)
def cancel(request: Request, db: DbSession, user: Sender, campaign_id: CampaignId) -> Response:
    """Cancel the campaign (its queued messages are skipped)."""
    return _act(
        request,
        db,
        user,
        campaign_id,
        "cancel",
        N_("The campaign is cancelled."),
        lambda: lifecycle.cancel(db, campaign_id),
    )
