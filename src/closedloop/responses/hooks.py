"""Hook implementations of the responses domain: reactions and survey answers follow a merge;
an unsubscribe (the email's one-click link, a STOP reply) is a response of the last message
of that channel the person got."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Communication
from closedloop.hookspecs import hookimpl
from closedloop.responses.capture import Reaction, record
from closedloop.responses.models import Answer, Response
from closedloop.vocab import ConsentMethod, ConsentState, ResponseKind

#: consent withdrawals that answer a message (the preference centre's do not)
_UNSUBSCRIBES = {ConsentMethod.UNSUBSCRIBE_LINK.value}


@hookimpl
def consent_changed(session: Session, person_id: int, event: Any) -> None:
    """A withdrawal by a message's unsubscribe link is an ``unsubscribe`` response of the
    person's last message on that channel (one per message, however many purposes)."""
    if event.state != ConsentState.WITHDRAWN.value or event.method not in _UNSUBSCRIBES:
        return
    if event.source_system != "preference_centre":
        return  # an imported or synced history of withdrawals answers none of our messages
    last = session.scalar(
        select(Communication.id)
        .where(Communication.person_id == person_id, Communication.channel == event.channel)
        .order_by(Communication.sent_at.desc().nulls_last(), Communication.id.desc())
        .limit(1)
    )
    reaction = Reaction(
        kind=ResponseKind.UNSUBSCRIBE.value,
        occurred_at=event.occurred_at,
        communication_id=last,
        person_id=None if last else person_id,
        dedupe=f"unsubscribe:{event.channel}",
        detail={"channel": event.channel, "method": event.method},
        source_system="consent",
    )
    record(session, [reaction])


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
