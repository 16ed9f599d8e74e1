"""``/api/v1/webhooks``: webhook endpoints (create, read, change, rotate the secret, delete)
and the delivery log (list with filters, read with attempts, redeliver). Admins only.

The secret is in the answer of the creation and of each rotation, and nowhere else: keep
it. Events: ``person.created``, ``person.updated``, ``person.merged``, ``person.unmerged``,
``consent.changed``, ``response.recorded``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from closedloop.api.auth import JOB_QUOTA, requires
from closedloop.api.params import Id, IdFilter, Offset
from closedloop.api.problems import problem_responses
from closedloop.api.schemas import UtcDatetime
from closedloop.deps import DbSession
from closedloop.interfaces import webhooks
from closedloop.interfaces.models import WebhookDelivery, WebhookEndpoint
from closedloop.interfaces.outbox import EVENT_TYPES
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.users.service import audit

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Admin = Annotated[User, Depends(requires(Permission.USERS_MANAGE))]


class EndpointCreate(BaseModel):
    """A new endpoint."""

    url: str = Field(max_length=2000, description="http(s) URL receiving the POSTs.")
    event_types: list[str] = Field(description="Among: " + ", ".join(EVENT_TYPES) + ".")
    description: str | None = Field(None, max_length=500)
    is_active: bool = True


class EndpointPatch(BaseModel):
    """Changes to an endpoint (absent fields stay as they are)."""

    url: str | None = Field(None, max_length=2000)
    event_types: list[str] | None = None
    description: str | None = Field(None, max_length=500)
    is_active: bool | None = None


class EndpointPublic(BaseModel):
    """An endpoint (without its secret)."""

    id: int
    url: str
    event_types: list[str]
    description: str | None
    is_active: bool
    created_by: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime | None


class EndpointWithSecret(EndpointPublic):
    """An endpoint just created or whose secret was just rotated: the secret is shown once."""

    secret: str = Field(description="The signing secret. Shown once: store it now.")


class AttemptPublic(BaseModel):
    """One POST of a delivery."""

    attempt_no: int
    started_at: UtcDatetime
    duration_ms: int
    status_code: int | None
    response_excerpt: str | None = Field(
        description="The start of the answer's body; null for an internal target "
        "(CLOSEDLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS), whose body is never logged."
    )
    response_size: int | None = Field(description="Bytes of the answer's body.")
    error: str | None
    succeeded: bool


class DeliveryPublic(BaseModel):
    """One event for one endpoint and where its sending stands."""

    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    occurred_at: UtcDatetime
    status: str = Field(description="pending, sending, delivered or failed")
    attempts: int
    next_attempt_at: UtcDatetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: UtcDatetime | None
    created_at: UtcDatetime


class DeliveryDetail(DeliveryPublic):
    """A delivery with the body sent and every attempt."""

    body: Any
    attempt_log: list[AttemptPublic]


class DeliveryPage(BaseModel):
    """A page of the delivery log, newest first."""

    items: list[DeliveryPublic]
    total: int
    limit: int
    offset: int


def _endpoint(e: WebhookEndpoint, *, secret: bool = False) -> EndpointPublic:
    model = EndpointWithSecret if secret else EndpointPublic
    return model.model_validate(e, from_attributes=True)


def _detail(db: DbSession, d: WebhookDelivery) -> DeliveryDetail:
    data = DeliveryPublic.model_validate(d, from_attributes=True).model_dump()
    attempts = [
        AttemptPublic.model_validate(a, from_attributes=True) for a in webhooks.attempts(db, d.id)
    ]
    return DeliveryDetail(**data, body=json.loads(d.body), attempt_log=attempts)


@router.get("/event-types", response_model=list[str], responses=problem_responses(401, 403))
def list_event_types(user: Admin) -> list[str]:
    """The event types an endpoint can subscribe to."""
    return list(EVENT_TYPES)


@router.get("/deliveries", response_model=DeliveryPage, responses=problem_responses(401, 403, 422))
def list_deliveries(
    db: DbSession,
    user: Admin,
    endpoint_id: IdFilter = None,
    status_: Annotated[
        str | None, Query(alias="status", description="pending, sending, delivered or failed")
    ] = None,
    event_type: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> DeliveryPage:
    """The delivery log, newest first, filtered by endpoint, status and event type."""
    page = webhooks.list_deliveries(
        db,
        endpoint_id=endpoint_id,
        status=status_,
        event_type=event_type,
        limit=limit,
        offset=offset,
    )
    items = [DeliveryPublic.model_validate(d, from_attributes=True) for d in page.items]
    return DeliveryPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    responses=problem_responses(401, 403, 404, 422),
)
def get_delivery(delivery_id: Id, db: DbSession, user: Admin) -> DeliveryDetail:
    """One delivery: the body sent and every attempt (status, response excerpt, duration)."""
    return _detail(db, webhooks.get_delivery(db, delivery_id))


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    dependencies=[JOB_QUOTA],
    response_model=DeliveryPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 422, 429),
)
def redeliver(delivery_id: Id, db: DbSession, user: Admin) -> DeliveryPublic:
    """Send the event again now (a new delivery with the same event id and body)."""
    new = webhooks.redeliver(db, delivery_id)
    audit(db, user, "redeliver", "webhook_delivery", delivery_id, channel="api")
    return DeliveryPublic.model_validate(new, from_attributes=True)


@router.get("", response_model=list[EndpointPublic], responses=problem_responses(401, 403))
def list_endpoints(db: DbSession, user: Admin) -> list[EndpointPublic]:
    """Every webhook endpoint."""
    return [_endpoint(e) for e in webhooks.list_endpoints(db)]


@router.post(
    "",
    response_model=EndpointWithSecret,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
def create_endpoint(data: EndpointCreate, db: DbSession, user: Admin) -> EndpointPublic:
    """Add an endpoint; the answer holds its secret, shown this once."""
    endpoint = webhooks.create_endpoint(
        db,
        data.url,
        data.event_types,
        description=data.description,
        is_active=data.is_active,
        created_by=user.username,
    )
    audit(db, user, "created", "webhook_endpoint", endpoint.id, channel="api")
    return _endpoint(endpoint, secret=True)


@router.get(
    "/{endpoint_id}", response_model=EndpointPublic, responses=problem_responses(401, 403, 404, 422)
)
def get_endpoint(endpoint_id: Id, db: DbSession, user: Admin) -> EndpointPublic:
    """One endpoint (without its secret)."""
    return _endpoint(webhooks.get_endpoint(db, endpoint_id))


@router.patch(
    "/{endpoint_id}", response_model=EndpointPublic, responses=problem_responses(401, 403, 404, 422)
)
def update_endpoint(
    endpoint_id: Id, data: EndpointPatch, db: DbSession, user: Admin
) -> EndpointPublic:
    """Change the URL, the event types, the description, or disable / enable it."""
    endpoint = webhooks.update_endpoint(db, endpoint_id, **data.model_dump(exclude_unset=True))
    audit(db, user, "updated", "webhook_endpoint", endpoint_id, channel="api")
    return _endpoint(endpoint)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    responses=problem_responses(401, 403, 404, 422),
)
def rotate_secret(endpoint_id: Id, db: DbSession, user: Admin) -> EndpointPublic:
    """A new secret, shown once; the old one also signs for the grace period (24 h)."""
    endpoint = webhooks.rotate_secret(db, endpoint_id)
    audit(db, user, "rotated_secret", "webhook_endpoint", endpoint_id, channel="api")
    return _endpoint(endpoint, secret=True)


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
def delete_endpoint(endpoint_id: Id, db: DbSession, user: Admin) -> Response:
    """Remove an endpoint and its delivery log."""
    webhooks.delete_endpoint(db, endpoint_id)
    audit(db, user, "deleted", "webhook_endpoint", endpoint_id, channel="api")
    return Response(status_code=204)
