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
the same quantity.  The fit and predictions are shared with MBG/NBD
(:mod:`._geometric`); only the count distribution is this model's own.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from closedloop.scoring.btyd._fitting import FloatArray, check_time
from closedloop.scoring.btyd._geometric import GeometricDropout


class BetaGeo(GeometricDropout):
    """BG/NBD purchase model with parameters ``r, alpha, a, b`` (the fit and predictions are
    those of :class:`~closedloop.scoring.btyd._geometric.GeometricDropout` with no extra
    drop-out chance: a customer without repeat purchase is alive).

    Example::

        model = BetaGeo().fit(frequency, recency, T)
        model.params                       # {"r": ..., "alpha": ..., "a": ..., "b": ...}
        model.conditional_expected_purchases(39, frequency, recency, T)

    Times (``recency``, ``T``, ``t``) are in whatever unit the data use; ``alpha``
    is then in that unit too (weeks in the paper).
    """

    MODEL_NAME = "BG/NBD"
    EXTRA_CHANCES = 0.0

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
