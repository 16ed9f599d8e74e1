"""Webhook pages (admins only): endpoints (list, create, edit, disable, rotate the secret),
the delivery log with filters, each delivery's body and attempts, and redelivery."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from closedloop.deps import DbSession
from closedloop.errors import NotFound, ValidationFailed
from closedloop.i18n import N_
from closedloop.interfaces import webhooks
from closedloop.interfaces.outbox import EVENT_TYPES
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.web.form_errors import NOT_VALID
from closedloop.web.rendering import flash, gettext_for, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import not_found, requires

router = page_router()
Admin = Annotated[User, requires(Permission.USERS_MANAGE)]


def _form_values(form: Any) -> dict[str, Any]:
    return {
        "url": form_str(form, "url").strip(),
        "description": form_str(form, "description").strip(),
        "event_types": [v for v in form.getlist("event_types") if isinstance(v, str)],
        "is_active": form_str(form, "is_active") == "on",
    }


#: What the form says, in the page's language, about each field the service refused
FIELD_MESSAGES = {
    "url": N_("Enter a web address that starts with http:// or https:// and names a host."),
    "event_types": N_("Choose at least one event type from the list."),
}


def _errors(request: Request, exc: ValidationFailed) -> dict[str, list[str]]:
    """The refused fields, each with its message in the page's language."""
    gettext = gettext_for(request)
    fields = [str(e.get("field")) for e in exc.errors or []] or ["url"]
    return {name: [gettext(FIELD_MESSAGES.get(name, NOT_VALID))] for name in fields}


def _index(
    request: Request, db: DbSession, values: dict[str, Any], errors: Any, status: int = 200
) -> Response:
    context = {
        "active": "webhooks",
        "endpoints": webhooks.list_endpoints(db),
        "event_types": EVENT_TYPES,
        "values": values,
        "errors": errors,
    }
    return render(request, "webhooks/index.html", context, status=status)


@router.get("/webhooks", response_class=Response)
def webhooks_page(request: Request, db: DbSession, user: Admin) -> Response:
    """The endpoints and the form that adds one."""
    values = {"url": "", "description": "", "event_types": [], "is_active": True}
    return _index(request, db, values, {})


def _secret_page(request: Request, endpoint: Any, rotated: bool) -> Response:
    context = {"active": "webhooks", "endpoint": endpoint, "rotated": rotated}
    return render(request, "webhooks/secret.html", context)


@router.post("/webhooks", response_class=Response)
async def create_endpoint(request: Request, db: DbSession, user: Admin) -> Response:
    """Add an endpoint, then show its secret (this once)."""
    values = _form_values(await request.form())
    try:
        endpoint = webhooks.create_endpoint(
            db,
            values["url"],
            values["event_types"],
            description=values["description"],
            created_by=user.username,
        )
    except ValidationFailed as exc:
        return _index(request, db, values, _errors(request, exc), status=422)
    users_service.audit(db, user, "created", "webhook_endpoint", endpoint.id, channel="web")
    return _secret_page(request, endpoint, rotated=False)


def _endpoint_or_404(db: DbSession, endpoint_id: int) -> Any:
    try:
        return webhooks.get_endpoint(db, endpoint_id)
    except NotFound as exc:
        raise not_found() from exc


@router.get("/webhooks/{endpoint_id:int}", response_class=Response)
def endpoint_page(request: Request, endpoint_id: int, db: DbSession, user: Admin) -> Response:
    """One endpoint: the edit form, disable/enable, rotate the secret, its latest deliveries."""
    endpoint = _endpoint_or_404(db, endpoint_id)
    values = {
        "url": endpoint.url,
        "description": endpoint.description or "",
        "event_types": endpoint.event_types,
        "is_active": endpoint.is_active,
    }
    return _endpoint_page(request, db, endpoint, values, {})


def _endpoint_page(
    request: Request,
    db: DbSession,
    endpoint: Any,
    values: dict[str, Any],
    errors: Any,
    status: int = 200,
) -> Response:
    page = webhooks.list_deliveries(db, endpoint_id=endpoint.id, limit=20)
    context = {
        "active": "webhooks",
        "endpoint": endpoint,
        "values": values,
        "errors": errors,
        "event_types": EVENT_TYPES,
        "deliveries": page.items,
        "total": page.total,
    }
    return render(request, "webhooks/endpoint.html", context, status=status)


@router.post("/webhooks/{endpoint_id:int}", response_class=Response)
async def update_endpoint(
    request: Request, endpoint_id: int, db: DbSession, user: Admin
) -> Response:
    """Save the URL, description, event types and active flag."""
    endpoint = _endpoint_or_404(db, endpoint_id)
    values = _form_values(await request.form())
    try:
        webhooks.update_endpoint(db, endpoint_id, **values)
    except ValidationFailed as exc:
        db.rollback()
        return _endpoint_page(request, db, endpoint, values, _errors(request, exc), status=422)
    users_service.audit(db, user, "updated", "webhook_endpoint", endpoint_id, channel="web")
    flash(request, N_("The endpoint was saved."))
    return RedirectResponse(f"/webhooks/{endpoint_id}", status_code=303)


@router.post("/webhooks/{endpoint_id:int}/toggle", response_class=Response)
def toggle_endpoint(request: Request, endpoint_id: int, db: DbSession, user: Admin) -> Response:
    """Disable an active endpoint (its events wait) or enable it again (they are sent)."""
    endpoint = _endpoint_or_404(db, endpoint_id)
    webhooks.update_endpoint(db, endpoint_id, is_active=not endpoint.is_active)
    users_service.audit(db, user, "updated", "webhook_endpoint", endpoint_id, channel="web")
    flash(
        request,
        N_("The endpoint is active.") if endpoint.is_active else N_("The endpoint is disabled."),
    )
    return RedirectResponse(f"/webhooks/{endpoint_id}", status_code=303)


@router.post("/webhooks/{endpoint_id:int}/rotate", response_class=Response)
def rotate_secret(request: Request, endpoint_id: int, db: DbSession, user: Admin) -> Response:
    """A new secret, shown this once."""
    _endpoint_or_404(db, endpoint_id)
    endpoint = webhooks.rotate_secret(db, endpoint_id)
    users_service.audit(db, user, "rotated_secret", "webhook_endpoint", endpoint_id, channel="web")
    return _secret_page(request, endpoint, rotated=True)


@router.get("/webhooks/deliveries", response_class=Response)
def deliveries_page(request: Request, db: DbSession, user: Admin) -> Response:
    """The delivery log, newest first, filtered by endpoint, status and event type."""
    q = request.query_params
    endpoint_id = int(q["endpoint"]) if q.get("endpoint", "").isdigit() else None
    status = q.get("status") if q.get("status") in webhooks.STATUSES else None
    event_type = q.get("event_type") if q.get("event_type") in EVENT_TYPES else None
    page_no = int(q["page"]) if q.get("page", "").isdigit() and int(q["page"]) > 0 else 1
    size = 50
    page = webhooks.list_deliveries(
        db,
        endpoint_id=endpoint_id,
        status=status,
        event_type=event_type,
        limit=size,
        offset=(page_no - 1) * size,
    )
    context = {
        "active": "webhooks",
        "deliveries": page.items,
        "total": page.total,
        "endpoints": {e.id: e for e in webhooks.list_endpoints(db)},
        "filters": {"endpoint": endpoint_id, "status": status, "event_type": event_type},
        "statuses": webhooks.STATUSES,
        "event_types": EVENT_TYPES,
        "page": page_no,
        "pages": max(1, -(-page.total // size)),
    }
    return render(request, "webhooks/deliveries.html", context)


@router.get("/webhooks/deliveries/{delivery_id:int}", response_class=Response)
def delivery_page(request: Request, delivery_id: int, db: DbSession, user: Admin) -> Response:
    """One delivery: the request body, every attempt and its answer, the redeliver button."""
    try:
        delivery = webhooks.get_delivery(db, delivery_id)
    except NotFound as exc:
        raise not_found() from exc
    context = {
        "active": "webhooks",
        "delivery": delivery,
        "endpoint": webhooks.get_endpoint(db, delivery.endpoint_id),
        "body": json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False),
        "attempts": webhooks.attempts(db, delivery_id),
    }
    return render(request, "webhooks/delivery.html", context)


@router.post("/webhooks/deliveries/{delivery_id:int}/redeliver", response_class=Response)
def redeliver(request: Request, delivery_id: int, db: DbSession, user: Admin) -> Response:
    """Queue the event again for its endpoint; show the new delivery."""
    try:
        new = webhooks.redeliver(db, delivery_id)
    except NotFound as exc:
        raise not_found() from exc
    users_service.audit(db, user, "redeliver", "webhook_delivery", delivery_id, channel="web")
    flash(request, N_("The event was queued again."))
    return RedirectResponse(f"/webhooks/deliveries/{new.id}", status_code=303)
