"""Campaign pages (M11): the list, a campaign's page (its mix, waves, funnel, progress and the
buttons of its next states), the form to create or edit one.

The editor (:mod:`closedloop.web.campaign_form`) writes every part of a campaign: its
fields, several waves with their schedule, several cells (channel, offer, price, template,
target segment, share, unit cost, or a control group), and its tests (A/B with an automatic
winner, stratification by value tier). A running campaign's content stays frozen: saving
makes a new version.

The page's buttons (approve, launch, pause, resume, cancel) are
:mod:`closedloop.web.routes.campaign_actions`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from closedloop.campaigns import lifecycle, service, versions
from closedloop.campaigns.calendar_conflicts import conflicts_of
from closedloop.campaigns.funnel import wave_funnel
from closedloop.campaigns.models import Campaign, MessageTemplate, Offer
from closedloop.campaigns.schemas import CampaignCreate, CampaignUpdate
from closedloop.campaigns.targeting import AB_METRICS
from closedloop.deps import DbSession
from closedloop.errors import Conflict, DomainError
from closedloop.events.service import event_of_campaign
from closedloop.i18n import N_
from closedloop.segments import Segment, list_segments
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission, allowed
from closedloop.vocab import CampaignStatus, Channel
from closedloop.web import campaign_form
from closedloop.web.rendering import flash, gettext_for, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import requires

router = page_router()
Reader = Annotated[User, requires(Permission.CAMPAIGNS_READ)]
Writer = Annotated[User, requires(Permission.CAMPAIGNS_WRITE)]
CampaignId = Annotated[int, Path(ge=1, le=2**63 - 1)]
S = CampaignStatus


@router.get("/campaigns", response_class=Response)
def list_page(request: Request, db: DbSession, user: Reader, status: str = "") -> Response:
    """Every campaign (each version), the latest start first, optionally of one state."""
    state = S(status) if status in set(S) else None
    rows = [service.describe(db, c) for c in service.list_campaigns(db, status=state, limit=500)]
    context = {
        "active": "campaigns",
        "campaigns": rows,
        "status": status,
        "statuses": [s.value for s in S],
    }
    return render(request, "campaigns/list.html", context)


def _segments(db: DbSession, parsed: campaign_form.CampaignForm) -> list[Segment]:
    """The segments to choose from: the first 500 by name and those the form names (so a
    segment beyond the list is not taken off by saving the form unchanged)."""
    shown = list_segments(db, limit=500)[0]
    named = {parsed.values["segment_id"]} | {c["segment_id"] for c in parsed.cells}
    ids = {int(i) for i in named if i.isdigit() and len(i) < 19}  # a BIGINT
    missing = ids - {s.id for s in shown}
    if missing:
        shown += db.scalars(select(Segment).where(Segment.id.in_(missing)))
    return shown


def _choices(db: DbSession, parsed: campaign_form.CampaignForm) -> dict[str, Any]:
    templates = db.execute(select(MessageTemplate.code, MessageTemplate.channel)).all()
    return {
        "offers": list(db.scalars(select(Offer).order_by(Offer.code))),
        "segments": _segments(db, parsed),
        "templates": sorted({(t.code, t.channel) for t in templates}),
        "channels": [c.value for c in Channel],
        "metrics": AB_METRICS,
    }


def _form_page(
    request: Request,
    db: DbSession,
    parsed: campaign_form.CampaignForm,
    campaign: Campaign | None = None,
    status: int = 200,
) -> Response:
    context = {
        "active": "campaigns",
        "f": parsed,
        "values": parsed.values,
        "errors": parsed.errors,
        "summary": parsed.summary(gettext_for(request)),
        "campaign": campaign,
        "campaign_id": campaign.id if campaign else None,
        "running": campaign is not None and campaign.status in (S.RUNNING, S.PAUSED),
        **_choices(db, parsed),
    }
    return render(request, "campaigns/form.html", context, status=status)


async def _read(request: Request) -> tuple[campaign_form.CampaignForm, str]:
    form = await request.form()
    return campaign_form.read(form), form_str(form, "op") or "save"


def _checked(
    request: Request, parsed: campaign_form.CampaignForm, *, creating: bool
) -> dict[str, Any]:
    """The campaign document of the form, its tests included; errors go to ``parsed``."""
    gettext = gettext_for(request)
    parsed.check_controls(gettext)
    return campaign_form.document(parsed, gettext, with_code=creating)


@router.get("/campaigns/new", response_class=Response)
def new_page(request: Request, db: DbSession, user: Writer) -> Response:
    """The campaign editor, for a new campaign: one wave and one cell to start with."""
    return _form_page(request, db, campaign_form.new_form())


@router.post("/campaigns/new", response_class=Response)
async def create(request: Request, db: DbSession, user: Writer) -> Response:
    """Create the draft campaign of the editor with its waves, cells and tests; or add, remove
    or move a wave or cell of the form (nothing saved then)."""
    parsed, op = await _read(request)
    if campaign_form.apply_op(parsed, op):
        return _form_page(request, db, parsed)
    doc = _checked(request, parsed, creating=True)
    if not parsed.errors:
        try:
            data = CampaignCreate.model_validate(doc)
            with db.begin_nested():  # a refusal keeps nothing of the campaign
                campaign = service.create_campaign(db, data, created_by=user.username)
        except ValidationError as exc:
            campaign_form.pydantic_errors(parsed, exc, gettext_for(request))
        except Conflict as exc:
            campaign_form.domain_errors(parsed, exc, default="code")
        except DomainError as exc:
            campaign_form.domain_errors(parsed, exc)
        else:
            users_service.audit(db, user, "create", "campaign", campaign.id, channel="web")
            flash(request, N_("The campaign is created as a draft."))
            return RedirectResponse(f"/campaigns/{campaign.id}", status_code=303)
    return _form_page(request, db, parsed, status=422)


@router.get("/campaigns/{campaign_id:int}", response_class=Response)
def show_page(request: Request, db: DbSession, user: Reader, campaign_id: CampaignId) -> Response:
    """A campaign: fields, cells, waves with their funnel and progress, conflicts, actions."""
    campaign = lifecycle.settle(db, campaign_id)
    shown = service.describe(db, campaign)
    funnels = {
        w.id: wave_funnel(db, w.id) for w in shown.waves if w.status not in lifecycle.NOT_STARTED
    }
    can = {
        p: allowed(user.role, Permission(p))
        for p in ("campaigns:write", "campaigns:approve", "campaigns:send")
    }
    context = {
        "active": "campaigns",
        "c": shown,
        "funnels": funnels,
        "conflicts": conflicts_of(db, campaign_id),
        "problems": lifecycle.readiness(db, campaign) if campaign.status == S.DRAFT else [],
        "may": can,
        "refresh_seconds": 10 if campaign.status == S.RUNNING else None,
        "event": event_of_campaign(db, campaign_id),
    }
    return render(request, "campaigns/show.html", context)


def _editable(request: Request, db: DbSession, campaign_id: int) -> Campaign | Response:
    """The campaign, or its page with the reason when it has ended (it cannot be edited)."""
    campaign = service.get_campaign(db, campaign_id)
    if campaign.status not in lifecycle.OPEN:
        flash(request, N_("This campaign has ended: it cannot be edited."), "error")
        return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
    return campaign


@router.get("/campaigns/{campaign_id:int}/edit", response_class=Response)
def edit_page(request: Request, db: DbSession, user: Writer, campaign_id: CampaignId) -> Response:
    """The campaign editor for a stored campaign: its fields, waves, cells and tests (for a
    running one, saving makes a new version carrying the waves not yet started)."""
    campaign = _editable(request, db, campaign_id)
    if isinstance(campaign, Response):
        return campaign
    shown = service.describe(db, campaign)
    running = campaign.status in (S.RUNNING, S.PAUSED)
    parsed = campaign_form.from_campaign(shown, waves_not_started=running)
    return _form_page(request, db, parsed, campaign)


@router.post("/campaigns/{campaign_id:int}/edit", response_class=Response)
async def edit(request: Request, db: DbSession, user: Writer, campaign_id: CampaignId) -> Response:
    """Save the editor (a draft in place, an approved one back to draft, a running one as a
    new version); or add, remove or move a wave or cell of the form (nothing saved then)."""
    campaign = _editable(request, db, campaign_id)
    if isinstance(campaign, Response):
        return campaign
    parsed, op = await _read(request)
    parsed.values["code"] = campaign.code
    if campaign_form.apply_op(parsed, op):
        return _form_page(request, db, parsed, campaign)
    doc = _checked(request, parsed, creating=False)
    if not parsed.errors:
        try:
            data = CampaignUpdate.model_validate(doc)
            with db.begin_nested():  # a refusal keeps nothing of the change
                result = versions.edit(db, campaign_id, data, by=user.username)
        except ValidationError as exc:
            campaign_form.pydantic_errors(parsed, exc, gettext_for(request))
        except DomainError as exc:
            campaign_form.domain_errors(parsed, exc)
        else:
            users_service.audit(db, user, "update", "campaign", result.campaign.id, channel="web")
            if result.new_version:
                flash(
                    request,
                    N_(
                        "The campaign is running: your change is a new version, to "
                        "approve and launch."
                    ),
                )
            elif result.approval_withdrawn:
                flash(request, N_("The campaign is changed and back to draft: approve it again."))
            else:
                flash(request, N_("The campaign is changed."))
            return RedirectResponse(f"/campaigns/{result.campaign.id}", status_code=303)
    return _form_page(request, db, parsed, campaign, status=422)
