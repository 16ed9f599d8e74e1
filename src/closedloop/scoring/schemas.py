"""Parameters of a scoring run and the public shapes of runs and person scores."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from closedloop.db.types import UtcDatetime
from closedloop.scoring.lifecycle import LifecycleRules


class ScoreParams(BaseModel):
    """What a scoring run computes, and over which period."""

    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(
        None,
        description="Score the history up to and including this UTC day (default: today). "
        "Orders dated later are left out and counted in the run's summary.",
    )
    window_days: int | None = Field(
        730,
        ge=1,
        le=36_500,
        description="RFM window: frequency and monetary count the purchases of the last N "
        "days (null: the whole history). Recency always looks at the whole history.",
    )
    horizon_days: int = Field(365, ge=1, le=3650, description="CLV horizon in days.")
    discount_rate: float = Field(
        0.1, ge=0, le=1, description="Annual discount rate of the CLV (0.1 = 10% a year)."
    )
    tier_shares: list[float] = Field(
        default_factory=lambda: [0.2, 0.3],
        min_length=1,
        max_length=5,
        description="Shares of the buyers in tiers A, B… by CLV; the rest form the last tier "
        "(default: A = top 20%, B = next 30%, C = the rest).",
    )
    holdout_days: int = Field(
        182,
        ge=7,
        le=3650,
        description="Longest holdout period used to check and choose the purchase model. "
        "A shorter history gets a holdout of a third of its length (a 39-week history, 13 "
        "weeks); the check is skipped under 28 days.",
    )
    fit_sample: int = Field(
        250_000,
        ge=1_000,
        le=100_000_000,
        description="Fit the models on at most this many customers (a seeded random sample).",
    )
    seed: int = Field(20261122, ge=0, le=2**32 - 1, description="Seed of the fitting sample.")
    fit_timeout: float = Field(
        120.0,
        gt=0,
        le=86_400,
        description="Seconds the four model fits may take in all (a safety net); a fit still "
        "running then is stopped after its current iteration and reported, and the run goes "
        "on with the other model.",
    )
    base_currency: str | None = Field(
        None,
        min_length=3,
        max_length=3,
        description="Currency of every amount (default: CLOSEDLOOP_DEFAULT_CURRENCY); orders "
        "in other currencies are converted with the currency_rates table.",
    )
    lifecycle: LifecycleRules = Field(default_factory=LifecycleRules)  # type: ignore[arg-type]
    update_lifecycle: bool = Field(
        False,
        description="Also set each person's lifecycle status (prospect, customer, lapsed, "
        "won back) from the run's stages.",
    )

    @field_validator("tier_shares")
    @classmethod
    def _shares(cls, value: list[float]) -> list[float]:
        if any(not (0 < share < 1) for share in value) or sum(value) >= 1:
            raise ValueError("each share must be between 0 and 1, and together less than 1")
        return value

    @field_validator("base_currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not value.isalpha():
            raise ValueError("must be a three-letter currency code such as EUR")
        return value.upper() if value else value

    @model_validator(mode="after")
    def _as_of_range(self) -> ScoreParams:
        if self.as_of is not None and not (date(1971, 1, 1) <= self.as_of <= date(2200, 1, 1)):
            raise ValueError("as_of must be between 1971 and 2200")
        return self

    def resolved_as_of(self) -> date:
        """The as-of day: the one given, else today in UTC."""
        return self.as_of or datetime.now(UTC).date()


class ScoreRunPublic(BaseModel):
    """A scoring run: parameters, status, models and summary."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str = Field(description="queued, running, done or failed.")
    as_of: UtcDatetime
    params: dict[str, Any]
    models: dict[str, Any] | None = Field(
        None,
        description="Both purchase models' fits, the holdout check, the choice made, "
        "the Gamma-Gamma spend model and the CLV settings.",
    )
    summary: dict[str, Any] | None = Field(
        None,
        description="Counts of the run: persons scored, segments, tiers, stages, orders left out.",
    )
    progress: float | None
    message: str | None
    error: str | None
    created_by: str | None
    started_at: UtcDatetime
    finished_at: UtcDatetime | None


class PersonScorePublic(BaseModel):
    """A person's figures in one run (amounts in the run's base currency)."""

    model_config = ConfigDict(from_attributes=True)

    run_id: int
    as_of: UtcDatetime | None = None
    recency_days: int | None = Field(description="Days since the last purchase.")
    frequency: int = Field(description="Purchase days in the RFM window.")
    monetary: Decimal | None = Field(description="Net revenue in the RFM window.")
    rfm_code: str | None = Field(description="R, F and M quintile scores, e.g. 543.")
    rfm_segment: str | None
    p_alive: float | None = Field(description="Probability that the customer is still active.")
    expected_30: float | None
    expected_90: float | None
    expected_365: float | None
    expected_spend: Decimal | None = Field(description="Expected spend per purchase.")
    clv: Decimal | None = Field(description="Discounted expected revenue over the horizon.")
    tier: str | None
    lifecycle_stage: str | None
    revenue: Decimal | None = Field(description="Net revenue of the whole history.")
    purchase_days: int | None
    first_purchase_on: date | None


__all__ = ["PersonScorePublic", "ScoreParams", "ScoreRunPublic"]
