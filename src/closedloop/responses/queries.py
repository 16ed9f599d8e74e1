"""Read responses: a page of them (newest first), and the public shape they leave in."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.db.types import UtcDatetime
from closedloop.responses.models import Response


class ResponsePublic(BaseModel):
    """A response as the API and the command line show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int | None
    kind: str
    occurred_at: UtcDatetime
    last_at: UtcDatetime | None
    hits: int
    machine: str | None
    campaign_id: int | None
    wave_id: int | None
    cell_id: int | None
    communication_id: int | None
    amount: Decimal | None
    detail: dict[str, Any] | None
    source_system: str | None


def list_responses(
    session: Session,
    *,
    person_id: int | None = None,
    campaign_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Response], int]:
    """Responses matching the filters, newest first, and how many match."""
    stmt = select(Response)
    if person_id is not None:
        stmt = stmt.where(Response.person_id == person_id)
    if campaign_id is not None:
        stmt = stmt.where(Response.campaign_id == campaign_id)
    if kind:
        stmt = stmt.where(Response.kind == kind)
    if since is not None:
        stmt = stmt.where(Response.occurred_at >= since)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Response.occurred_at.desc(), Response.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), int(total)
