"""Webhook endpoints (create, edit, disable, rotate the secret, delete) and their delivery
log (filter, read with attempts, redeliver).

A secret (``whsec_`` and 43 random characters) is generated at creation and at each rotation
and shown once: the caller shows it, nothing else returns it. After a rotation the old
secret keeps signing for ``CLOSEDLOOP_WEBHOOK_SECRET_GRACE_HOURS``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.db.base import utcnow
from closedloop.errors import NotFound, ValidationFailed
from closedloop.interfaces import outbox, targets
from closedloop.interfaces.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from closedloop.interfaces.outbox import EVENT_TYPES
from closedloop.interfaces.settings import get_interfaces_settings

STATUSES = ("pending", "sending", "delivered", "failed")


def new_secret() -> str:
    """A fresh signing secret."""
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: str) -> str:
    """An http(s) URL with a host that is not an internal address (unless allowed:
    :mod:`closedloop.interfaces.targets`), or ValidationFailed."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise ValidationFailed(
            f"{url!r} is not a usable webhook URL: give an http:// or https:// address with a "
            "host (at most 2,000 characters).",
            errors=[{"field": "url", "message": "an http(s) URL with a host"}],
        )
    targets.check_on_save(url)
    return url


def check_events(event_types: list[str]) -> list[str]:
    """The event types, known and without repeats, or ValidationFailed."""
    wanted = list(dict.fromkeys(t.strip() for t in event_types if t and t.strip()))
    unknown = [t for t in wanted if t not in EVENT_TYPES]
    if unknown or not wanted:
        what = f"unknown event type(s) {', '.join(unknown)}" if unknown else "no event type"
        raise ValidationFailed(
            f"{what}; choose among {', '.join(EVENT_TYPES)}.",
            errors=[{"field": "event_types", "message": what}],
        )
    return wanted


def _changed(session: Session) -> None:
    outbox.clear_cache()
    from sqlalchemy import event

    event.listen(session, "after_commit", lambda _s: outbox.clear_cache(), once=True)


def create_endpoint(
    session: Session,
    url: str,
    event_types: list[str],
    *,
    description: str | None = None,
    is_active: bool = True,
    created_by: str | None = None,
) -> WebhookEndpoint:
    """Add an endpoint; its ``secret`` is readable on the returned object (show it once)."""
    endpoint = WebhookEndpoint(
        url=check_url(url),
        event_types=check_events(event_types),
        description=(description or "").strip()[:500] or None,
        is_active=is_active,
        secret=new_secret(),
        created_by=created_by,
    )
    session.add(endpoint)
    session.flush()
    _changed(session)
    return endpoint


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """The endpoint ``endpoint_id``, or NotFound."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.")
    return endpoint


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def update_endpoint(session: Session, endpoint_id: int, **changes: Any) -> WebhookEndpoint:
    """Change ``url``, ``event_types``, ``description`` or ``is_active`` (None: unchanged).
    Re-enabling an endpoint sends what waited meanwhile."""
    endpoint = get_endpoint(session, endpoint_id)
    if changes.get("url") is not None:
        endpoint.url = check_url(changes["url"])
    if changes.get("event_types") is not None:
        endpoint.event_types = check_events(list(changes["event_types"]))
    if changes.get("description") is not None:
        endpoint.description = changes["description"].strip()[:500] or None
    if changes.get("is_active") is not None:
        woke = bool(changes["is_active"]) and not endpoint.is_active
        endpoint.is_active = bool(changes["is_active"])
        if woke:
            outbox.schedule(session, [endpoint.id])
    endpoint.updated_at = utcnow()
    session.flush()
    _changed(session)
    return endpoint


def rotate_secret(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """A new secret (returned on the endpoint, shown once); the old one keeps signing for
    the grace period."""
    endpoint = get_endpoint(session, endpoint_id)
    grace = timedelta(hours=get_interfaces_settings().webhook_secret_grace_hours)
    endpoint.previous_secret = endpoint.secret if grace else None
    endpoint.previous_secret_expires_at = utcnow() + grace if grace else None
    endpoint.secret = new_secret()
    endpoint.updated_at = utcnow()
    session.flush()
    return endpoint


def delete_endpoint(session: Session, endpoint_id: int) -> None:
    """Remove an endpoint with its delivery log."""
    session.delete(get_endpoint(session, endpoint_id))
    session.flush()
    _changed(session)


@dataclass
class DeliveryPage:
    """A page of the delivery log, newest first, and how many match."""

    items: list[WebhookDelivery]
    total: int


def list_deliveries(
    session: Session,
    *,
    endpoint_id: int | None = None,
    status: str | None = None,
    event_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> DeliveryPage:
    """The delivery log filtered by endpoint, status and event type."""
    if status and status not in STATUSES:
        raise ValidationFailed(
            f"Unknown status {status!r}; use {', '.join(STATUSES)}.",
            errors=[{"field": "status", "message": "unknown status", "in": "query"}],
        )
    where = []
    if endpoint_id is not None:
        where.append(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        where.append(WebhookDelivery.status == status)
    if event_type:
        where.append(WebhookDelivery.event_type == event_type)
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(*where)) or 0
    items = session.scalars(
        select(WebhookDelivery)
        .where(*where)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return DeliveryPage(list(items), int(total))


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery:
    """The delivery ``delivery_id``, or NotFound."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} does not exist.")
    return delivery


def attempts(session: Session, delivery_id: int) -> list[WebhookAttempt]:
    """Every attempt of a delivery, first first."""
    stmt = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
    return list(session.scalars(stmt.order_by(WebhookAttempt.attempt_no, WebhookAttempt.id)))


def redeliver(session: Session, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again: a new delivery of the same event (same id and body, so the
    receiver can recognise it) with a fresh attempt budget, queued now."""
    old = get_delivery(session, delivery_id)
    now = utcnow()
    new = WebhookDelivery(
        endpoint_id=old.endpoint_id,
        event_id=old.event_id,
        event_type=old.event_type,
        occurred_at=old.occurred_at,
        body=old.body,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(new)
    session.flush()
    outbox.schedule(session, [old.endpoint_id])
    return new
