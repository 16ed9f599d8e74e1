"""Hook implementations of the automation domain: tasks and appointments follow a merge."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from closedloop.automation.models import Appointment, Task
from closedloop.hookspecs import hookimpl

_TABLES: dict[str, type[Task] | type[Appointment]] = {"tasks": Task, "appointments": Appointment}


@hookimpl
def person_merged(
    session: Session, golden_id: int, source_id: int, event: Any
) -> dict[str, Any] | None:
    """Move the source's tasks and appointments to the golden record, remembering which."""
    moved: dict[str, list[int]] = {}
    for name, model in _TABLES.items():
        ids = list(session.scalars(select(model.id).where(model.person_id == source_id)))
        if ids:
            session.execute(update(model).where(model.id.in_(ids)).values(person_id=golden_id))
            moved[name] = ids
    return {"automation": moved} if moved else None


@hookimpl
def person_unmerged(session: Session, golden_id: int, source_id: int, event: Any) -> None:
    """Give the source back exactly the tasks and appointments the merge moved."""
    moved = (event.moved or {}).get("automation") or {}
    for name, model in _TABLES.items():
        ids = moved.get(name) or []
        if ids:
            session.execute(update(model).where(model.id.in_(ids)).values(person_id=source_id))
