"""Targeting in the web pages: propensity, clusters, recommendations and markets — thin
shells over :mod:`closedloop.targeting`.

The heavy analyses (propensity, clusters, the recommendations' evaluation) run as jobs: the
button queues one and the page refreshes while it runs, showing its progress; the last
finished result is drawn with Plotly (``static/reports.js``, the report pages' policy). A
cluster becomes a segment with one button, so does the best share of an uplift analysis; a
propensity run freezes its best persons as a segment when a name is given.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response

from closedloop.deps import DbSession
from closedloop.errors import DomainError, ValidationFailed
from closedloop.i18n import N_
from closedloop.jobs.models import Job
from closedloop.reports import targeting as figures
from closedloop.reports.charts import to_json
from closedloop.segments.service import list_segments
from closedloop.targeting import jobs
from closedloop.targeting.features import top_categories
from closedloop.targeting.market import compare, markets
from closedloop.targeting.recommend import recommend
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission, allowed
from closedloop.web.rendering import flash, gettext_for, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import CHART_PAGE_POLICY, requires

router = page_router()
Analyst = Annotated[User, requires(Permission.ANALYTICS_RUN)]
Manager = Annotated[User, requires(Permission.CAMPAIGNS_MANAGE)]
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]
REFRESH_SECONDS = 3
CHANNELS = ("email", "sms", "phone", "letter")
#: The compared features in words (the effect sizes, "large" to "negligible", are marked too).
FEATURE_NAMES = {"recency_days": N_("Days since last order"), "frequency": N_("Orders"),
                 "monetary": N_("Spend"), "tenure_days": N_("Days since first order"),
                 "categories": N_("Categories")}  # fmt: skip
EFFECTS = (N_("large"), N_("medium"), N_("small"), N_("negligible"))


def _page(request: Request, template: str, context: dict[str, Any]) -> Response:
    response = render(request, template, {"active": "targeting", **context})
    response.headers["Content-Security-Policy"] = CHART_PAGE_POLICY
    return response


def _state(db: DbSession, kind: str) -> dict[str, Any]:
    """The running job of ``kind`` (with the refresh) and the last finished one."""
    newest = jobs.latest(db, kind)
    running = newest if newest is not None and newest.status in ("queued", "running") else None
    failed = newest if newest is not None and newest.status == "failed" else None
    return {"running": running, "failed": failed, "done": jobs.latest(db, kind, done=True),
            "refresh_seconds": REFRESH_SECONDS if running else None}  # fmt: skip


def _charts(request: Request, result: dict[str, Any] | None, **builders: Any) -> dict[str, str]:
    if not result:
        return {}
    gettext = gettext_for(request)
    return {name: to_json(build(result, gettext)) for name, build in builders.items()}


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _queued(request: Request, user: User, job: Job, back: str) -> Response:
    flash(request, N_("Started. This page refreshes until it has finished."))
    return RedirectResponse(back, status_code=303)


@router.get("/targeting", response_class=Response)
def targeting_home(request: Request, db: DbSession, user: Analyst) -> Response:
    """Targeting: links to propensity, clusters, recommendations and markets."""
    latest = {kind: jobs.latest(db, kind) for kind in jobs.KINDS}
    return _page(request, "targeting/index.html", {"latest": latest})


@router.get("/targeting/clusters", response_class=Response)
def clusters_page(request: Request, db: DbSession, user: Analyst) -> Response:
    """The buyers' clusters: the "Find clusters" button, its progress, the last result."""
    state = _state(db, jobs.CLUSTERS_KIND)
    result = state["done"].result if state["done"] is not None else None
    charts = _charts(request, result, map=figures.cluster_map)
    return _page(request, "targeting/clusters.html", {**state, "result": result, "figures": charts})


@router.post("/targeting/clusters", response_class=Response)
async def start_clusters(request: Request, db: DbSession, user: Analyst) -> Response:
    """Queue a clustering of the buyers (k chosen by silhouette unless given)."""
    form = await request.form()
    try:
        job = jobs.queue_clusters(db, _int(form_str(form, "k")), created_by=user.username)
        users_service.audit(db, user, "started", "job", job.id, channel="web")
    except DomainError as exc:
        flash(request, exc.detail, "error")
        return RedirectResponse("/targeting/clusters", status_code=303)
    return _queued(request, user, job, "/targeting/clusters")


@router.post("/targeting/clusters/{job_id:int}/segments", response_class=Response)
async def cluster_segment(
    request: Request, db: DbSession, user: Manager, job_id: JobId
) -> Response:
    """Freeze one cluster of a finished clustering as a snapshot segment (one click)."""
    form = await request.form()
    number = _int(form_str(form, "cluster")) or 0
    name = form_str(form, "name")
    try:
        made = jobs.cluster_segment_from_job(db, job_id, number, name, created_by=user.username)
        users_service.audit(db, user, "create", "segment", made["id"], channel="web")
    except DomainError as exc:
        db.rollback()
        flash(request, exc.detail, "error")
        return RedirectResponse("/targeting/clusters", status_code=303)
    flash(request, N_("Segment saved."))
    return RedirectResponse(f"/segments/{made['id']}", status_code=303)


@router.get("/targeting/propensity", response_class=Response)
def propensity_page(request: Request, db: DbSession, user: Analyst) -> Response:
    """Propensity to buy a category: the form, its progress, the last result and charts."""
    state = _state(db, jobs.PROPENSITY_KIND)
    result = state["done"].result if state["done"] is not None else None
    charts = _charts(request, result, lift=figures.lift_by_decile, calibration=figures.calibration)
    context = {**state, "result": result, "figures": charts, "categories": top_categories(db),
               "can_save": allowed(user.role, Permission.CAMPAIGNS_MANAGE)}  # fmt: skip
    return _page(request, "targeting/propensity.html", context)


@router.post("/targeting/propensity", response_class=Response)
async def start_propensity(request: Request, db: DbSession, user: Analyst) -> Response:
    """Queue a propensity model; with a segment name, its top N become that segment."""
    form = await request.form()
    back = "/targeting/propensity"
    segment = " ".join(form_str(form, "segment").split()) or None
    try:
        if segment is not None and not allowed(user.role, Permission.CAMPAIGNS_MANAGE):
            raise DomainError("Your role does not allow saving segments.")
        job = jobs.queue_propensity(
            db, form_str(form, "category"), horizon_days=_int(form_str(form, "horizon")) or 180,
            top=_int(form_str(form, "top")) if segment else None, segment=segment,
            created_by=user.username,
        )  # fmt: skip
        users_service.audit(db, user, "started", "job", job.id, channel="web")
    except DomainError as exc:
        flash(request, exc.detail, "error")
        return RedirectResponse(back, status_code=303)
    return _queued(request, user, job, back)


@router.get("/targeting/recommendations", response_class=Response)
def recommendations_page(request: Request, db: DbSession, user: Analyst) -> Response:
    """A person's next best products (``?person=ID``) and the offline evaluation."""
    state = _state(db, jobs.EVALUATION_KIND)
    result = state["done"].result if state["done"] is not None else None
    person = _int(request.query_params.get("person") or "")
    items: list[dict[str, Any]] | None = None
    error = None
    if person is not None:
        from closedloop.contacts import service as contacts

        try:
            contacts.get_person(db, person)
            items = recommend(db, person, 5)
        except DomainError as exc:
            error = exc.detail
    charts = _charts(request, result, quality=figures.recommendation_quality)
    context = {**state, "result": result, "figures": charts, "person": person, "items": items,
               "error": error}  # fmt: skip
    return _page(request, "targeting/recommendations.html", context)


@router.post("/targeting/evaluation", response_class=Response)
async def start_evaluation(request: Request, db: DbSession, user: Analyst) -> Response:
    """Queue the offline evaluation of the recommendations."""
    back = "/targeting/recommendations"
    try:
        job = jobs.queue_evaluation(db, 5, created_by=user.username)
        users_service.audit(db, user, "started", "job", job.id, channel="web")
    except DomainError as exc:
        flash(request, exc.detail, "error")
        return RedirectResponse(back, status_code=303)
    return _queued(request, user, job, back)


@router.get("/targeting/uplift", response_class=Response)
def uplift_page(request: Request, db: DbSession, user: Analyst) -> Response:
    """Uplift of a past campaign with a control group: the form, progress, Qini chart."""
    state = _state(db, jobs.UPLIFT_KIND)
    result = state["done"].result if state["done"] is not None else None
    charts = _charts(request, result, qini=figures.qini)
    return _page(request, "targeting/uplift.html", {**state, "result": result, "figures": charts})


@router.post("/targeting/uplift", response_class=Response)
async def start_uplift(request: Request, db: DbSession, user: Analyst) -> Response:
    """Queue an uplift model of a past campaign (by its code)."""
    form = await request.form()
    back = "/targeting/uplift"
    try:
        code, days = form_str(form, "campaign").strip()[:64], _int(form_str(form, "days"))
        job = jobs.queue_uplift(db, code, days=days, created_by=user.username)
        users_service.audit(db, user, "started", "job", job.id, channel="web")
    except DomainError as exc:
        flash(request, exc.detail, "error")
        return RedirectResponse(back, status_code=303)
    return _queued(request, user, job, back)


@router.post("/targeting/uplift/{job_id:int}/segments", response_class=Response)
async def uplift_segment(request: Request, db: DbSession, user: Manager, job_id: JobId) -> Response:
    """Freeze the best share (in %) of an uplift analysis's members as a snapshot segment."""
    form = await request.form()
    percent = _int(form_str(form, "percent"))
    try:
        if percent is None or not 1 <= percent <= 100:
            raise ValidationFailed(
                "The share of members to keep must be 1 to 100 percent.",
                errors=[{"field": "percent", "message": "between 1 and 100"}],
            )
        made = jobs.uplift_segment_from_job(
            db, job_id, percent / 100, form_str(form, "name"), created_by=user.username
        )
        users_service.audit(db, user, "create", "segment", made["id"], channel="web")
    except DomainError as exc:
        db.rollback()
        flash(request, exc.detail, "error")
        return RedirectResponse("/targeting/uplift", status_code=303)
    flash(request, N_("Segment saved."))
    return RedirectResponse(f"/segments/{made['id']}", status_code=303)


@router.get("/targeting/markets", response_class=Response)
def markets_page(request: Request, db: DbSession, user: Analyst) -> Response:
    """Target markets for a category, and two segments side by side."""
    q = request.query_params
    category = (q.get("category") or "")[:64]
    channel = q.get("channel") if q.get("channel") in CHANNELS else "email"
    first, second = (q.get("first") or "")[:200], (q.get("second") or "")[:200]
    rows = comparison = None
    errors: list[str] = []
    try:
        if category:
            rows = markets(db, category, channel=str(channel))
    except DomainError as exc:
        errors.append(exc.detail)
    try:
        if first and second:
            comparison = compare(db, first, second)
    except DomainError as exc:
        errors.append(exc.detail)
    charts = {"markets": to_json(figures.market_scores(rows, gettext_for(request)))} if rows else {}
    segments, _ = list_segments(db, limit=500, offset=0)
    context = {
        **{"categories": top_categories(db), "category": category, "channel": channel},
        **{"channels": CHANNELS, "rows": rows, "comparison": comparison, "errors": errors},
        **{"segments": segments, "first": first, "second": second, "figures": charts},
        "feature_names": FEATURE_NAMES,
    }
    return _page(request, "targeting/markets.html", context)
