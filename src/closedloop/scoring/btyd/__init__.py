"""Buy-till-you-die (BTYD) customer-lifetime-value models in numpy/scipy.

* :class:`BetaGeo` -- BG/NBD purchase model (Fader, Hardie & Lee 2005).
* :class:`ModifiedBetaGeo` -- MBG/NBD (Batislam et al. 2007): one-time buyers may have
  dropped out too, so their P(alive) is below 1.
  Both are :class:`GeometricDropout` models: one fit and one set of predictions, the
  log-likelihood told how many drop-out chances a customer has had.
* :class:`ParetoNBD` -- Pareto/NBD purchase model (Schmittlein et al. 1987).
* :class:`GammaGamma` -- spend per transaction, and discounted CLV.

All take array-likes of ``frequency`` (repeat purchases ``x``), ``recency``
(``t_x``) and ``T`` (age), in one time unit.  Fits collapse identical rows,
maximise a log-space likelihood with L-BFGS-B over log-parameters, and raise
``ValueError`` on bad input or :class:`ConvergenceError` when they fail.
"""

from closedloop.scoring.btyd._geometric import GeometricDropout
from closedloop.scoring.btyd._minimise import ConvergenceError
from closedloop.scoring.btyd.betageo import BetaGeo
from closedloop.scoring.btyd.gammagamma import GammaGamma, PurchaseForecaster
from closedloop.scoring.btyd.modified import ModifiedBetaGeo
from closedloop.scoring.btyd.pareto import ParetoNBD

__all__ = [
    "BetaGeo",
    "ConvergenceError",
    "GammaGamma",
    "GeometricDropout",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "PurchaseForecaster",
]
