"""Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

While alive, a customer buys as a Poisson process with rate ``λ`` and has an
exponentially distributed lifetime with rate ``μ``; ``λ ~ Gamma(r, α)`` and
``μ ~ Gamma(s, β)`` across customers.

Following Fader & Hardie (2005, "A Note on Deriving the Pareto/NBD Model and
Related Expressions"), the likelihood of ``(x, t_x, T)`` is::

    Γ(r+x) α^r β^s / Γ(r) * [ (α+T)^-(r+x) (β+T)^-s  +  s * I ]
    I = ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ = G(t_x) - G(T)

where the first term is "alive at ``T``" and the second "died between ``t_x``
and ``T``".  ``G`` is the Gaussian-hypergeometric tail integral of
:func:`~closedloop.scoring.btyd._tail.log_pareto_tail` (the note's
``α >= β`` / ``α < β`` cases, Euler-transformed so heavy buyers cannot
overflow).  Everything is combined in log space; ``log I`` uses
``log G(t_x) + log(1 - exp(log G(T) - log G(t_x)))``.

``G`` depends on a customer only through ``(x, u)`` with ``u`` in
``{t_x, T}``, so each likelihood evaluation computes it once per distinct
``(x, u)`` pair.  The gradient is taken by central differences of this
vectorised likelihood (all nine evaluations in one call).
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
    unique_rows,
)
from closedloop.scoring.btyd._minimise import finite_difference
from closedloop.scoring.btyd._special import Numeric, log1mexp
from closedloop.scoring.btyd._tail import log_pareto_tail, log_pareto_tail_stack


def _log_terms(
    r: Numeric,
    alpha: Numeric,
    s: Numeric,
    beta: Numeric,
    x: FloatArray,
    tx: FloatArray,
    age: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Return ``log[(α+T)^-(r+x) (β+T)^-s]`` and ``log(s I)`` (see module docstring)."""
    rx = r + x
    log_alive = np.asarray(-rx * np.log(alpha + age) - s * np.log(beta + age), dtype=np.float64)
    g_tx = log_pareto_tail(rx, s, alpha, beta, tx)
    g_age = log_pareto_tail(rx, s, alpha, beta, age)
    log_dead = np.log(s) + g_tx + log1mexp(g_age - g_tx)
    return log_alive, log_dead


class ParetoNBD(TransactionModel):
    """Pareto/NBD purchase model with parameters ``r, alpha, s, beta``.

    Example::

        model = ParetoNBD().fit(frequency, recency, T)
        model.params            # {"r": ..., "alpha": ..., "s": ..., "beta": ...}
        model.probability_alive(frequency, recency, T)

    ``alpha`` and ``beta`` are in the time unit of the data (weeks in the
    literature's CDNOW examples).
    """

    PARAM_NAMES = ("r", "alpha", "s", "beta")
    MODEL_NAME = "Pareto/NBD"
    # Central differences are accurate to ~1e-10; ask for no more than that.
    GTOL = 1e-8

    def _start(self, data: Collapsed) -> FloatArray:
        r, alpha = nbd_start(data)
        mean_age = float(np.average(data.columns[2], weights=data.weights))
        return np.log(np.array([r, alpha, 1.0, max(mean_age, 1e-3)], dtype=np.float64))

    def _objective(self, data: Collapsed) -> Objective:
        x, tx, age = data.columns
        w = data.weights / np.sum(data.weights)
        # Distinct (x, u) pairs over u in t_x and T; G is evaluated once per pair.
        (px, pu), inverse = unique_rows((np.concatenate([x, x]), np.concatenate([tx, age])))
        i_tx, i_age = inverse[: x.size], inverse[x.size :]
        xs, ix = unique_index(x)

        # Weighted sums of per-x and per-(x, t_x) terms are taken over the
        # distinct values, so each row only costs one exp and one log.
        w_x = np.bincount(ix, weights=w, minlength=xs.size)
        w_pair_tx = np.bincount(i_tx, weights=w, minlength=px.size)

        def mean_loglik(stack: FloatArray) -> FloatArray:
            r, alpha, s, beta = (np.exp(stack[:, i])[:, None] for i in range(4))
            rp = r + px
            log_g = log_pareto_tail_stack(stack, px, pu)
            log_alive = -rp * np.log(alpha + pu) - s * np.log(beta + pu)
            # logaddexp(log_alive(T), log(s (G(t_x) - G(T))))
            #   = log G(t_x) + log(s + (alive(T)/G(T) - s) exp(-(log G(t_x) - log G(T)))).
            excess = np.exp(log_alive - log_g) - s
            gap = np.maximum(log_g[:, i_tx] - log_g[:, i_age], 0.0)
            rows = np.log(s + excess[:, i_age] * np.exp(-gap))
            lg = special.gammaln(r + xs) - special.gammaln(r)
            const = (r * np.log(alpha) + s * np.log(beta))[:, 0]
            return np.asarray(lg @ w_x + const + log_g @ w_pair_tx + rows @ w, dtype=np.float64)

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            with np.errstate(all="ignore"):
                value, grad = finite_difference(mean_loglik, theta)
            if not np.isfinite(value) or not np.all(np.isfinite(grad)):
                return 1e10, np.zeros_like(theta)
            return -value, -grad

        return objective

    # ------------------------------------------------------------------ predictions
    def customer_log_likelihood(self, frequency: object, recency: object, T: object) -> FloatArray:
        """Log-likelihood of each customer's ``(x, t_x, T)`` (Fader-Hardie note, eq. 12)."""
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        r, alpha, s, beta = self._values()
        with np.errstate(divide="ignore"):
            log_alive, log_dead = _log_terms(r, alpha, s, beta, x, tx, age)
        ll = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * np.log(alpha)
            + s * np.log(beta)
            + np.logaddexp(log_alive, log_dead)
        )
        return np.asarray(ll, dtype=np.float64)

    def probability_alive(self, frequency: object, recency: object, T: object) -> FloatArray:
        """P(customer still alive at ``T`` | x, t_x, T) (Fader-Hardie note, eq. 18)."""
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        r, alpha, s, beta = self._values()
        with np.errstate(divide="ignore"):
            log_alive, log_dead = _log_terms(r, alpha, s, beta, x, tx, age)
        return np.asarray(special.expit(log_alive - log_dead), dtype=np.float64)

    def conditional_expected_purchases(
        self, t: object, frequency: object, recency: object, T: object
    ) -> FloatArray:
        """Expected repeat purchases in ``(T, T+t]`` given ``(x, t_x, T)`` (note, eq. 21).

        ``(r+x)(β+T) / ((α+T)(s-1)) [1 - ((β+T)/(β+T+t))^(s-1)] P(alive)``,
        written with ``exprel`` so that ``s = 1`` is handled exactly.
        """
        horizon = check_time("t", t)
        x, tx, age = check_rfm(frequency, recency, T, broadcast=True)
        r, alpha, s, beta = self._values()
        alive = self.probability_alive(x, tx, age)
        log_ratio = np.log1p(horizon / (beta + age))
        rate = (r + x) / (alpha + age) * (beta + age)
        expected = rate * log_ratio * special.exprel(-(s - 1.0) * log_ratio)
        return np.asarray(alive * expected, dtype=np.float64)

    def expected_purchases_new_customer(self, t: object) -> FloatArray:
        """E[X(t)] for a new customer: ``rβ/(α(s-1)) [1 - (β/(β+t))^(s-1)]``."""
        horizon = check_time("t", t)
        r, alpha, s, beta = self._values()
        log_ratio = np.log1p(horizon / beta)
        expected = r * beta / alpha * log_ratio * special.exprel(-(s - 1.0) * log_ratio)
        return np.asarray(expected, dtype=np.float64)
