"""Gamma-Gamma spend model and discounted customer lifetime value.

Fader, Hardie & Lee (2005, "RFM and CLV: Using Iso-Value Curves for Customer
Base Analysis") and Fader & Hardie's note "The Gamma-Gamma Model of Monetary
Value": a customer's transaction values are ``Gamma(p, ν)`` around a personal
mean ``p/ν``, and ``ν ~ Gamma(q, γ)`` across customers.  The observed average
``m`` of ``x`` transactions then has the marginal density::

    Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m^(px-1) · x^(px) / (γ + x m)^(px+q)

The note calls the scale ``γ``; ``lifetimes`` calls it ``v``.  The model
assumes spend is independent of the purchase process, so it is fitted on the
repeat buyers only and combined with any transaction model for CLV.
"""

from __future__ import annotations

from typing import Protocol, Self

import numpy as np
from scipy import special

from closedloop.scoring.btyd._base import FittedModel
from closedloop.scoring.btyd._fitting import (
    Collapsed,
    FloatArray,
    Objective,
    as_float_array,
    check_rfm,
    check_weights,
    collapse_rows,
    unique_index,
)


class PurchaseForecaster(Protocol):
    """Anything with a BG/NBD-style conditional expectation (BetaGeo, ParetoNBD)."""

    def conditional_expected_purchases(
        self, t: object, frequency: object, recency: object, T: object
    ) -> FloatArray:
        """Expected repeat purchases in ``(T, T+t]``."""
        ...


class GammaGamma(FittedModel):
    """Gamma-Gamma model of average transaction value, parameters ``p, q, gamma``.

    Example::

        repeat = frequency > 0
        spend = GammaGamma().fit(frequency[repeat], monetary_value[repeat])
        spend.conditional_expected_average_value(frequency, monetary_value)
        spend.customer_lifetime_value(bgnbd, frequency, recency, T, monetary_value)
    """

    PARAM_NAMES = ("p", "q", "gamma")
    MODEL_NAME = "Gamma-Gamma"

    def fit(self, frequency: object, monetary_value: object, weights: object = None) -> Self:
        """Fit by maximum likelihood on repeat buyers and return ``self``.

        ``frequency`` is the number of repeat transactions ``x`` (must be at
        least 1) and ``monetary_value`` their mean value ``m`` (must be > 0).
        """
        x = as_float_array("frequency", frequency)
        m = as_float_array("monetary_value", monetary_value)
        if x.size != m.size:
            raise ValueError(
                f"frequency and monetary_value must have the same length, got {x.size} and {m.size}"
            )
        if np.any(x < 1) or np.any(x != np.round(x)):
            raise ValueError(
                "frequency must be whole numbers >= 1: fit the Gamma-Gamma model on repeat "
                "buyers only"
            )
        if np.any(m <= 0):
            raise ValueError("monetary_value must be positive for repeat buyers")
        data = collapse_rows((x, m), check_weights(weights, x.size))
        mean = float(np.average(data.columns[1], weights=data.weights))
        self._store_fit(data, self._objective(data), np.log(np.array([1.0, 2.0, mean])))
        return self

    def _objective(self, data: Collapsed) -> Objective:
        x, m = data.columns
        w = data.weights / np.sum(data.weights)
        xs, ix = unique_index(x)
        log_m, log_x = np.log(m), np.log(x)

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            p, q, gamma = np.exp(theta)
            px = p * xs
            lg = special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
            psi_pxq = special.digamma(px + q)
            psi_px = special.digamma(px)
            log_den = np.log(gamma + x * m)
            pxr = p * x
            ll = lg[ix] + q * np.log(gamma) + (pxr - 1.0) * log_m + pxr * log_x
            ll = ll - (pxr + q) * log_den
            g_p = x * (psi_pxq[ix] - psi_px[ix] + log_m + log_x - log_den)
            g_q = psi_pxq[ix] - special.digamma(q) + np.log(gamma) - log_den
            g_gamma = q / gamma - (pxr + q) / (gamma + x * m)
            value = -float(w @ ll)
            grad = -np.array([w @ g_p, w @ g_q, w @ g_gamma]) * np.exp(theta)
            if not np.isfinite(value) or not np.all(np.isfinite(grad)):
                return 1e10, np.zeros_like(theta)
            return value, grad

        return objective

    def conditional_expected_average_value(
        self, frequency: object, monetary_value: object
    ) -> FloatArray:
        """E[mean transaction value | x, m] = ``p (γ + x m) / (p x + q - 1)``.

        A weighted average of the population mean ``pγ/(q-1)`` and the
        customer's own mean ``m``; for ``x = 0`` it is the population mean
        (``monetary_value`` is then ignored).  Requires ``p x + q > 1``.
        """
        x = as_float_array("frequency", frequency, allow_scalar=True)
        m = as_float_array("monetary_value", monetary_value, allow_scalar=True)
        try:
            x, m = np.broadcast_arrays(x, m)
        except ValueError as exc:
            raise ValueError("frequency and monetary_value have incompatible shapes") from exc
        p, q, gamma = self._values()
        denominator = p * x + q - 1.0
        if np.any(denominator <= 0):
            raise ValueError(
                f"expected spend is infinite for p*frequency + q <= 1 (q = {q:.3g}); "
                "the population mean needs q > 1"
            )
        return np.asarray(p * (gamma + x * np.where(x > 0, m, 0.0)) / denominator)

    def customer_lifetime_value(
        self,
        transaction_model: PurchaseForecaster,
        frequency: object,
        recency: object,
        T: object,
        monetary_value: object,
        *,
        periods: int = 12,
        period_length: float = 52.0 / 12.0,
        discount_rate: float = 0.01,
    ) -> FloatArray:
        """Discounted expected revenue over the next ``periods`` periods.

        Units: ``period_length`` is in the transaction model's time unit (the
        default 52/12 is one month for a model fitted in weeks) and
        ``discount_rate`` is per period (default 1% a month).  Purchases
        expected in period ``k`` (``E[Y(k L)] - E[Y((k-1) L)]``) are valued at
        the expected average spend and discounted by ``(1 + d)^-k``, i.e. as if
        paid at the end of the period::

            CLV = Σ_{k=1..periods} E[M] (E[Y(kL)] - E[Y((k-1)L)]) / (1+d)^k

        Multiply by a margin to get profit rather than revenue.
        """
        if not isinstance(periods, int | np.integer) or periods < 1:
            raise ValueError(f"periods must be a positive integer, got {periods!r}")
        if not (np.isfinite(period_length) and period_length > 0):
            raise ValueError(f"period_length must be positive, got {period_length!r}")
        if not (np.isfinite(discount_rate) and discount_rate > -1):
            raise ValueError(f"discount_rate must be greater than -1, got {discount_rate!r}")
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        value = self.conditional_expected_average_value(x, monetary_value)
        total = np.zeros(np.broadcast(x, value).shape, dtype=np.float64)
        previous = np.zeros_like(total)
        for k in range(1, periods + 1):
            cumulative = transaction_model.conditional_expected_purchases(
                k * period_length, x, tx, age
            )
            total += (cumulative - previous) / (1.0 + discount_rate) ** k
            previous = cumulative
        return np.asarray(total * value, dtype=np.float64)
