"""Targeting (M10, M18, M9): who is likely to buy a category, what to recommend, which markets.

Framework-free domain package: services take a caller's ``Session`` and return plain data.
Heavy libraries (pandas, scikit-learn) are imported inside the functions that need them.
"""

from closedloop.targeting.propensity import PropensityResult, propensity, propensity_segment

__all__ = ["PropensityResult", "propensity", "propensity_segment"]
