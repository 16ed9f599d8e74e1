"""``/api/v1/responses``: reactions to campaigns — read them, record call outcomes (the
agents' desk) and event answers, and take the SMS provider's callbacks (public, with the
shared secret in the path)."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel

from closedloop.access import PUBLIC
from closedloop.api.auth import PersonsReader, requires
from closedloop.api.params import IdFilter, Offset
from closedloop.api.problems import problem_responses
from closedloop.deps import DbSession
from closedloop.errors import NotFound, ValidationFailed
from closedloop.responses import desk, sms
from closedloop.responses.queries import ResponsePublic, list_responses
from closedloop.responses.settings import get_response_settings
from closedloop.users.models import User
from closedloop.users.permissions import Permission
from closedloop.vocab import ResponseKind

router = APIRouter(prefix="/responses", tags=["responses"])
Writer = Annotated[User, Depends(requires(Permission.PERSONS_WRITE))]


class ResponsePage(BaseModel):
    """One page of responses, newest first."""

    items: list[ResponsePublic]
    total: int
    limit: int
    offset: int


class CallbackPublic(BaseModel):
    """What an SMS callback was (delivery, stop, reply, ignored) and did."""

    kind: str
    status: str | None
    withdrawn: int
    applied: int


@router.get("", response_model=ResponsePage, responses=problem_responses(401, 403, 422))
def responses_list(
    db: DbSession,
    user: PersonsReader,
    person_id: IdFilter = None,
    campaign_id: IdFilter = None,
    kind: Annotated[ResponseKind | None, Query(description="Only this kind.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    offset: Offset = 0,
) -> ResponsePage:
    """Responses (opens, clicks, bounces, replies, calls, answers…), newest first."""
    rows, total = list_responses(
        db,
        person_id=person_id,
        campaign_id=campaign_id,
        kind=kind.value if kind else None,
        limit=limit,
        offset=offset,
    )
    items = [ResponsePublic.model_validate(r) for r in rows]
    return ResponsePage(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/calls",
    response_model=ResponsePublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
def record_call(db: DbSession, user: Writer, body: desk.CallCreate) -> ResponsePublic:
    """Record a call's outcome from the agents' desk (``do_not_call`` withdraws phone
    consent at once)."""
    response = desk.record_call(db, body, agent=user.username)
    return ResponsePublic.model_validate(response)


@router.post(
    "/rsvps",
    response_model=ResponsePublic,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
def record_rsvp(db: DbSession, user: Writer, body: desk.RsvpCreate) -> ResponsePublic:
    """Record an answer to an event invitation (yes, no, maybe) or attendance."""
    return ResponsePublic.model_validate(desk.record_rsvp(db, body))


async def _payload(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "")
    raw = await request.body()
    if "json" in kind:
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise ValidationFailed(
                "The callback's body is not JSON.", errors=[{"field": "body", "message": str(exc)}]
            ) from exc
        if not isinstance(data, dict):
            raise ValidationFailed(
                "The callback's body is not an object.",
                errors=[{"field": "body", "message": "expected a JSON object"}],
            )
        return data
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post(
    "/sms/{token}",
    response_model=CallbackPublic,
    dependencies=[PUBLIC],
    responses=problem_responses(404, 422),
)
async def sms_callback(
    request: Request,
    db: DbSession,
    token: Annotated[str, Path(max_length=200, description="The shared callback secret.")],
) -> CallbackPublic:
    """The SMS provider's callback: a delivery report, or a reply (STOP withdraws SMS consent
    at once). Configure the provider with ``{base}/api/v1/responses/sms/<secret>`` where the
    secret is ``CLOSEDLOOP_SMS_CALLBACK_TOKEN``; any other address is 404."""
    secret = get_response_settings().sms_callback_token
    if not secret or not hmac.compare_digest(token.encode(), secret.encode()):
        raise NotFound("No such callback.")
    data = await _payload(request)
    done = sms.handle_callback(db, data)
    return CallbackPublic(
        kind=done.kind, status=done.status, withdrawn=done.withdrawn, applied=done.applied
    )
