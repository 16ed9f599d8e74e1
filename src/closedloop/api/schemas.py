"""Response models of the API that no domain defines: pages and the person card.

Amounts are decimals and travel as strings ("129.90") so no cent is lost to floating point.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from closedloop.contacts.schemas import PersonPublic
from closedloop.db.types import UtcDatetime as DbUtcDatetime
from closedloop.reports.card import PersonCard

#: Times leave the API in UTC with an explicit offset ("…Z"); ``tests/security`` checks that
#: every response model uses it.
UtcDatetime = DbUtcDatetime


class PersonRecordPublic(PersonPublic):
    """A person as the API returns it, with its contact points (times in UTC)."""

    created_at: UtcDatetime
    updated_at: UtcDatetime


class PersonPage(BaseModel):
    """One page of persons, ordered by family name, given name and id."""

    items: list[PersonRecordPublic]
    total: int = Field(description="How many persons match, exactly.")
    total_capped: bool = Field(
        False, description="Always false: `total` is exact (kept for clients of version 1)."
    )
    total_cap: int | None = Field(
        None, description="Always null: the count has no cap (kept for clients of version 1)."
    )
    limit: int
    offset: int


class _Orm(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RelationshipPublic(_Orm):
    """A link to another person, an organisation or a household."""

    kind: str
    role: str | None
    target_kind: str = Field(description="person, organisation or household")
    target_id: int
    target_name: str
    direction: str = Field(description='"out" when this person holds the link, "in" otherwise')


class HouseholdPublic(_Orm):
    id: int
    name: str


class AttributePublic(_Orm):
    """A catalogue attribute with the person's value(s); choices come with their labels."""

    code: str
    labels: dict[str, str]
    group: str
    type: str
    values: list[Any]


class ConsentPublic(_Orm):
    """The current consent state for one channel and purpose."""

    channel: str
    purpose: str
    state: str
    since: UtcDatetime
    event_id: int


class ConsentEventPublic(_Orm):
    """One grant or withdrawal of the consent ledger, with its proof."""

    id: int
    channel: str
    purpose: str
    state: str
    occurred_at: UtcDatetime
    method: str
    proof_text: str | None
    proof_version: str | None
    source_system: str | None
    ip_address: str | None
    recorded_by: str | None
    recorded_at: UtcDatetime


class SuppressionPublic(_Orm):
    id: int
    value_key: str | None
    channel: str | None
    reason: str
    note: str | None
    source_system: str | None
    created_at: UtcDatetime


class OrderLinePublic(BaseModel):
    line_no: int
    product_id: int | None
    sku: str | None
    product_name: str | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


class OrderPublic(BaseModel):
    id: int
    ordered_at: UtcDatetime
    channel: str | None
    currency: str
    total_amount: Decimal
    status: str
    supplier: str | None
    campaign_id: int | None
    source_system: str | None
    external_id: str | None
    lines: list[OrderLinePublic]


class OrderSummaryPublic(_Orm):
    """Totals over all of the person's orders (not only the recent ones listed)."""

    count: int
    revenue: Decimal
    currencies: list[str]
    first_at: UtcDatetime | None
    last_at: UtcDatetime | None


class CommunicationPublic(_Orm):
    """A message sent (or suppressed) to the person."""

    id: int
    campaign_id: int | None
    campaign_name: str | None = None
    channel: str
    status: str
    recipient: str | None
    subject: str | None
    sent_at: UtcDatetime | None
    cost: Decimal | None


class CardResponsePublic(_Orm):
    """A reaction of the person (open, click, purchase…)."""

    id: int
    campaign_id: int | None
    campaign_name: str | None = None
    communication_id: int | None
    kind: str
    occurred_at: UtcDatetime
    amount: Decimal | None
    order_id: int | None


class ScorePublic(_Orm):
    """The person's figures in one scoring run."""

    run_id: int
    as_of: UtcDatetime | None = None
    recency_days: int | None
    frequency: int
    monetary: Decimal | None
    rfm_code: str | None
    rfm_segment: str | None
    p_alive: float | None
    expected_30: float | None
    expected_90: float | None
    expected_365: float | None
    expected_spend: Decimal | None
    clv: Decimal | None
    tier: str | None
    lifecycle_stage: str | None


class TaskPublic(_Orm):
    id: int
    kind: str
    title: str
    status: str
    due_at: UtcDatetime | None
    done_at: UtcDatetime | None
    outcome: str | None
    assignee_id: int | None
    campaign_id: int | None


class AppointmentPublic(_Orm):
    id: int
    subject: str
    location: str | None
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None
    outcome: str | None
    user_id: int | None


class PersonCardPublic(BaseModel):
    """Everything known about one person, grouped as on the card (M16).

    Orders, communications, responses, scores, tasks and appointments list the most recent
    ones (``recent`` of each); ``order_summary`` covers all orders.
    """

    person: PersonRecordPublic
    relationships: list[RelationshipPublic]
    households: list[HouseholdPublic]
    attributes: list[AttributePublic]
    consents: list[ConsentPublic]
    consent_history: list[ConsentEventPublic]
    suppressions: list[SuppressionPublic]
    orders: list[OrderPublic]
    order_summary: OrderSummaryPublic
    communications: list[CommunicationPublic]
    responses: list[CardResponsePublic]
    scores: list[ScorePublic]
    tasks: list[TaskPublic]
    appointments: list[AppointmentPublic]


def _plain_value(value: Any) -> Any:
    """Attribute values as JSON-friendly scalars (dates stay ISO dates, numbers exact)."""
    if isinstance(value, date | datetime | Decimal | bool | int | float | str | dict):
        return value
    return str(value)


def card_public(card: PersonCard) -> PersonCardPublic:
    """The response model of a person card built by :func:`closedloop.reports.card.build_card`."""
    orders = [
        OrderPublic(
            id=o.id,
            ordered_at=o.ordered_at,
            channel=o.channel,
            currency=o.currency,
            total_amount=o.total_amount,
            status=o.status,
            supplier=o.supplier,
            campaign_id=o.campaign_id,
            source_system=o.source_system,
            external_id=o.external_id,
            lines=[
                OrderLinePublic(
                    line_no=line.line_no,
                    product_id=line.product_id,
                    sku=line.product.sku if line.product else None,
                    product_name=line.product.name if line.product else None,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=line.amount,
                )
                for line in o.lines
            ],
        )
        for o in card.orders
    ]
    return PersonCardPublic(
        person=PersonRecordPublic.model_validate(card.person),
        relationships=[RelationshipPublic.model_validate(r) for r in card.relationships],
        households=[HouseholdPublic.model_validate(h) for h in card.households],
        attributes=[
            AttributePublic(
                code=a.code,
                labels=a.labels,
                group=a.group,
                type=a.type,
                values=[_plain_value(v) for v in a.values],
            )
            for a in card.attributes
        ],
        consents=[ConsentPublic.model_validate(c) for c in card.consents],
        consent_history=[ConsentEventPublic.model_validate(e) for e in card.consent_history],
        suppressions=[SuppressionPublic.model_validate(s) for s in card.suppressions],
        orders=orders,
        order_summary=OrderSummaryPublic.model_validate(card.order_summary),
        communications=[
            CommunicationPublic.model_validate(c).model_copy(update={"campaign_name": name})
            for c, name in card.communications
        ],
        responses=[
            CardResponsePublic.model_validate(r).model_copy(update={"campaign_name": name})
            for r, name in card.responses
        ],
        scores=[
            ScorePublic.model_validate(s).model_copy(update={"as_of": run.as_of})
            for s, run in card.scores
        ],
        tasks=[TaskPublic.model_validate(t) for t in card.tasks],
        appointments=[AppointmentPublic.model_validate(a) for a in card.appointments],
    )
