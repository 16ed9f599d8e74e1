"""Student's t distribution in plain Python: the two-sided p-value of a t statistic and the
quantile of an interval, for Welch's test (:func:`closedloop.evaluation.stats.welch`).

scipy's ``stdtr``/``stdtrit`` gave the same figures but importing ``scipy.special`` (and
numpy) cost a report about 0.3 s of CPU, more than the statistics themselves. The p-value is
the regularized incomplete beta function I_x(df/2, 1/2) at x = df / (df + t²), evaluated by its
continued fraction (modified Lentz, as in Numerical Recipes §6.4); the quantile inverts it by
Newton's method inside a bracket. Agreement with scipy (to 1e-9 relative and better) is
checked in tests/unit/evaluation/test_stats.py.
"""

from __future__ import annotations

import math

_TINY = 1e-300
_EPS = 1e-16
_MAX_TERMS = 100_000  # the fraction needs O(sqrt(df)) terms: enough for df far above 1e9


def _fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2))."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def _log_gamma_ratio(a: float) -> float:
    """ln Γ(a + 1/2) − ln Γ(a); for large ``a`` by its asymptotic series (the difference of
    two lgamma of ~a·ln a would keep only nine digits at a = 10⁷)."""
    if a < 20.0:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    inv = 1.0 / a
    inv2 = inv * inv
    return (
        0.5 * math.log(a)
        - inv / 8.0
        + inv * inv2 * (1.0 / 192.0 - inv2 * (1.0 / 640.0 - inv2 * 17.0 / 14336.0))
    )


_LOG_GAMMA_HALF = math.lgamma(0.5)


def two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's T with ``df`` degrees of freedom (``df`` > 0): the
    regularized incomplete beta I_x(df/2, 1/2) at x = df / (df + t²)."""
    a, b = df / 2.0, 0.5
    t2 = t * t
    x, y = df / (df + t2), t2 / (df + t2)
    if y == 0.0:  # t is 0 (or too close for a double to tell)
        return 1.0
    log_front = _log_gamma_ratio(a) - _LOG_GAMMA_HALF - a * math.log1p(t2 / df) + b * math.log(y)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return min(1.0, front * _fraction(a, b, x) / a)
    return min(1.0, 1.0 - front * _fraction(b, a, y) / b)


def _density(t: float, df: float) -> float:
    log_pdf = (
        _log_gamma_ratio(df / 2.0)
        - 0.5 * math.log(df * math.pi)
        - (df + 1.0) / 2.0 * math.log1p(t * t / df)
    )
    return math.exp(log_pdf)


def quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = ``q`` for ``q`` in (0.5, 1) (as scipy's ``stdtrit(df, q)``)."""
    target = 2.0 * (1.0 - q)  # the two-sided tail beyond t
    low, high = 0.0, 1.0
    while two_sided_p(high, df) > target:
        low, high = high, high * 2.0
    t = (low + high) / 2.0
    for _ in range(200):
        excess = two_sided_p(t, df) - target  # decreasing in t
        if excess > 0:
            low = t
        else:
            high = t
        step = excess / (2.0 * _density(t, df))
        nxt = t + step
        if not low < nxt < high:  # Newton left the bracket: bisect
            nxt = (low + high) / 2.0
        if abs(nxt - t) <= 1e-15 * max(1.0, abs(t)):
            return nxt
        t = nxt
    return t
