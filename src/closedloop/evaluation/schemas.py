"""Pydantic shapes of an evaluation report (the API's answer, the CLI's ``--json``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from closedloop.db.types import UtcDatetime


class ProportionPublic(BaseModel):
    """A rate against the control group's: two-proportion z-test, Wald 95 % interval."""

    rate1: float = Field(description="The group's rate.")
    rate0: float = Field(description="The control group's rate.")
    diff: float = Field(description="rate1 - rate0 (a share: 0.05 is 5 points).")
    relative_lift: float | None = Field(description="diff / rate0; empty when rate0 is 0.")
    z: float | None
    p_value: float | None
    ci_low: float
    ci_high: float
    significant: bool


class MeanPublic(BaseModel):
    """Revenue per person against the control group's: Welch's t-test, 95 % interval."""

    mean1: float
    mean0: float
    diff: float
    t: float | None
    df: float | None
    p_value: float | None
    ci_low: float
    ci_high: float
    significant: bool


class LiftPublic(BaseModel):
    """What the group did beyond the control group, and what it returned on its cost."""

    conversion: ProportionPublic
    revenue_per_person: MeanPublic
    p_adjusted: float | None = Field(description="The conversion p-value after Holm's correction.")
    incremental_conversions: float
    incremental_conversions_ci: list[float]
    incremental_revenue: float
    incremental_revenue_ci: list[float]
    roi: float | None = Field(description="(incremental revenue - cost) / cost.")
    cost_per_incremental_conversion: float | None
    significant: bool


class GroupPublic(BaseModel):
    """A cell (or a wave's cells, or all treated cells): funnel, rates, money, lift."""

    label: str
    is_control: bool
    cell_id: int | None
    wave_id: int | None
    members: int
    contacted: int
    delivered: int
    opened: int
    clicked: int
    responded: int
    converted: int
    revenue: float
    cost: float
    rates: dict[str, float | None]
    lift: LiftPublic | None


class WavePublic(BaseModel):
    """One wave: its treated cells, and the control group's purchases credited to it."""

    wave_id: int
    name: str
    start: UtcDatetime | None
    total: GroupPublic
    control_converted: int | None
    cells: list[GroupPublic]


class WinnerPublic(BaseModel):
    """The A/B test between treated cells."""

    metric: str
    best_cell_id: int
    best_label: str
    significant: bool
    correction: str
    comparisons: list[dict[str, Any]]


class ReportPublic(BaseModel):
    """The evaluation of a campaign."""

    campaign_id: int
    campaign_code: str
    campaign_name: str
    status: str
    currency: str
    rule: str = Field(description="The attribution rule: last-touch, first-touch or linear.")
    window_days: int
    window_start: UtcDatetime | None
    window_end: UtcDatetime | None
    final: bool = Field(description="False while the response window is open.")
    verdict: str
    notes: list[str]
    correction: str
    total: GroupPublic
    control: GroupPublic | None
    cells: list[GroupPublic]
    waves: list[WavePublic]
    winner: WinnerPublic | None
    counters_stale: bool = Field(
        False,
        description="True when the stored funnel counters disagreed with the messages and "
        "responses (written outside the sender and the capture): the funnel was counted from "
        "the rows; `closedloop evaluation rebuild-counters` stores them again.",
    )


class SegmentRequest(BaseModel):
    """Which group of the campaign to freeze into a segment, and its name."""

    group: str = Field(description="responders, non-responders, buyers or cell.")
    name: str = Field(max_length=200, description="The new segment's name.")
    cell: str | None = Field(default=None, max_length=64, description="For group=cell.")


class SegmentMade(BaseModel):
    """The snapshot segment made from an evaluation."""

    id: int
    name: str
    members: int
    origin: dict[str, Any]
