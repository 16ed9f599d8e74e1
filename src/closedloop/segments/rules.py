"""The segment rule tree: typed models of its JSON form, and the JSON Schema published for it.

A rule is a JSON object. Groups combine rules: ``{"all": [...]}`` (every one),
``{"any": [...]}`` (at least one), ``{"not": rule}``. Leaves test one thing::

    {"field": "tier", "op": "eq", "value": "A"}
    {"attribute": {"code": "shoe_size", "op": "gte", "value": 42}}
    {"consent": {"channel": "email", "purpose": "marketing"}}
    {"orders": {"category": "running", "min_count": 2, "days": 180}}
    {"first_purchase": {"before": "2024-01-01"}}
    {"household": <rule>}            a household member (another person) matches the rule
    {"employer": <organisation rule>} works for an organisation matching the rule
    {"campaign": {"code": "SPRING", "received": true, "responded": false}}
    {"near": {"postal_code": "75001", "country": "FR", "km": 10}}
    {"survey": {"question": 12, "op": "eq", "value": "yes"}}
    {"segment": 7}                   a member of segment 7 (its rule now, or its snapshot)

:func:`closedloop.segments.check.parse_rules` turns a document into these models, naming the
path of every error (``all[2].orders.days``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from closedloop.segments.fields import MAX_LIST, MAX_TEXT, OPS
from closedloop.vocab import Channel, Purpose

#: Ten thousand years of days: a window longer than any history.
MAX_DAYS = 36_500
#: Amounts and numbers a rule compares with stay within these bounds.
MAX_AMOUNT = 1e12

Text = Annotated[str, Field(max_length=MAX_TEXT)]
Scalar = bool | int | float | Text | None
Value = Scalar | Annotated[list[Scalar], Field(max_length=MAX_LIST)]
Op = Literal[OPS]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldRule(_Strict):
    """Compare a field of the person, of their latest scores or of their addresses."""

    field: Annotated[str, Field(max_length=64, description="A field name (see `fields`).")]
    op: Op = "eq"
    value: Value = None


class AttributeCondition(_Strict):
    """Compare a catalogue attribute (by its code); a choice is compared by its code."""

    code: Annotated[str, Field(max_length=64)]
    op: Op = "eq"
    value: Value = None


class AttributeRule(_Strict):
    attribute: AttributeCondition


class ConsentCondition(_Strict):
    """The person's current consent for a channel and purpose (``none``: never answered)."""

    channel: Channel
    purpose: Purpose = Purpose.MARKETING
    state: Literal["granted", "withdrawn", "none"] = "granted"


class ConsentRule(_Strict):
    consent: ConsentCondition


class OrdersCondition(_Strict):
    """Completed own-sales orders of the person, optionally only those with a line of a
    category (its sub-categories included) or a product, inside a window.

    ``min_count`` / ``max_count`` bound how many such orders; ``min_amount`` / ``max_amount``
    their amount (the matching lines' amounts, or the order totals without a product filter).
    With no bound given, one order is enough; ``max_count: 0`` means *never bought*.
    """

    category: Annotated[str | None, Field(max_length=64)] = None
    product: Annotated[str | None, Field(max_length=64, description="A product SKU.")] = None
    days: Annotated[int | None, Field(ge=1, le=MAX_DAYS, description="The last D days.")] = None
    since: date | None = None
    until: date | None = None
    min_count: Annotated[int | None, Field(ge=0, le=1_000_000)] = None
    max_count: Annotated[int | None, Field(ge=0, le=1_000_000)] = None
    min_amount: Annotated[float | None, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)] = None
    max_amount: Annotated[float | None, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)] = None


class OrdersRule(_Strict):
    orders: OrdersCondition


class FirstPurchaseCondition(_Strict):
    """The day of the person's first completed purchase is before and/or after a date."""

    before: date | None = None
    after: date | None = None


class FirstPurchaseRule(_Strict):
    first_purchase: FirstPurchaseCondition


class CampaignCondition(_Strict):
    """History with a campaign (by its code): ``received`` a message (sent), ``responded``
    (a person's response: not an open, bounce or unsubscribe, nor a machine's reaction),
    ``control`` (was in one of its control cells)."""

    code: Annotated[str, Field(max_length=64)]
    received: bool | None = None
    responded: bool | None = None
    control: bool | None = None


class CampaignRule(_Strict):
    campaign: CampaignCondition


class NearCondition(_Strict):
    """An address of the person lies within ``km`` of a point: a postal code or a locality
    of the postal reference (with its country), or given coordinates."""

    km: Annotated[float, Field(gt=0, le=2000)]
    country: Annotated[str | None, Field(min_length=2, max_length=2)] = None
    postal_code: Annotated[str | None, Field(max_length=16)] = None
    locality: Annotated[str | None, Field(max_length=200)] = None
    latitude: Annotated[float | None, Field(ge=-90, le=90)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None


class NearRule(_Strict):
    near: NearCondition


class SurveyCondition(_Strict):
    """The person's answer to a survey question (by the question's id)."""

    question: Annotated[int, Field(ge=1, le=2**63 - 1)]
    op: Op = "eq"
    value: Value = None


class SurveyRule(_Strict):
    survey: SurveyCondition


#: A guest's state at an event: invited (got the invitation), an answer (``answered``: any
#: answer), ``attended`` (checked in), ``no_show`` (said yes, not checked in, event over).
EventStatus = Literal[
    "invited", "answered", "yes", "no", "maybe", "waitlist", "attended", "no_show"
]


class EventCondition(_Strict):
    """A person's answer to an event's invitation or their attendance (by the event's code),
    e.g. ``{"event": {"code": "GALA27", "status": "no_show"}}`` for a no-show follow-up."""

    code: Annotated[str, Field(max_length=64)]
    status: EventStatus = "invited"


class EventRule(_Strict):
    event: EventCondition


class SegmentRule(_Strict):
    """A member of another segment (by id): a dynamic one's rule evaluated now, a snapshot's
    frozen members. Lets segments be combined (``{"all": [{"segment": 3}, {"not":
    {"segment": 5}}]}``); a segment may not refer to itself, directly or through others."""

    segment: Annotated[int, Field(ge=1, le=2**63 - 1, description="A segment's id.")]


class HouseholdRule(_Strict):
    household: Rule


class EmployerRule(_Strict):
    employer: Rule


class AllRule(_Strict):
    all: list[Rule]


class AnyRule(_Strict):
    any: list[Rule]


class NotRule(_Strict):
    not_: Rule = Field(alias="not")


Rule = (
    AllRule | AnyRule | NotRule | FieldRule | AttributeRule | ConsentRule | OrdersRule
    | FirstPurchaseRule | HouseholdRule | EmployerRule | CampaignRule | NearRule | SurveyRule
    | EventRule | SegmentRule
)  # fmt: skip

for _model in (HouseholdRule, EmployerRule, AllRule, AnyRule, NotRule):
    _model.model_rebuild()

#: The leaf keys and the model of their condition.
LEAVES: dict[str, type[BaseModel]] = {
    "attribute": AttributeCondition,
    "consent": ConsentCondition,
    "orders": OrdersCondition,
    "first_purchase": FirstPurchaseCondition,
    "campaign": CampaignCondition,
    "near": NearCondition,
    "survey": SurveyCondition,
    "event": EventCondition,
}
#: The rule model of each leaf key.
WRAPPERS: dict[str, type[BaseModel]] = {
    "attribute": AttributeRule, "consent": ConsentRule, "orders": OrdersRule,
    "first_purchase": FirstPurchaseRule, "campaign": CampaignRule, "near": NearRule,
    "survey": SurveyRule, "event": EventRule,
}  # fmt: skip
#: Keys whose value is a list of rules, a rule, or a rule over related records.
GROUPS = ("all", "any")
RELATIONS = ("household", "employer")
KEYS = (*GROUPS, "not", "field", *LEAVES, *RELATIONS, "segment")


def rule_schema() -> dict[str, Any]:
    """The JSON Schema of a rule document (published by the API, used by the builder)."""
    schema = TypeAdapter(Rule).json_schema(by_alias=True)
    schema["title"] = "Segment rule"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
