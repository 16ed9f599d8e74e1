"""The statistics of an evaluation, from counts and sums (what SQL aggregates return).

* :func:`two_proportions` — a rate against another (a cell against its control group): the
  two-proportion z-test with the pooled standard error (as statsmodels' ``proportions_ztest``)
  and the Wald interval of the difference with the unpooled one (as its
  ``confint_proportions_2indep(method="wald")``).
* :func:`welch` — a mean against another (revenue per person): Welch's t-test from each group's
  count, sum and sum of squares (as scipy's ``ttest_ind_from_stats(equal_var=False)``).
* :func:`holm` — Holm's step-down adjustment of several p-values (as statsmodels'
  ``multipletests(method="holm")``).

All tests are two-sided and fixed-horizon: their p-values hold when the response window has
closed, not while results are still coming in (the report says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from closedloop.evaluation import student

#: the level of every interval and test of a report
ALPHA = 0.05
#: the name of the multiple-comparison correction, as reports print it
CORRECTION = "Holm (step-down), family-wise error rate 5 %"


def _norm_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _norm_ppf(q: float) -> float:
    return NormalDist().inv_cdf(q)


@dataclass(frozen=True)
class ProportionTest:
    """A rate ``x1/n1`` against ``x0/n0``: difference, relative lift, z, p-value and interval.

    ``z`` and ``p_value`` are None when the test cannot be made (an empty group, or both rates
    0 % or both 100 %, so there is no variation to test against).
    """

    rate1: float
    rate0: float
    diff: float
    relative_lift: float | None
    z: float | None
    p_value: float | None
    ci_low: float
    ci_high: float

    @property
    def significant(self) -> bool:
        """True when the difference is significant at the 5 % level."""
        return self.p_value is not None and self.p_value < ALPHA


def two_proportions(x1: int, n1: int, x0: int, n0: int, *, alpha: float = ALPHA) -> ProportionTest:
    """Compare the rate of group 1 (``x1`` successes of ``n1``) with group 0's.

    Raises ValueError on counts that cannot be (negative, or more successes than trials).
    """
    for name, x, n in (("x1", x1, n1), ("x0", x0, n0)):
        if n < 0 or x < 0 or x > n:
            raise ValueError(f"{name}={x} of {n}: successes must be between 0 and the trials")
    rate1 = x1 / n1 if n1 else 0.0
    rate0 = x0 / n0 if n0 else 0.0
    diff = rate1 - rate0
    lift = diff / rate0 if rate0 > 0 else None
    if n1 == 0 or n0 == 0:
        return ProportionTest(rate1, rate0, diff, lift, None, None, diff, diff)
    pooled = (x1 + x0) / (n1 + n0)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    z = diff / se_pooled if se_pooled > 0 else None
    p_value = 2 * _norm_sf(abs(z)) if z is not None else None
    se = math.sqrt(rate1 * (1 - rate1) / n1 + rate0 * (1 - rate0) / n0)
    half = _norm_ppf(1 - alpha / 2) * se
    return ProportionTest(rate1, rate0, diff, lift, z, p_value, diff - half, diff + half)


@dataclass(frozen=True)
class Sample:
    """A group's count, sum and sum of squares of one value per person (e.g. revenue)."""

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float:
        """The mean per person (0 for an empty group)."""
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The sample variance (n - 1 in the denominator; 0 below two persons)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))


@dataclass(frozen=True)
class MeanTest:
    """A mean against another (Welch): difference, t, degrees of freedom, p-value, interval."""

    mean1: float
    mean0: float
    diff: float
    t: float | None
    df: float | None
    p_value: float | None
    ci_low: float
    ci_high: float

    @property
    def significant(self) -> bool:
        """True when the difference is significant at the 5 % level."""
        return self.p_value is not None and self.p_value < ALPHA


def welch(one: Sample, zero: Sample, *, alpha: float = ALPHA) -> MeanTest:
    """Welch's t-test of ``one``'s mean against ``zero``'s (unequal variances)."""
    diff = one.mean - zero.mean
    if one.n < 2 or zero.n < 2:
        return MeanTest(one.mean, zero.mean, diff, None, None, None, diff, diff)
    a = one.variance / one.n
    b = zero.variance / zero.n
    se = math.sqrt(a + b)
    spread = a * a / (one.n - 1) + b * b / (zero.n - 1)
    if se == 0 or spread == 0:  # no variation (or too little for a float to hold)
        return MeanTest(one.mean, zero.mean, diff, None, None, None, diff, diff)
    df = (a + b) ** 2 / spread
    t = diff / se
    p_value = student.two_sided_p(t, df)
    half = student.quantile(1 - alpha / 2, df) * se
    return MeanTest(one.mean, zero.mean, diff, t, df, p_value, diff - half, diff + half)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's adjusted p-values, in the order given (None stays None and is not counted)."""
    known = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(known)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(known):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
