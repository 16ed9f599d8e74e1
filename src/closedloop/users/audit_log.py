"""The audit trail, searched: who saw, exported or changed which record, when (M20)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.users.models import AuditEvent, User


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; every part is optional (an empty filter lists everything)."""

    username: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditRow:
    """One event with the name of who did it."""

    id: int
    at: datetime
    username: str | None
    action: str
    entity: str
    entity_id: str | None
    channel: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class AuditPage:
    """A page of events, newest first, and how many match."""

    items: list[AuditRow]
    total: int


def _where(wanted: AuditFilter) -> list[Any]:
    where: list[Any] = []
    if wanted.username:
        where.append(User.username == wanted.username)
    if wanted.action:
        where.append(AuditEvent.action == wanted.action)
    if wanted.entity:
        where.append(AuditEvent.entity == wanted.entity)
    if wanted.entity_id:
        where.append(AuditEvent.entity_id == wanted.entity_id)
    if wanted.since:
        where.append(AuditEvent.at >= wanted.since)
    if wanted.until:
        where.append(AuditEvent.at < wanted.until)
    return where


def search(session: Session, wanted: AuditFilter, *, limit: int = 50, offset: int = 0) -> AuditPage:
    """The events matching ``wanted``, newest first (``limit`` from ``offset``)."""
    where = _where(wanted)
    base = select(AuditEvent, User.username).outerjoin(User, User.id == AuditEvent.user_id)
    total = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(*where)
    )
    rows = session.execute(
        base.where(*where)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = [
        AuditRow(e.id, e.at, name, e.action, e.entity, e.entity_id, e.channel, e.detail)
        for e, name in rows
    ]
    return AuditPage(items, int(total or 0))


def choices(session: Session) -> dict[str, list[str]]:
    """The actions and entities found in the trail (for the filter's lists)."""
    actions = session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    entities = session.scalars(select(AuditEvent.entity).distinct().order_by(AuditEvent.entity))
    return {"actions": list(actions), "entities": list(entities)}
