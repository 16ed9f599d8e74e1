"""Hook implementations of the responses domain: reactions and survey answers follow a merge."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from closedloop.hookspecs import hookimpl
from closedloop.responses.models import Answer, Response


@hookimpl
def person_merged(
    session: Session, golden_id: int, source_id: int, event: Any
) -> dict[str, Any] | None:
    """The source's responses and survey answers become the golden record's."""
    responses = list(session.scalars(select(Response.id).where(Response.person_id == source_id)))
    answers = list(session.scalars(select(Answer.id).where(Answer.person_id == source_id)))
    if not (responses or answers):
        return None
    if responses:
        session.execute(
            update(Response).where(Response.id.in_(responses)).values(person_id=golden_id)
        )
    if answers:
        session.execute(update(Answer).where(Answer.id.in_(answers)).values(person_id=golden_id))
    return {"responses": {"responses": responses, "answers": answers}}


@hookimpl
def person_unmerged(session: Session, golden_id: int, source_id: int, event: Any) -> None:
    """Give the source back the responses and answers the merge moved."""
    moved = (event.moved or {}).get("responses")
    if not moved:
        return
    if moved["responses"]:
        session.execute(
            update(Response).where(Response.id.in_(moved["responses"])).values(person_id=source_id)
        )
    if moved["answers"]:
        session.execute(
            update(Answer).where(Answer.id.in_(moved["answers"])).values(person_id=source_id)
        )
