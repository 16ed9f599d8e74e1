"""Hook implementations of the transactions domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from closedloop.hookspecs import hookimpl
from closedloop.transactions.models import Order


@hookimpl
def person_delete_blockers(session: Session, person_id: int) -> str | None:
    """A person with orders keeps their purchase history: refuse the delete."""
    count = session.scalar(select(func.count()).where(Order.person_id == person_id))
    return f"has {count} order(s)" if count else None


@hookimpl
def person_merged(
    session: Session, golden_id: int, source_id: int, event: Any
) -> dict[str, Any] | None:
    """The source's orders become the golden record's purchase history."""
    ids = list(session.scalars(select(Order.id).where(Order.person_id == source_id)))
    if not ids:
        return None
    session.execute(update(Order).where(Order.id.in_(ids)).values(person_id=golden_id))
    return {"transactions": {"orders": ids}}


@hookimpl
def person_unmerged(session: Session, golden_id: int, source_id: int, event: Any) -> None:
    """Give the source back the orders the merge moved."""
    moved = (event.moved or {}).get("transactions")
    if moved and moved["orders"]:
        session.execute(
            update(Order).where(Order.id.in_(moved["orders"])).values(person_id=source_id)
        )
