"""Buy-till-you-die (BTYD) customer-lifetime-value models in numpy/scipy.

* :class:`BetaGeo` -- BG/NBD purchase model (Fader, Hardie & Lee 2005).
* :class:`ParetoNBD` -- Pareto/NBD purchase model (Schmittlein et al. 1987).
* :class:`GammaGamma` -- spend per transaction, and discounted CLV.

All take array-likes of ``frequency`` (repeat purchases ``x``), ``recency``
(``t_x``) and ``T`` (age), in one time unit.  Fits collapse identical rows,
maximise a log-space likelihood with L-BFGS-B over log-parameters, and raise
``ValueError`` on bad input or :class:`ConvergenceError` when they fail.
"""

from closedloop.scoring.btyd._fitting import ConvergenceError
from closedloop.scoring.btyd.betageo import BetaGeo
from closedloop.scoring.btyd.gammagamma import GammaGamma, PurchaseForecaster
from closedloop.scoring.btyd.pareto import ParetoNBD

__all__ = ["BetaGeo", "ConvergenceError", "GammaGamma", "ParetoNBD", "PurchaseForecaster"]
