"""``/api/v1/sync``: single and batch upserts of persons, orders and events from an ERP or a
web shop, with idempotency keys.

The body is one JSON object or ``{"items": [...]}`` (at most ``CLOSEDLOOP_SYNC_MAX_ITEMS``,
1,000 by default; bodies up to ``CLOSEDLOOP_SYNC_MAX_BODY_BYTES``, 10 MiB: more is a 413
problem). Records are upserted by (``source``, ``external_id``). A batch answers 200 with one
result per item (created, updated, unchanged or rejected with its errors); a single object
answers 201 (created), 200 (updated or unchanged) or a 422 problem naming each field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from closedloop.api.auth import PersonsWriter
from closedloop.api.problems import PROBLEM_JSON, PROBLEM_TYPES, TYPE_BASE, problem_responses
from closedloop.bootstrap import get_session_factory
from closedloop.deps import DbSession
from closedloop.ingest import ORDER_LINES, ORDERS, PERSONS
from closedloop.interfaces import idempotency
from closedloop.interfaces.errors import PayloadTooLarge
from closedloop.interfaces.events import FIELDS as EVENT_FIELDS
from closedloop.interfaces.events import sync_events
from closedloop.interfaces.items import parse_body
from closedloop.interfaces.settings import get_interfaces_settings
from closedloop.interfaces.sync import SyncResult, sync_orders, sync_persons
from closedloop.users.models import User
from closedloop.users.service import audit

router = APIRouter(prefix="/sync", tags=["sync"])


async def raw_body(request: Request) -> bytes:
    """The request body, refused (413) as soon as it is over the limit."""
    limit = get_interfaces_settings().sync_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body has {int(declared):,} bytes; at most {limit:,}.")
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is over {limit:,} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


RawBody = Annotated[bytes, Depends(raw_body)]
Source = Annotated[
    str,
    Query(
        min_length=1,
        max_length=64,
        description="The sending system (erp, webshop…): "
        "records are upserted by (source, external_id).",
    ),
]
IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A unique value (a UUID) per logical request: "
        "a retry with the same key and body replays the first response.",
    ),
]


class ItemError(BaseModel):
    """One problem of one item: the item's index, the field (``lines[1].sku``) and why."""

    index: int
    field: str | None
    reason: str
    value: str | None = None


class ItemPublic(BaseModel):
    """The result of one item."""

    index: int
    status: str = Field(description="created, updated, unchanged or rejected")
    external_id: str | None
    id: int | None = Field(description="The stored record's id (none when rejected).")
    errors: list[ItemError] = []
    warnings: list[ItemError] = Field(
        [], description="Values left out of a kept item (an invalid phone, an impossible date)."
    )


class SyncPublic(BaseModel):
    """The result of a sync request: its import batch, the counts and every item."""

    kind: str
    source: str
    batch_id: int | None = Field(
        description="The import batch (rollback: POST /api/v1/imports/{batch_id}/rollback)."
    )
    counts: dict[str, int] = Field(
        description="rows, new, updated, unchanged, rejected, and kept_with_warnings "
        "(items stored without one or more of their values)"
    )
    items: list[ItemPublic]


def _body_doc(title: str, fields: tuple[Any, ...], extra: dict[str, Any] | None = None) -> Any:
    props: dict[str, Any] = {
        f.name: {"type": ["string", "number", "boolean", "null"], "description": f.help}
        for f in fields
    }
    props.update(extra or {})
    item = {"type": "object", "title": title, "properties": props, "additionalProperties": False}
    batch = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": item, "maxItems": 1000}},
        "required": ["items"],
    }
    schema = {"oneOf": [item, batch]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _handle(
    request: Request,
    db: Session,
    user: User,
    body: bytes,
    source: str,
    key: str | None,
    run: Callable[..., SyncResult],
) -> Response:
    """Parse, check the idempotency key, run, store the response with the writes."""
    items, single = parse_body(body, get_interfaces_settings().sync_max_items)
    factory = get_session_factory()
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    key_id: int | None = None
    if key is not None:
        got = idempotency.begin(
            factory,
            f"user:{user.id}",
            key,
            request.method,
            target,
            idempotency.fingerprint(request.method, target, body),
        )
        if isinstance(got, idempotency.StoredResponse):
            media = PROBLEM_JSON if got.status >= 400 else "application/json"
            headers = {"Idempotent-Replayed": "true", "Idempotency-Key": key}
            return Response(got.body, status_code=got.status, media_type=media, headers=headers)
        key_id = got
    try:
        result = run(db, items, source=source, user=user.username)
        audit(
            db,
            user,
            "sync",
            "import_batch",
            result.batch_id,
            channel="api",
            detail={"kind": result.kind, "counts": result.counts},
        )
        status, content, media = _answer(request, result, single)
        text = json.dumps(content, separators=(",", ":"), default=str)
        if key_id is not None:
            idempotency.finish(db, key_id, status, text)
        db.commit()
    except BaseException:
        db.rollback()
        if key_id is not None:
            idempotency.release(factory, key_id)
        raise
    extra = {"Idempotency-Key": key} if key else None
    return Response(text, status_code=status, media_type=media, headers=extra)


def _answer(request: Request, result: SyncResult, single: bool) -> tuple[int, Any, str]:
    data = SyncPublic.model_validate(result.as_dict()).model_dump(mode="json")
    if not single:
        return 200, data, "application/json"
    item = result.items[0]
    if item.status != "rejected":
        return (201 if item.status == "created" else 200), data, "application/json"
    errors = [{"field": e.get("field") or "body", "message": e["reason"]} for e in item.errors]
    names = ", ".join(dict.fromkeys(e["field"] for e in errors))
    problem = {
        "type": TYPE_BASE + "validation-failed",
        "title": PROBLEM_TYPES["validation-failed"][1],
        "status": 422,
        "detail": f"The {result.kind[:-1]} was not stored: {names} not valid.",
        "instance": request.url.path,
        "errors": errors,
    }
    return 422, problem, PROBLEM_JSON


_RESPONSES = {200: {"model": SyncPublic}, **problem_responses(400, 401, 403, 409, 413, 415, 422)}


@router.post(
    "/persons",
    response_model=SyncPublic,
    responses=_RESPONSES,
    openapi_extra=_body_doc("PersonItem", PERSONS.fields),
)
def sync_persons_route(
    request: Request,
    db: DbSession,
    user: PersonsWriter,
    body: RawBody,
    source: Source = "api",
    idempotency_key: IdempotencyHeader = None,
) -> Response:
    """Upsert persons by (source, external_id): names, email, phones, address.

    Values are validated and standardised as in a file import (email syntax and typos,
    phones to E.164, dates, postal check and completion). A null or missing field leaves the
    stored value alone. Persons created or changed reach identity resolution and the
    `person.created` / `person.updated` webhooks.
    """
    return _handle(request, db, user, body, source, idempotency_key, sync_persons)


@router.post(
    "/orders",
    response_model=SyncPublic,
    responses=_RESPONSES,
    openapi_extra=_body_doc(
        "OrderItem",
        ORDERS.fields,
        {
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        f.name: {"description": f.help}
                        for f in ORDER_LINES.fields
                        if f.name != "order_external_id"
                    },
                },
            }
        },
    ),
)
def sync_orders_route(
    request: Request,
    db: DbSession,
    user: PersonsWriter,
    body: RawBody,
    source: Source = "api",
    idempotency_key: IdempotencyHeader = None,
) -> Response:
    """Upsert orders with their lines by (source, external_id).

    The buyer is `person_external_id` (a person of the same source; sync persons first);
    each line names its product by `sku` or `product_external_id`. An order naming an
    unknown person or product is rejected whole (nothing of it is written). An order sent
    with `lines` is the whole order: its stored lines no longer sent are removed (`[]`
    removes them all); without `lines` its lines stay as they are.
    """
    return _handle(request, db, user, body, source, idempotency_key, sync_orders)


@router.post(
    "/events",
    response_model=SyncPublic,
    responses=_RESPONSES,
    openapi_extra=_body_doc("EventItem", EVENT_FIELDS, {"detail": {"type": "object"}}),
)
def sync_events_route(
    request: Request,
    db: DbSession,
    user: PersonsWriter,
    body: RawBody,
    source: Source = "api",
    idempotency_key: IdempotencyHeader = None,
) -> Response:
    """Upsert behaviour events (page_view, product_view, search, cart_add, cart_remove,
    cart_abandoned, checkout, purchase, store_visit, signup, login, other) by (source,
    external_id). `person_external_id` is optional (anonymous visitors). A purchase or a
    store visit of a known person is a response: it is announced once to the
    `response.recorded` webhooks."""
    return _handle(request, db, user, body, source, idempotency_key, sync_events)
