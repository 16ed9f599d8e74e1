"""Contact planning by staff: tasks and appointments about a person (M16's card)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from closedloop.automation.models import Appointment, Task
from closedloop.contacts.models import Person
from closedloop.errors import NotFound, ValidationFailed
from closedloop.vocab import TaskStatus

#: The kinds of task staff can create.
TASK_KINDS = ("call", "email", "letter", "visit", "follow_up")


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"Person {person_id} does not exist.")
    return person


def create_task(
    session: Session,
    person_id: int,
    *,
    kind: str,
    title: str,
    due_at: datetime | None = None,
    assignee_id: int | None = None,
) -> Task:
    """Add an open task about a person (a call to make, a letter to send…)."""
    _person(session, person_id)
    errors = []
    if kind not in TASK_KINDS:
        errors.append({"field": "kind", "message": f"use one of {', '.join(TASK_KINDS)}"})
    if not title.strip():
        errors.append({"field": "title", "message": "say what is to be done"})
    if errors:
        raise ValidationFailed("The task is not valid.", errors=errors)
    task = Task(
        person_id=person_id,
        kind=kind,
        title=title.strip()[:300],
        due_at=due_at,
        assignee_id=assignee_id,
        status=TaskStatus.OPEN.value,
    )
    session.add(task)
    session.flush()
    return task


def create_appointment(
    session: Session,
    person_id: int,
    *,
    subject: str,
    starts_at: datetime | None,
    location: str | None = None,
    user_id: int | None = None,
) -> Appointment:
    """Add an appointment with a person (a meeting, a visit, an event slot)."""
    _person(session, person_id)
    errors = []
    if not subject.strip():
        errors.append({"field": "subject", "message": "say what the appointment is about"})
    if starts_at is None:
        errors.append({"field": "starts_at", "message": "give the day and time it starts"})
    if errors or starts_at is None:
        raise ValidationFailed("The appointment is not valid.", errors=errors)
    appointment = Appointment(
        person_id=person_id,
        subject=subject.strip()[:300],
        starts_at=starts_at,
        location=(location or "").strip()[:300] or None,
        user_id=user_id,
    )
    session.add(appointment)
    session.flush()
    return appointment


__all__ = ["TASK_KINDS", "create_appointment", "create_task"]
