"""Buy-till-you-die customer-lifetime-value models in numpy/scipy."""
from closedloop.scoring.btyd._fitting import ConvergenceError
from closedloop.scoring.btyd.betageo import BetaGeo

__all__ = ["BetaGeo", "ConvergenceError"]
