"""Lifecycle stages of buyers (new, active, at risk, lapsed, won back) and the matching
lifecycle status of the person record (prospect, customer, lapsed, won back).

The rules, in order (the first that applies wins; thresholds are :class:`LifecycleRules`):

1. **new**: the first purchase is at most ``new_days`` old;
2. **won back**: the last purchase came after a gap of at least ``lapsed_days`` since the one
   before, and is at most ``at_risk_days`` old;
3. **lapsed**: no purchase for more than ``lapsed_days``, or P(alive) below ``p_lapsed``;
4. **at risk**: no purchase for more than ``at_risk_days``, or P(alive) below ``p_at_risk``;
5. **active**: everyone else.

Persons without a purchase get no stage (they are prospects).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, model_validator

from closedloop.vocab import LifecycleStatus

if TYPE_CHECKING:  # numpy loads with the scoring run, not with the rules
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

NEW = "new"
ACTIVE = "active"
AT_RISK = "at_risk"
LAPSED = "lapsed"
WON_BACK = "won_back"
#: Every stage, in the order of the customer value cycle.
STAGES: tuple[str, ...] = (NEW, ACTIVE, AT_RISK, LAPSED, WON_BACK)

#: The person's lifecycle status for each stage (``None`` → prospect).
STATUS_OF_STAGE: dict[str, LifecycleStatus] = {
    NEW: LifecycleStatus.CUSTOMER,
    ACTIVE: LifecycleStatus.CUSTOMER,
    AT_RISK: LifecycleStatus.CUSTOMER,
    LAPSED: LifecycleStatus.LAPSED,
    WON_BACK: LifecycleStatus.WON_BACK,
}


class LifecycleRules(BaseModel):
    """Thresholds of the lifecycle stages (days and probabilities)."""

    new_days: int = Field(90, ge=1, le=3650, description="A first purchase this recent is new.")
    at_risk_days: int = Field(
        180, ge=1, le=3650, description="No purchase for longer than this: at risk."
    )
    lapsed_days: int = Field(
        365, ge=1, le=7300, description="No purchase for longer than this: lapsed."
    )
    p_at_risk: float = Field(0.5, ge=0, le=1, description="P(alive) below this: at risk.")
    p_lapsed: float = Field(0.1, ge=0, le=1, description="P(alive) below this: lapsed.")

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleRules:
        if self.at_risk_days > self.lapsed_days:
            raise ValueError("at_risk_days must not exceed lapsed_days")
        if self.p_lapsed > self.p_at_risk:
            raise ValueError("p_lapsed must not exceed p_at_risk")
        return self


def stages(
    rules: LifecycleRules,
    *,
    recency_days: IntArray,
    first_age_days: IntArray,
    gap_before_last: FloatArray,
    p_alive: FloatArray | None,
) -> npt.NDArray[np.object_]:
    """The stage of each buyer. ``gap_before_last`` is NaN for one-time buyers; ``p_alive``
    may be None (no purchase model could be fitted) or hold NaN for unknown values."""
    import numpy as np

    n = recency_days.size
    alive = np.full(n, np.nan) if p_alive is None else p_alive
    with np.errstate(invalid="ignore"):
        new = first_age_days <= rules.new_days
        won_back = (gap_before_last >= rules.lapsed_days) & (recency_days <= rules.at_risk_days)
        lapsed = (recency_days > rules.lapsed_days) | (alive < rules.p_lapsed)
        at_risk = (recency_days > rules.at_risk_days) | (alive < rules.p_at_risk)
    out = np.full(n, ACTIVE, dtype=object)
    out[at_risk] = AT_RISK
    out[lapsed] = LAPSED
    out[won_back] = WON_BACK
    out[new] = NEW
    return out


__all__ = [
    "ACTIVE",
    "AT_RISK",
    "LAPSED",
    "NEW",
    "STAGES",
    "STATUS_OF_STAGE",
    "WON_BACK",
    "LifecycleRules",
    "stages",
]
