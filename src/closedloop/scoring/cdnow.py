"""Build RFM summaries from the CDNOW transaction logs used in the BTYD papers.

The CDNOW data (Fader & Hardie) record CD purchases of a cohort of customers
who first bought in January--March 1997, followed until 30 June 1998.  The
1/10 sample (2,357 customers) has five whitespace-separated columns --
customer id, sample id, date ``YYYYMMDD``, number of CDs, dollar value -- and
the full master file (23,570 customers) four, without the sample id, plus a
header line.  Both ship inside the ``lifetimes`` wheel.

Conventions, as in "Counting Your Customers the Easy Way" (2005):

* several transactions of a customer on the same day count as one purchase
  (their spend is summed);
* ``T`` runs from a customer's first purchase to the end of calibration, and
  ``recency`` from the first to the last repeat purchase, both in weeks
  (days / 7) by default; ``frequency`` counts the repeat purchase days;
* ``monetary_value`` is the mean spend per repeat purchase day in the
  calibration period (0 for customers without a repeat purchase), the input of
  the Gamma-Gamma spend model.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

#: Calibration ends after week 39 of 1997; the holdout runs to week 78.
CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"


def load_cdnow_transactions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CDNOW log into one row per customer and purchase day.

    Returns columns ``customer_id`` (str), ``date`` (datetime64), ``cds`` and
    ``spend`` (sums over the day), sorted by customer and date.
    """
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    if not raw.iloc[0, 0].isdigit():
        raw = raw.iloc[1:]
    if raw.shape[1] == 5:
        raw = raw.drop(columns=1)
    if raw.shape[1] != 4:
        raise ValueError(f"path: expected 4 or 5 columns in a CDNOW file, got {raw.shape[1]}")
    raw.columns = pd.Index(["customer_id", "date", "cds", "spend"])
    frame = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str),
            "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "cds": raw["cds"].astype(np.int64),
            "spend": raw["spend"].astype(np.float64),
        }
    )
    daily = frame.groupby(["customer_id", "date"], as_index=False, sort=True)[["cds", "spend"]]
    return daily.sum()


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: str = CALIBRATION_END,
    holdout_end: str | None = None,
    days_per_unit: float = 7.0,
) -> pd.DataFrame:
    """Summarise daily transactions into one ``(x, t_x, T, m)`` row per customer.

    ``transactions`` needs ``customer_id``, ``date`` and ``spend`` with one row
    per customer and day (as from :func:`load_cdnow_transactions`).  Customers
    whose first purchase is after ``calibration_end`` are dropped.  With
    ``holdout_end``, also returns ``frequency_holdout`` (purchase days in
    ``(calibration_end, holdout_end]``) and ``duration_holdout``.

    The index is the customer id; columns are ``frequency``, ``recency``,
    ``T``, ``monetary_value`` and ``first_purchase``.
    """
    cal_end = pd.Timestamp(calibration_end)
    first = transactions.groupby("customer_id")["date"].min()
    first = first[first <= cal_end]
    tx = transactions[transactions["customer_id"].isin(first.index)]
    tx = tx.assign(first=tx["customer_id"].map(first))
    cal = tx[tx["date"] <= cal_end]
    repeat = cal[cal["date"] > cal["first"]]
    grouped = repeat.groupby("customer_id")
    frequency = grouped.size().reindex(first.index, fill_value=0)
    last = grouped["date"].max().reindex(first.index)
    monetary = grouped["spend"].mean().reindex(first.index, fill_value=0.0)
    recency_days = (last - first).dt.days.fillna(0).astype(np.float64)
    age_days = (cal_end - first).dt.days.astype(np.float64)
    out = pd.DataFrame(
        {
            "frequency": frequency.astype(np.int64),
            "recency": recency_days / days_per_unit,
            "T": age_days / days_per_unit,
            "monetary_value": monetary.astype(np.float64),
            "first_purchase": first,
        }
    )
    if holdout_end is not None:
        hold_end = pd.Timestamp(holdout_end)
        hold = tx[(tx["date"] > cal_end) & (tx["date"] <= hold_end)]
        counts = hold.groupby("customer_id").size().reindex(first.index, fill_value=0)
        out["frequency_holdout"] = counts.astype(np.int64)
        out["duration_holdout"] = (hold_end - cal_end).days / days_per_unit
    out.index.name = "customer_id"
    return out


def load_cdnow(
    path: str | os.PathLike[str],
    calibration_end: str = CALIBRATION_END,
    holdout_end: str | None = None,
    days_per_unit: float = 7.0,
) -> pd.DataFrame:
    """Read a CDNOW file and return its RFM summary (see :func:`rfm_summary`)."""
    return rfm_summary(load_cdnow_transactions(path), calibration_end, holdout_end, days_per_unit)


def holdout_weekly_repeats(
    transactions: pd.DataFrame,
    calibration_end: str = CALIBRATION_END,
    holdout_end: str = HOLDOUT_END,
    days_per_unit: float = 7.0,
) -> np.ndarray:
    """Count purchase days per period in the holdout window.

    Element ``k`` counts purchase days in
    ``(calibration_end + k periods, calibration_end + (k+1) periods]``, so the
    cumulative sum is the actual cumulative repeat purchases through the
    holdout, comparable with ``conditional_expected_purchases(k+1, ...)``
    summed over customers.  Only customers whose first purchase falls inside
    calibration are counted.
    """
    cal_end = pd.Timestamp(calibration_end)
    hold_end = pd.Timestamp(holdout_end)
    first = transactions.groupby("customer_id")["date"].min()
    keep = transactions["customer_id"].map(first) <= cal_end
    dates = transactions.loc[keep, "date"]
    dates = dates[(dates > cal_end) & (dates <= hold_end)]
    periods = int(np.ceil((hold_end - cal_end).days / days_per_unit))
    offset = ((dates - cal_end).dt.days.to_numpy() - 1) // days_per_unit
    return np.bincount(offset.astype(np.int64), minlength=periods)[:periods]


__all__ = [
    "CALIBRATION_END",
    "HOLDOUT_END",
    "holdout_weekly_repeats",
    "load_cdnow",
    "load_cdnow_transactions",
    "rfm_summary",
]
