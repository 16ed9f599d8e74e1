"""MBG/NBD model (Batislam, Denizel & Filiztekin 2007; Wagner & Hoppe 2008).

The BG/NBD story with one change: a customer may also drop out right after their *first*
purchase, not only after repeat ones. In BG/NBD a customer with no repeat purchase cannot
have dropped out, so every one-time buyer gets ``P(alive) = 1`` however long ago they
bought; in MBG/NBD their ``P(alive)`` falls with the time since that purchase, as it should.

Log-likelihood of one customer with ``x`` repeat purchases, the last at ``t_x``, observed
for ``T`` since the first purchase::

    log Γ(r+x) - log Γ(r) + r log α + log B(a, b+x+1) - log B(a, b)
      - (r+x) log(α+T) + log(1 + a/(b+x) ((α+T)/(α+t_x))^(r+x))

The last term is a softplus of ``D = log a - log(b+x) + (r+x) log((α+T)/(α+t_x))`` (for
every ``x``, ``t_x = 0`` when ``x = 0``) and ``P(alive) = 1 / (1 + e^D)``. Given alive, the
posterior of the drop-out probability is ``Beta(a, b+x+1)``, so the expected purchases use
the BG/NBD kernel with ``b+x+1``.
"""

from __future__ import annotations

from closedloop.scoring.btyd._fitting import FloatArray
from closedloop.scoring.btyd._geometric import GeometricDropout


class ModifiedBetaGeo(GeometricDropout):
    """MBG/NBD purchase model with parameters ``r, alpha, a, b`` (see the module doc): the
    shared fit and predictions with one extra drop-out chance, after the first purchase."""

    MODEL_NAME = "MBG/NBD"
    EXTRA_CHANCES = 1.0

    def probability_of_n_purchases(self, t: object, n: object) -> FloatArray:
        """Not offered for MBG/NBD (use BG/NBD or Pareto/NBD for count distributions)."""
        raise NotImplementedError("P(X(t) = n) is not implemented for MBG/NBD")
