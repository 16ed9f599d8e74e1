"""RFM quintile scores with ties, the RFM code and the named segments (numpy).

The same scores as the Ibis builder :func:`closedloop.scoring.expr.rfm_scores`, computed on
arrays already in memory (the scoring run has them there for the value models anyway).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The named segments, best first (their order in reports).
SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)

#: Segment of each (R score, FM score): rows R = 5…1, columns FM = 1…5.
#: FM is the mean of the F and M scores rounded half up. See docs/concepts/customer-value.md.
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("new", "potential_loyalist", "potential_loyalist", "loyal", "champions"),
    4: ("promising", "potential_loyalist", "potential_loyalist", "loyal", "champions"),
    3: ("hibernating", "need_attention", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "lost", "at_risk", "at_risk", "cant_lose"),
}


def quintile_scores(values: FloatArray) -> IntArray:
    """Score each value 1–5: ``1 + floor(5 k / n)``, ``k`` = how many values are strictly
    lower, so equal values always share a score (higher values score higher)."""
    n = values.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    below = np.searchsorted(np.sort(values), values, side="left")
    return np.asarray(1 + (below * 5) // n, dtype=np.int64)


def fm_score(f: IntArray, m: IntArray) -> IntArray:
    """The mean of the F and M scores, rounded half up (1–5)."""
    return np.asarray((f + m + 1) // 2, dtype=np.int64)


def segment_of(r: int, fm: int) -> str:
    """The named segment of an R score and an FM score (both 1–5)."""
    return SEGMENT_GRID[r][fm - 1]


def segments(r: IntArray, f: IntArray, m: IntArray) -> npt.NDArray[np.object_]:
    """The named segment of every person (arrays of R, F and M scores)."""
    lookup = np.array([[segment_of(ri, fmi) for fmi in range(1, 6)] for ri in range(1, 6)])
    return np.asarray(lookup[r - 1, fm_score(f, m) - 1], dtype=object)


def codes(r: IntArray, f: IntArray, m: IntArray) -> npt.NDArray[np.object_]:
    """The three-digit RFM codes (``"543"``)."""
    numbers = r * 100 + f * 10 + m
    table = np.array([str(i) for i in range(556)], dtype=object)
    return np.asarray(table[numbers], dtype=object)


def rfm(
    recency_days: FloatArray, frequency: FloatArray, monetary: FloatArray
) -> tuple[IntArray, IntArray, IntArray]:
    """R, F and M scores of buyers.

    R ranks every buyer by days since the last purchase (fewer is better). F and M rank the
    buyers who bought inside the RFM window by their purchase days and net revenue there
    (more is better); buyers without a purchase in the window score F = M = 1.
    """
    r = quintile_scores(-recency_days.astype(np.float64))
    f = np.ones(frequency.size, dtype=np.int64)
    m = np.ones(frequency.size, dtype=np.int64)
    active = frequency > 0
    f[active] = quintile_scores(frequency[active].astype(np.float64))
    m[active] = quintile_scores(monetary[active].astype(np.float64))
    return r, f, m


__all__ = ["SEGMENTS", "SEGMENT_GRID", "codes", "fm_score", "quintile_scores", "rfm", "segments"]
