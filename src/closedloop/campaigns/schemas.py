"""What a campaign is made of, as read from a client (Create/Update) and shown back (Public).

A campaign carries its marketing mix in its cells: per target segment, an offer, a price, a
channel and a message template (named by code: the latest version is used and frozen once a
wave sends it). Offers, templates and owners are named by code or username, so a campaign can
be written by hand in a JSON file for ``closedloop campaigns create --file``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from closedloop.db.types import DbId, UtcDatetime
from closedloop.vocab import Channel, Purpose

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
CellCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.-]{1,32}$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class WaveCreate(BaseModel):
    """One send date of the campaign."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    scheduled_at: datetime | None = Field(
        default=None, description="When it goes out (with its time zone); empty: at launch."
    )
    expected_volume: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,  # an INTEGER column
        description="Messages planned, for the calendar before extraction.",
    )


class CellCreate(BaseModel):
    """One treatment: what a target segment gets (or a control group that gets nothing)."""

    model_config = ConfigDict(extra="forbid")
    code: CellCode
    name: Name
    is_control: bool = False
    channel: Channel | None = None
    offer: Code | None = Field(default=None, description="The offer's code.")
    price: Amount | None = Field(default=None, description="The price proposed (else the offer's).")
    template: Code | None = Field(
        default=None, description="The message template's code (its latest version)."
    )
    segment_id: DbId | None = Field(
        default=None, description="The target segment it treats (empty: the campaign's)."
    )
    share: float = Field(default=1.0, gt=0, le=1, description="Share of the target it gets.")
    unit_cost: Amount | None = None

    @model_validator(mode="after")
    def _treatment(self) -> CellCreate:
        if self.is_control and (self.channel or self.template):
            raise ValueError(f"cell {self.code}: a control group gets no channel or template")
        if not self.is_control and self.channel is None:
            raise ValueError(f"cell {self.code}: a channel is required (or make it a control)")
        return self


ABMetric = Literal["open", "click", "purchase"]


class ABTestCreate(BaseModel):
    """An A/B test with an automatic winner: the treatment cells are sent to a share of the
    audience, split as their shares say; after a wait the best cell on the metric wins and the
    rest of the audience gets it. It applies to every wave of the campaign."""

    model_config = ConfigDict(extra="forbid")
    share: float = Field(gt=0, lt=1, description="Share of the treatment audience tested.")
    metric: ABMetric = Field(default="click", description="What picks the winner.")
    decide_after_hours: float = Field(
        default=24.0, gt=0, le=1440, description="Hours after a wave's messages leave."
    )


class TestsCreate(BaseModel):
    """A campaign's tests: stratification by value tier, one person per household, the A/B
    test (null: none). The control group (hold-out) is a control cell and its share."""

    model_config = ConfigDict(extra="forbid")
    stratify_by_tier: bool = Field(
        default=False, description="Draw the cells within each value tier (RFM tier)."
    )
    one_per_household: bool = False
    ab_test: ABTestCreate | None = None


class CampaignFields(BaseModel):
    """The fields a campaign's author sets (every one optional in an update)."""

    model_config = ConfigDict(extra="forbid")
    objective: Annotated[str, StringConstraints(max_length=5000)] | None = None
    offer: Code | None = Field(default=None, description="The offer or product's offer code.")
    segment_id: DbId | None = Field(default=None, description="The target segment.")
    budget: Amount | None = None
    currency: Currency = "EUR"
    cost_per_contact: Amount | None = None
    owner: Username | None = Field(default=None, description="The owner's username.")
    starts_on: date | None = None
    ends_on: date | None = None
    priority: int = Field(default=100, ge=0, le=1000, description="Higher wins arbitration.")
    purpose: Purpose = Purpose.MARKETING
    response_window_days: int = Field(default=30, ge=1, le=3650)

    @model_validator(mode="after")
    def _dates(self) -> CampaignFields:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class CampaignCreate(CampaignFields):
    """A new campaign (a draft), with its waves and cells."""

    code: Code
    name: Name
    waves: list[WaveCreate] = Field(default_factory=list, max_length=100)
    cells: list[CellCreate] = Field(default_factory=list, max_length=100)
    tests: TestsCreate | None = Field(default=None, description="Empty: no test settings.")

    @model_validator(mode="after")
    def _unique_cells(self) -> CampaignCreate:
        codes = [c.code for c in self.cells]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"cell codes appear twice: {', '.join(twice)}")
        return self


class CampaignUpdate(BaseModel):
    """Changes to a campaign: only the fields given change; ``waves`` and ``cells``, when
    given, replace the lists. A running campaign is not changed: a new version is made."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    objective: Annotated[str, StringConstraints(max_length=5000)] | None = None
    offer: Code | None = None
    segment_id: DbId | None = None
    budget: Amount | None = None
    currency: Currency | None = None
    cost_per_contact: Amount | None = None
    owner: Username | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    priority: int | None = Field(default=None, ge=0, le=1000)
    purpose: Purpose | None = None
    response_window_days: int | None = Field(default=None, ge=1, le=3650)
    waves: list[WaveCreate] | None = Field(default=None, max_length=100)
    cells: list[CellCreate] | None = Field(default=None, max_length=100)
    tests: TestsCreate | None = Field(default=None, description="When given, replaces the tests.")


class WavePublic(BaseModel):
    """A stored wave, with the messages of its send ledger by status."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    scheduled_at: UtcDatetime | None
    status: str
    expected_volume: int | None
    messages: dict[str, int] = Field(default_factory=dict)


class CellPublic(BaseModel):
    """A stored cell, with its offer and template named."""

    id: int
    code: str
    name: str
    is_control: bool
    channel: str | None
    offer: str | None
    price: Decimal | None
    template: str | None
    template_version: int | None
    segment_id: int | None
    share: float
    unit_cost: Decimal | None


class ABTestPublic(ABTestCreate):
    """A campaign's A/B test, with its winner once decided."""

    model_config = ConfigDict(extra="ignore")
    winner_cell: str | None = Field(default=None, description="The winning cell's code.")
    decided_at: UtcDatetime | None = None


class TestsPublic(BaseModel):
    """A campaign's tests as stored: what :class:`TestsCreate` sets, and the hold-out."""

    stratify_by_tier: bool = False
    one_per_household: bool = False
    ab_test: ABTestPublic | None = None
    holdout_share: float = Field(
        default=0.0, description="Share of the target held out: the control cells' shares."
    )


class CampaignPublic(BaseModel):
    """A stored campaign (one version) with its waves and cells."""

    id: int
    code: str
    version: int
    previous_id: int | None
    name: str
    objective: str | None
    status: str
    offer: str | None
    segment_id: int | None
    budget: Decimal | None
    currency: str
    cost_per_contact: Decimal | None
    owner: str | None
    starts_on: date | None
    ends_on: date | None
    priority: int
    purpose: str
    response_window_days: int
    created_by: str | None
    approved_by: str | None
    approved_at: UtcDatetime | None
    launched_at: UtcDatetime | None
    waves: list[WavePublic]
    cells: list[CellPublic]
    tests: TestsPublic = Field(default_factory=TestsPublic)
    #: the pre-send analysis's warnings, on the answer to an approval
    warnings: list[str] = []
