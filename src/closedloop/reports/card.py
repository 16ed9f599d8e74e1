"""The person card (M16): every data group of one person, assembled in a few indexed queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from closedloop.automation.models import Appointment, Task
from closedloop.campaigns.models import Campaign, Communication
from closedloop.consent.models import ConsentCurrent, ConsentEvent, Suppression
from closedloop.consent.service import consent_history, current_consents, suppressions_for
from closedloop.contacts.models import (
    AttributeChoice,
    AttributeDefinition,
    AttributeValue,
    Household,
    Organisation,
    Person,
    Relationship,
)
from closedloop.contacts.service import get_person
from closedloop.responses.models import Response
from closedloop.scoring.models import PersonScore, ScoreRun
from closedloop.transactions.models import Order, OrderLine


@dataclass
class RelationshipView:
    """A relationship as the card shows it: its kind and whom or what it points to."""

    kind: str
    role: str | None
    target_kind: str
    target_id: int
    target_name: str
    direction: str


@dataclass
class AttributeView:
    """One attribute of the catalogue with the person's value(s), ready to display."""

    code: str
    labels: dict[str, str]
    group: str
    type: str
    values: list[Any]


@dataclass
class OrderSummary:
    """Totals over all of the person's orders."""

    count: int = 0
    revenue: Decimal = Decimal("0")
    currencies: list[str] = field(default_factory=list)
    first_at: Any = None
    last_at: Any = None


@dataclass
class PersonCard:
    """Everything the card shows, grouped as the record's data groups (seed 002)."""

    person: Person
    relationships: list[RelationshipView]
    households: list[Household]
    attributes: list[AttributeView]
    consents: list[ConsentCurrent]
    consent_history: list[ConsentEvent]
    suppressions: list[Suppression]
    orders: list[Order]
    order_summary: OrderSummary
    communications: list[tuple[Communication, str]]
    responses: list[tuple[Response, str]]
    scores: list[tuple[PersonScore, ScoreRun]]
    tasks: list[Task]
    appointments: list[Appointment]


def _relationships(
    session: Session, person_id: int
) -> tuple[list[RelationshipView], list[Household]]:
    rels = list(
        session.scalars(
            select(Relationship).where(
                or_(
                    Relationship.person_id == person_id, Relationship.related_person_id == person_id
                )
            )
        )
    )
    person_ids = {r.person_id for r in rels} | {
        r.related_person_id for r in rels if r.related_person_id
    }
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))}
    orgs = {
        o.id: o
        for o in session.scalars(
            select(Organisation).where(Organisation.id.in_({r.organisation_id for r in rels}))
        )
    }
    households = {
        h.id: h
        for h in session.scalars(
            select(Household).where(Household.id.in_({r.household_id for r in rels}))
        )
    }
    views: list[RelationshipView] = []
    for r in rels:
        outgoing = r.person_id == person_id
        if r.household_id is not None:
            views.append(
                RelationshipView(
                    r.kind,
                    r.role,
                    "household",
                    r.household_id,
                    households[r.household_id].name,
                    "out",
                )
            )
        elif r.organisation_id is not None:
            views.append(
                RelationshipView(
                    r.kind,
                    r.role,
                    "organisation",
                    r.organisation_id,
                    orgs[r.organisation_id].name,
                    "out",
                )
            )
        else:
            other_id = r.related_person_id if outgoing else r.person_id
            assert other_id is not None
            views.append(
                RelationshipView(
                    r.kind,
                    r.role,
                    "person",
                    other_id,
                    people[other_id].display_name,
                    "out" if outgoing else "in",
                )
            )
    return views, list(households.values())


def _attributes(session: Session, person_id: int) -> list[AttributeView]:
    rows = session.execute(
        select(AttributeValue, AttributeDefinition, AttributeChoice)
        .join(AttributeDefinition, AttributeValue.definition_id == AttributeDefinition.id)
        .outerjoin(AttributeChoice, AttributeValue.choice_id == AttributeChoice.id)
        .where(AttributeValue.person_id == person_id)
        .order_by(AttributeDefinition.group, AttributeDefinition.code, AttributeChoice.position)
    ).all()
    views: dict[int, AttributeView] = {}
    for value, definition, choice in rows:
        view = views.setdefault(
            definition.id,
            AttributeView(
                definition.code, definition.labels, definition.group, definition.type, []
            ),
        )
        if choice is not None:
            view.values.append(choice.labels or {"en": choice.code})
        else:
            for raw in (value.value_number, value.value_date, value.value_bool, value.value_text):
                if raw is not None:
                    view.values.append(raw)
                    break
    return list(views.values())


def _orders(session: Session, person_id: int, limit: int) -> tuple[list[Order], OrderSummary]:
    agg = session.execute(
        select(
            func.count(),
            func.sum(Order.total_amount),
            func.min(Order.ordered_at),
            func.max(Order.ordered_at),
        ).where(Order.person_id == person_id)
    ).one()
    currencies = list(
        session.scalars(select(Order.currency).where(Order.person_id == person_id).distinct())
    )
    summary = OrderSummary(
        agg[0] or 0, Decimal(agg[1] or 0).quantize(Decimal("0.01")), currencies, agg[2], agg[3]
    )
    orders = list(
        session.scalars(
            select(Order)
            .where(Order.person_id == person_id)
            .options(selectinload(Order.lines).selectinload(OrderLine.product))
            .order_by(Order.ordered_at.desc())
            .limit(limit)
        )
    )
    return orders, summary


def build_card(session: Session, person_id: int, *, recent: int = 20) -> PersonCard:
    """Assemble the card of ``person_id`` with the ``recent`` latest orders, messages, responses."""
    person = get_person(session, person_id)
    relationships, households = _relationships(session, person_id)
    orders, summary = _orders(session, person_id, recent)
    communications = [
        (c, name)
        for c, name in session.execute(
            select(Communication, Campaign.name)
            .outerjoin(Campaign, Communication.campaign_id == Campaign.id)
            .where(Communication.person_id == person_id)
            .order_by(Communication.sent_at.desc(), Communication.id.desc())
            .limit(recent)
        )
    ]
    responses = [
        (r, name)
        for r, name in session.execute(
            select(Response, Campaign.name)
            .outerjoin(Campaign, Response.campaign_id == Campaign.id)
            .where(Response.person_id == person_id)
            .order_by(Response.occurred_at.desc(), Response.id.desc())
            .limit(recent)
        )
    ]
    scores = [
        (score, run)
        for score, run in session.execute(
            select(PersonScore, ScoreRun)
            .join(ScoreRun, PersonScore.run_id == ScoreRun.id)
            .where(PersonScore.person_id == person_id)
            .order_by(ScoreRun.as_of.desc())
            .limit(recent)
        )
    ]
    tasks = list(
        session.scalars(
            select(Task)
            .where(Task.person_id == person_id)
            .order_by(Task.due_at.desc())
            .limit(recent)
        )
    )
    appointments = list(
        session.scalars(
            select(Appointment)
            .where(Appointment.person_id == person_id)
            .order_by(Appointment.starts_at.desc())
            .limit(recent)
        )
    )
    return PersonCard(
        person=person,
        relationships=relationships,
        households=households,
        attributes=_attributes(session, person_id),
        consents=current_consents(session, person_id),
        consent_history=consent_history(session, person_id),
        suppressions=suppressions_for(session, person_id),
        orders=orders,
        order_summary=summary,
        communications=communications,
        responses=responses,
        scores=scores,
        tasks=tasks,
        appointments=appointments,
    )


__all__ = ["PersonCard", "build_card"]
