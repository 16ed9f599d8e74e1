"""The beta-geometric drop-out family shared by BG/NBD and MBG/NBD.

While alive, a customer buys as a Poisson process with rate ``λ ~ Gamma(r, α)``; at each
chance to drop out they do with probability ``p ~ Beta(a, b)``. The two models differ only
in how many chances a customer with ``x`` repeat purchases has had: ``x`` in BG/NBD (after
each repeat purchase), ``x + 1`` in MBG/NBD (also right after the first one). With
``s`` = :attr:`GeometricDropout.EXTRA_CHANCES` (0 or 1), the log-likelihood of one customer
with ``x`` repeat purchases, the last at ``t_x``, observed for ``T`` is::

    log Γ(r+x) - log Γ(r) + r log α + log B(a, b+x+s) - log B(a, b)
      - (r+x) log(α+T) + [x+s > 0] log(1 + e^D)
    D = log a - log(b+x+s-1) + (r+x) log((α+T)/(α+t_x))

``P(alive) = 1 / (1 + e^D)`` (1 when ``x + s = 0``); given alive, the drop-out probability
is ``Beta(a, b+x+s)``, so the expected purchases use the BG/NBD kernel with ``b+x+s``. The
fit (an analytic gradient, computed once per distinct ``x``) and every prediction below
serve both models.
"""

from __future__ import annotations

from typing import ClassVar

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


def dropout_log_odds(
    r: Numeric,
    alpha: Numeric,
    a: Numeric,
    b: Numeric,
    x: FloatArray,
    tx: FloatArray,
    age: FloatArray,
    extra: float,
) -> FloatArray:
    """``D`` above: log odds that a customer has dropped out (``-inf`` when ``x + s = 0``)."""
    pos = x + extra > 0
    safe_x = np.where(pos, x, 1.0)
    d = (
        np.log(a)
        - np.log(b + safe_x + extra - 1.0)
        + (r + safe_x) * (np.log(alpha + age) - np.log(alpha + tx))
    )
    out: FloatArray = np.where(pos, d, -np.inf).astype(np.float64)
    return out


class GeometricDropout(TransactionModel):
    """A purchase model of the family above, parameters ``r, alpha, a, b``."""

    PARAM_NAMES = ("r", "alpha", "a", "b")
    #: drop-out chances a customer has had besides one per repeat purchase (``s``)
    EXTRA_CHANCES: ClassVar[float] = 0.0

    def _start(self, data: Collapsed) -> FloatArray:
        r, alpha = nbd_start(data)
        return np.log(np.array([r, alpha, 1.0, 1.0], dtype=np.float64))

    def _objective(self, data: Collapsed) -> Objective:
        s = self.EXTRA_CHANCES
        x, tx, age = data.columns
        w = data.weights / np.sum(data.weights)
        xs, ix = unique_index(x)
        w_x = np.bincount(ix, weights=w, minlength=xs.size)
        wx = w * x
        # Only customers who have had a chance to drop out contribute the softplus term.
        pos = x + s > 0
        wp, xp, txp, agep = w[pos], x[pos], tx[pos], age[pos]
        ixp = ix[pos]
        xs_safe = np.where(xs + s > 0, xs, 1.0)

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            r, alpha, a, b = np.exp(theta)
            # Per distinct x: gamma/beta functions and their derivatives.
            lg = special.gammaln(r + xs) - special.gammaln(r)
            lb = special.betaln(a, b + xs + s) - special.betaln(a, b)
            psi_ab = special.digamma(a + b)
            psi_abx = special.digamma(a + b + xs + s)
            d_r_x = special.digamma(r + xs) - special.digamma(r)
            d_a_x = psi_ab - psi_abx
            d_b_x = special.digamma(b + xs + s) - special.digamma(b) + psi_ab - psi_abx
            inv_b_x = 1.0 / (b + xs_safe + s - 1.0)
            # Every row: the "alive at T" part.
            log_at = np.log(alpha + age)
            inv_at = 1.0 / (alpha + age)
            w_log_at = float(w @ log_at)
            w_inv_at = float(w @ inv_at)
            # Rows that may have dropped out: D and its softplus / logistic.
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

    def _log_odds(self, x: FloatArray, tx: FloatArray, age: FloatArray) -> FloatArray:
        r, alpha, a, b = self._values()
        return dropout_log_odds(r, alpha, a, b, x, tx, age, self.EXTRA_CHANCES)

    def customer_log_likelihood(self, frequency: object, recency: object, T: object) -> FloatArray:
        """Log-likelihood of each customer's ``(x, t_x, T)``."""
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        r, alpha, a, b = self._values()
        ll = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + x + self.EXTRA_CHANCES)
            - special.betaln(a, b)
            - (r + x) * np.log(alpha + age)
            + np.logaddexp(0.0, self._log_odds(x, tx, age))
        )
        return np.asarray(ll, dtype=np.float64)

    def probability_alive(self, frequency: object, recency: object, T: object) -> FloatArray:
        """P(customer still alive at ``T`` | x, t_x, T)."""
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        return np.asarray(special.expit(-self._log_odds(x, tx, age)))

    def conditional_expected_purchases(
        self, t: object, frequency: object, recency: object, T: object
    ) -> FloatArray:
        """Expected repeat purchases in ``(T, T+t]`` given ``(x, t_x, T)``: ``P(alive)`` times
        the purchases expected if alive, the Gaussian hypergeometric term evaluated after
        Euler's transformation, so heavy buyers (``x`` in the thousands) give finite values."""
        horizon = check_time("t", t)
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        r, alpha, a, b = self._values()
        alive = special.expit(-self._log_odds(x, tx, age))
        expected = bg_kernel(a, b + x + self.EXTRA_CHANCES, r + x, alpha + age, horizon)
        return np.asarray(alive * expected, dtype=np.float64)

    def expected_purchases_new_customer(self, t: object) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in ``(0, t]`` (who, in
        MBG/NBD, drops out at once with probability ``a/(a+b)``)."""
        horizon = check_time("t", t)
        r, alpha, a, b = self._values()
        s = self.EXTRA_CHANCES
        stays = (b / (a + b)) ** s
        return np.asarray(stays * bg_kernel(a, b + s, r, alpha, horizon), dtype=np.float64)


__all__ = ["GeometricDropout", "dropout_log_odds"]
