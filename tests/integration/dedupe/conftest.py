"""Fixtures of the identity-resolution tests: persons with a whole history to merge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from closedloop.automation.models import Appointment, Task
from closedloop.bootstrap import metadata
from closedloop.campaigns.models import Campaign, CampaignMember, Cell, Communication
from closedloop.consent import service as consent_service
from closedloop.consent.models import Suppression
from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import (
    AttributeDefinition,
    AttributeValue,
    Household,
    Identifier,
    Relationship,
)
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.responses.models import Answer, Question, Response, Survey
from closedloop.transactions.models import Order, OrderLine, Product
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

#: Bookkeeping of identity resolution itself: not part of "the state before".
BOOKKEEPING = {
    "merge_events",
    "duplicate_candidates",
    "dedupe_models",
    "dedupe_clusters",
    "dedupe_cluster_members",
    "audit_events",
    "jobs",
    "alembic_version",
}
#: The optimistic lock moves forward on every change, an unmerge included.
MOVING = {"persons": {"version", "updated_at"}}


def dump_all(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but bookkeeping), ordered by primary key."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in metadata().sorted_tables:
            if table.name in BOOKKEEPING:
                continue
            cols = [c for c in table.columns if c.name not in MOVING.get(table.name, set())]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def T(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def person(session: Session, **fields: Any) -> int:
    return contacts_service.create_person(session, PersonCreate.model_validate(fields)).id


def grant(
    session: Session,
    pid: int,
    channel: Channel,
    purpose: Purpose,
    state: ConsentState,
    at: str,
    method: ConsentMethod = ConsentMethod.WEB_FORM,
) -> None:
    consent_service.record_consent(
        session,
        pid,
        channel,
        purpose,
        state,
        method=method,
        proof_text="I agree." if state == ConsentState.GRANTED else None,
        occurred_at=T(at),
    )


@pytest.fixture()
def pair(factory: sessionmaker[Session]) -> dict[str, int]:
    """Jean Dupont twice (ERP and web shop), each with history in every domain."""
    ids: dict[str, int] = {}
    with unit_of_work(factory) as s:
        golden = person(
            s,
            given_name="Jean",
            family_name="Dupont",
            birth_date=date(1971, 3, 14),
            lifecycle_status="customer",
            emails=[{"address": "jean.dupont@example.com"}],
            phones=[{"number": "06 12 34 56 78"}],
            addresses=[{"line1": "12 rue de la Roquette", "postal_code": "75011",
                        "locality": "Paris", "country": "FR"}],
            source_system="erp",
            external_id="C-1",
        )  # fmt: skip
        source = person(
            s,
            given_name="Jean-Pierre",
            family_name="Dupont",
            gender="male",
            emails=[{"address": "JEAN.DUPONT@example.com"}, {"address": "jp@example.org"}],
            phones=[{"number": "01 43 55 66 77"}],
            addresses=[{"line1": "12 rue de la Roquette", "postal_code": "75011",
                        "locality": "Paris", "country": "FR"}],
            source_system="webshop",
            external_id="W-9",
        )  # fmt: skip
        other = person(s, given_name="Marie", family_name="Dupont")
        s.add_all(
            [
                Identifier(person_id=source, scheme="loyalty", value="L-77"),
                # One national id on both records (the import keeps shared identifiers).
                Identifier(person_id=golden, scheme="national_id", value="171037512"),
                Identifier(person_id=source, scheme="national_id", value="171037512"),
                Relationship(person_id=source, kind="referred_by", related_person_id=golden),
                Relationship(person_id=other, kind="family", related_person_id=source),
            ]
        )
        household = Household(name="Foyer Dupont")
        definition = AttributeDefinition(code="pets", labels={"en": "Pets"}, group="demographic",
                                         type="number")  # fmt: skip
        s.add_all([household, definition])
        s.flush()
        s.add_all(
            [
                Relationship(person_id=golden, kind="household_member", household_id=household.id),
                Relationship(person_id=source, kind="household_member", household_id=household.id),
                AttributeValue(definition_id=definition.id, person_id=source, value_number=2),
            ]
        )
        grant(s, golden, Channel.EMAIL, Purpose.MARKETING, ConsentState.WITHDRAWN, "2025-01-10")
        grant(s, source, Channel.EMAIL, Purpose.MARKETING, ConsentState.GRANTED, "2024-06-01")
        grant(s, source, Channel.SMS, Purpose.NEWSLETTER, ConsentState.GRANTED, "2024-02-01")
        s.add(Suppression(person_id=source, channel="letter", reason="bounced"))
        product = Product(sku="BK-1", name="Book", unit_price=Decimal("10.00"))
        campaign = Campaign(code="SPRING", name="Spring", status="completed")
        other_campaign = Campaign(code="AUTUMN", name="Autumn", status="completed")
        s.add_all([product, campaign, other_campaign])
        s.flush()
        cell = Cell(campaign_id=campaign.id, code="A", name="Test")
        cell2 = Cell(campaign_id=other_campaign.id, code="A", name="Test")
        s.add_all([cell, cell2])
        s.flush()
        order = Order(person_id=source, ordered_at=T("2024-05-01"), total_amount=Decimal("20.00"),
                      source_system="webshop", external_id="O-1")  # fmt: skip
        order.lines = [OrderLine(line_no=1, product_id=product.id, quantity=Decimal(2),
                                 unit_price=Decimal("10.00"), amount=Decimal("20.00"))]  # fmt: skip
        s.add(order)
        s.add_all(
            [
                CampaignMember(campaign_id=campaign.id, cell_id=cell.id, person_id=golden),
                CampaignMember(campaign_id=campaign.id, cell_id=cell.id, person_id=source),
                CampaignMember(campaign_id=other_campaign.id, cell_id=cell2.id, person_id=source),
            ]
        )
        comm = Communication(person_id=source, campaign_id=campaign.id, channel="email",
                             status="sent", sent_at=T("2024-04-01"))  # fmt: skip
        s.add(comm)
        s.flush()
        response = Response(person_id=source, campaign_id=campaign.id, communication_id=comm.id,
                            kind="purchase", occurred_at=T("2024-05-01"), order_id=order.id,
                            amount=Decimal("20.00"))  # fmt: skip
        survey = Survey(code="S1", title="Satisfaction")
        s.add_all([response, survey])
        s.flush()
        question = Question(survey_id=survey.id, text="How?", kind="text")
        s.add(question)
        s.flush()
        s.add(Answer(question_id=question.id, person_id=source, response_id=response.id,
                     answer_text="Fine"))  # fmt: skip
        s.add(Task(person_id=source, kind="call_back", title="Call back about the order"))
        s.add(Appointment(person_id=source, subject="Visit", starts_at=T("2024-06-01")))
        ids.update(golden=golden, source=source, other=other, campaign=campaign.id)
    return ids


@pytest.fixture()
def sql(engine: Engine) -> Callable[[str], list[tuple[Any, ...]]]:
    """Run a read query on the test store."""

    def run(query: str) -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query)).all()]

    return run
