"""The shape of an evaluation: a group's funnel, rates and money, its lift against the control
group, and the campaign's verdict. Built from counts by :func:`group` and :func:`lift`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from closedloop.evaluation.attribution import Outcome
from closedloop.evaluation.queries import Funnel
from closedloop.evaluation.stats import MeanTest, ProportionTest, Sample, two_proportions, welch

NO_EFFECT = "no measurable effect: direct marketing failed here"
NO_CONTROL = "no control group: what happened is shown, but not what the campaign caused (no lift)"
NOT_FINAL = (
    "not final: the response window is still open, so these intervals and p-values "
    "(fixed-horizon tests) will change; judge the campaign when the window has closed"
)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclass
class Lift:
    """A group against the control group: conversion (z-test) and revenue per person (Welch),
    what the campaign added (incremental conversions and revenue, with their 95 % intervals)
    and the return on its cost."""

    conversion: ProportionTest
    revenue_per_person: MeanTest
    p_adjusted: float | None
    incremental_conversions: float
    incremental_conversions_ci: tuple[float, float]
    incremental_revenue: float
    incremental_revenue_ci: tuple[float, float]
    roi: float | None
    cost_per_incremental_conversion: float | None

    @property
    def significant(self) -> bool:
        """True when the conversion or the revenue lift is significant at 5 % (conversion after
        the correction when several cells are compared)."""
        p_conv = self.p_adjusted if self.p_adjusted is not None else self.conversion.p_value
        return (p_conv is not None and p_conv < 0.05) or self.revenue_per_person.significant


@dataclass
class Group:
    """One cell (or a cell within a wave, or all treated cells together): what happened."""

    label: str
    is_control: bool
    cell_id: int | None = None
    wave_id: int | None = None
    members: int = 0
    contacted: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    responded: int = 0
    converted: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0
    cost: float = 0.0
    lift: Lift | None = None

    @property
    def rates(self) -> dict[str, float | None]:
        """Delivery (of contacted), open and click (of delivered), response (of contacted),
        conversion and revenue per person (of members: everyone assigned, as the control)."""
        return {
            "delivery": _ratio(self.delivered, self.contacted),
            "open": _ratio(self.opened, self.delivered),
            "click": _ratio(self.clicked, self.delivered),
            "response": _ratio(self.responded, self.contacted),
            "conversion": _ratio(self.converted, self.members),
            "revenue_per_person": _ratio(self.revenue, self.members),
            "cost_per_response": _ratio(self.cost, self.responded),
        }

    @property
    def sample(self) -> Sample:
        """Revenue per person of the group, for Welch's test."""
        return Sample(self.members, self.revenue, self.revenue_sq)


def group(
    label: str,
    funnel: Funnel,
    outcome: Outcome,
    *,
    is_control: bool,
    unit_cost: float = 0.0,
    cell_id: int | None = None,
    wave_id: int | None = None,
) -> Group:
    """A group from its funnel and attributed purchases; messages without a recorded cost
    are costed at the cell's unit cost."""
    cost = funnel.cost + unit_cost * max(0, funnel.contacted - funnel.costed)
    return Group(
        label,
        is_control,
        cell_id,
        wave_id,
        funnel.members,
        funnel.contacted,
        funnel.delivered,
        funnel.opened,
        funnel.clicked,
        funnel.responded,
        outcome.converted,
        outcome.revenue,
        outcome.revenue_sq,
        cost,
    )


def merged(label: str, groups: list[Group], *, is_control: bool) -> Group:
    """Several groups as one (all treated cells; all control cells)."""
    total = Group(label, is_control)
    for g in groups:
        for name in (
            "members",
            "contacted",
            "delivered",
            "opened",
            "clicked",
            "responded",
            "converted",
            "revenue",
            "revenue_sq",
            "cost",
        ):
            setattr(total, name, getattr(total, name) + getattr(g, name))
    return total


def lift(treated: Group, control: Group) -> Lift | None:
    """``treated`` against ``control``; None without control members."""
    if control.members == 0 or treated.members == 0:
        return None
    conv = two_proportions(treated.converted, treated.members, control.converted, control.members)
    rev = welch(treated.sample, control.sample)
    n = treated.members
    inc_rev = rev.diff * n
    return Lift(
        conversion=conv,
        revenue_per_person=rev,
        p_adjusted=None,
        incremental_conversions=conv.diff * n,
        incremental_conversions_ci=(conv.ci_low * n, conv.ci_high * n),
        incremental_revenue=inc_rev,
        incremental_revenue_ci=(rev.ci_low * n, rev.ci_high * n),
        roi=_ratio(inc_rev - treated.cost, treated.cost),
        cost_per_incremental_conversion=(
            treated.cost / (conv.diff * n) if conv.diff > 0 and treated.cost else None
        ),
    )


@dataclass
class Winner:
    """The A/B test between treated cells: the best on ``metric``, and whether it beats each
    other cell after the correction."""

    metric: str
    best_cell_id: int
    best_label: str
    significant: bool
    correction: str
    comparisons: list[dict[str, Any]]


@dataclass
class Report:
    """The evaluation of one campaign."""

    campaign_id: int
    campaign_code: str
    campaign_name: str
    status: str
    currency: str
    rule: str
    window_days: int
    window_start: datetime | None
    window_end: datetime | None
    final: bool
    verdict: str
    notes: list[str]
    correction: str
    total: Group
    control: Group | None
    cells: list[Group]
    waves: list[dict[str, Any]] = field(default_factory=list)
    winner: Winner | None = None
    #: the stored funnel counters disagreed with the rows: the funnel was counted from them
    counters_stale: bool = False


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def group_dict(g: Group) -> dict[str, Any]:
    """A group as JSON: its counts, rates, money and lift (with significance)."""
    out = asdict(g)
    out.pop("revenue_sq")
    out["rates"] = g.rates
    if g.lift is not None:
        out["lift"]["significant"] = g.lift.significant
        out["lift"]["conversion"]["significant"] = g.lift.conversion.significant
        out["lift"]["revenue_per_person"]["significant"] = g.lift.revenue_per_person.significant
    return _plain(out)  # type: ignore[no-any-return]


def report_dict(r: Report) -> dict[str, Any]:
    """The whole report as JSON (what ``--json`` prints and the API returns)."""
    out = {k: v for k, v in asdict(r).items() if k not in ("total", "control", "cells", "waves")}
    out["total"] = group_dict(r.total)
    out["control"] = group_dict(r.control) if r.control else None
    out["cells"] = [group_dict(c) for c in r.cells]
    out["waves"] = [
        {**w, "total": group_dict(w["total"]), "cells": [group_dict(c) for c in w["cells"]]}
        for w in r.waves
    ]
    return _plain(out)  # type: ignore[no-any-return]
