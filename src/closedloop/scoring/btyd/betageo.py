"""BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").

While alive, a customer buys as a Poisson process with rate ``λ``; after each
purchase they drop out with probability ``p``.  Across customers
``λ ~ Gamma(r, α)`` (shape ``r``, rate ``α``) and ``p ~ Beta(a, b)``.

Log-likelihood of one customer with ``x`` repeat purchases, the last at
``t_x``, observed for ``T`` since the first purchase (paper, eq. 6)::

    log Γ(r+x) - log Γ(r) + r log α + log B(a, b+x) - log B(a, b)
      - (r+x) log(α+T) + log(1 + [x>0] a/(b+x-1) ((α+T)/(α+t_x))^(r+x))

The last term is a softplus of ``D = log a - log(b+x-1) + (r+x) log((α+T)/(α+t_x))``,
so heavy buyers never overflow, and ``P(alive) = 1 / (1 + e^D)`` falls out of
the same quantity.  The gradient is analytic (digamma functions).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from closedloop.scoring.btyd._base import TransactionModel, check_rfm, nbd_start
from closedloop.scoring.btyd._fitting import (
    Collapsed,
    FloatArray,
    Objective,
    check_time,
    unique_index,
)
from closedloop.scoring.btyd._special import Numeric, bg_kernel


def _dropout_log_odds(
    r: Numeric,
    alpha: Numeric,
    a: Numeric,
    b: Numeric,
    x: FloatArray,
    tx: FloatArray,
    age: FloatArray,
) -> FloatArray:
    """``D`` above: log odds that a customer has dropped out (``-inf`` when ``x = 0``)."""
    pos = x > 0
    safe_x = np.where(pos, x, 1.0)
    d = (
        np.log(a)
        - np.log(b + safe_x - 1.0)
        + (r + safe_x) * (np.log(alpha + age) - np.log(alpha + tx))
    )
    out: FloatArray = np.where(pos, d, -np.inf).astype(np.float64)
    return out


class BetaGeo(TransactionModel):
    """BG/NBD purchase model with parameters ``r, alpha, a, b``.

    Example::

        model = BetaGeo().fit(frequency, recency, T)
        model.params                       # {"r": ..., "alpha": ..., "a": ..., "b": ...}
        model.conditional_expected_purchases(39, frequency, recency, T)

    Times (``recency``, ``T``, ``t``) are in whatever unit the data use; ``alpha``
    is then in that unit too (weeks in the paper).
    """

    PARAM_NAMES = ("r", "alpha", "a", "b")
    MODEL_NAME = "BG/NBD"

    def _start(self, data: Collapsed) -> FloatArray:
        r, alpha = nbd_start(data)
        return np.log(np.array([r, alpha, 1.0, 1.0], dtype=np.float64))

    def _objective(self, data: Collapsed) -> Objective:
        x, tx, age = data.columns
        w = data.weights / np.sum(data.weights)
        xs, ix = unique_index(x)
        w_x = np.bincount(ix, weights=w, minlength=xs.size)
        wx = w * x
        # Only repeat buyers (x > 0) can have dropped out after their last purchase.
        pos = x > 0
        wp, xp, txp, agep = w[pos], x[pos], tx[pos], age[pos]
        ixp = ix[pos]
        xs_safe = np.where(xs > 0, xs, 1.0)

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            r, alpha, a, b = np.exp(theta)
            # Per distinct x: gamma/beta functions and their derivatives.
            lg = special.gammaln(r + xs) - special.gammaln(r)
            lb = special.betaln(a, b + xs) - special.betaln(a, b)
            psi_ab = special.digamma(a + b)
            psi_abx = special.digamma(a + b + xs)
            d_r_x = special.digamma(r + xs) - special.digamma(r)
            d_a_x = psi_ab - psi_abx
            d_b_x = special.digamma(b + xs) - special.digamma(b) + psi_ab - psi_abx
            inv_b_x = 1.0 / (b + xs_safe - 1.0)
            # Every row: the "alive at T" part.
            log_at = np.log(alpha + age)
            inv_at = 1.0 / (alpha + age)
            w_log_at = float(w @ log_at)
            w_inv_at = float(w @ inv_at)
            # Repeat buyers: D and its softplus / logistic.
            log_atp = np.log(alpha + agep)
            gap = log_atp - np.log(alpha + txp)
            rxp = r + xp
            d = (np.log(a) + np.log(inv_b_x))[ixp] + rxp * gap
            dead = special.expit(d)
            w_dead = wp * dead
            ll = (
                w_x @ (lg + lb)
                + r * np.log(alpha)
                - r * w_log_at
                - wx @ log_at
                + wp @ np.logaddexp(0.0, d)
            )
            g_r = w_x @ d_r_x + np.log(alpha) - w_log_at + w_dead @ gap
            g_alpha = (
                r / alpha
                - r * w_inv_at
                - wx @ inv_at
                + (w_dead * rxp) @ (1.0 / (alpha + agep) - 1.0 / (alpha + txp))
            )
            g_a = w_x @ d_a_x + float(np.sum(w_dead)) / a
            g_b = w_x @ d_b_x - w_dead @ inv_b_x[ixp]
            value = -float(ll)
            grad = -np.array([g_r, g_alpha, g_a, g_b]) * np.exp(theta)
            if not np.isfinite(value) or not np.all(np.isfinite(grad)):
                return 1e10, np.zeros_like(theta)
            return value, grad

        return objective

    # ------------------------------------------------------------------ predictions
    def customer_log_likelihood(self, frequency: object, recency: object, T: object) -> FloatArray:
        """Log-likelihood of each customer's ``(x, t_x, T)`` (paper, eq. 6)."""
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        r, alpha, a, b = self._values()
        d = _dropout_log_odds(r, alpha, a, b, x, tx, age)
        ll = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + x)
            - special.betaln(a, b)
            - (r + x) * np.log(alpha + age)
            + np.logaddexp(0.0, d)
        )
        return np.asarray(ll, dtype=np.float64)

    def probability_alive(self, frequency: object, recency: object, T: object) -> FloatArray:
        """P(customer still alive at ``T`` | x, t_x, T) (paper, eq. 11)."""
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        r, alpha, a, b = self._values()
        return np.asarray(special.expit(-_dropout_log_odds(r, alpha, a, b, x, tx, age)))

    def conditional_expected_purchases(
        self, t: object, frequency: object, recency: object, T: object
    ) -> FloatArray:
        """Expected repeat purchases in ``(T, T+t]`` given ``(x, t_x, T)`` (paper, eq. 10).

        Computed as ``P(alive) * E[purchases in t | alive]`` with the Gaussian
        hypergeometric term evaluated after Euler's transformation, so heavy
        buyers (``x`` in the thousands) give finite values.
        """
        horizon = check_time("t", t)
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        r, alpha, a, b = self._values()
        alive = special.expit(-_dropout_log_odds(r, alpha, a, b, x, tx, age))
        expected = bg_kernel(a, b + x, r + x, alpha + age, horizon)
        return np.asarray(alive * expected, dtype=np.float64)

    def expected_purchases_new_customer(self, t: object) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in ``(0, t]`` (eq. 9)."""
        horizon = check_time("t", t)
        r, alpha, a, b = self._values()
        return bg_kernel(a, b, r, alpha, horizon)

    def probability_of_n_purchases(self, t: object, n: object) -> FloatArray:
        """P(X(t) = n) for a new customer (paper, eq. 8).

        ``1 - Σ_{j<n} NB(j)`` is the negative-binomial tail, evaluated as a
        regularised incomplete beta function to avoid cancellation.
        """
        horizon = check_time("t", t)
        count = check_time("n", n)
        if np.any(count != np.round(count)):
            raise ValueError("n must hold whole numbers of purchases")
        horizon, count = np.broadcast_arrays(horizon, count)
        r, alpha, a, b = self._values()
        log_p = np.log(alpha) - np.log(alpha + horizon)
        q = horizon / (alpha + horizon)
        log_nb = (
            special.gammaln(r + count)
            - special.gammaln(r)
            - special.gammaln(count + 1.0)
            + r * log_p
            + special.xlogy(count, q)
        )
        still = np.exp(special.betaln(a, b + count) - special.betaln(a, b) + log_nb)
        pos = count > 0
        safe_n = np.where(pos, count, 1.0)
        dropped = np.exp(special.betaln(a + 1.0, b + safe_n - 1.0) - special.betaln(a, b))
        tail = special.betainc(safe_n, r, q)
        return np.asarray(still + np.where(pos, dropped * tail, 0.0), dtype=np.float64)
