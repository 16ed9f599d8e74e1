"""Hook implementations of the transactions domain."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.hookspecs import hookimpl
from closedloop.transactions.models import Order


@hookimpl
def person_delete_blockers(session: Session, person_id: int) -> str | None:
    """A person with orders keeps their purchase history: refuse the delete."""
    count = session.scalar(select(func.count()).where(Order.person_id == person_id))
    return f"has {count} order(s)" if count else None
