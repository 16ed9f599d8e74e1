"""Pure Ibis builders of the scoring features (RFM and the BTYD inputs).

Each function takes Ibis tables or expressions and returns an expression; nothing here
connects to a database or executes anything, so the same code runs on SQLite, PostgreSQL,
DuckDB or Spark (:mod:`closedloop.scoring.backend` connects Ibis to the store's own engine).

Conventions (documented in ``docs/concepts/customer-value.md``):

* **Days.** Time is counted in whole UTC days since 1970-01-01 (``day`` columns are integers),
  and every duration the builders return is a number of days. The value models work in weeks
  (days / 7), the unit of the literature.
* **Which orders count.** Our own sales (``supplier`` empty) with status ``completed`` that
  belong to a person; orders after the as-of day are left out (and counted by
  :func:`order_checks`, so the run can report them).
* **Purchase days.** Orders of one person on one day form one transaction; its value is the
  sum of the day's order totals in the base currency, returns (negative totals) included.
  A day with a positive net value is a purchase, and so is a day of zero-amount orders only
  (a free item, a fully discounted order: the customer transacted, as the BTYD literature
  counts CDNOW's $0 purchases). A day whose returns bring its net value to zero or below
  (only returns, or a purchase refunded the same day) is not a purchase: it only nets
  against the person's revenue.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import ibis
from ibis import _

#: Seconds in a UTC day.
DAY_SECONDS = 86_400
#: The order status that counts as a sale.
COMPLETED = "completed"

Table = Any  # ibis.expr.types.Table: Ibis ships partial type information.
Value = Any


def day_number(timestamp: Value) -> Value:
    """Whole UTC days since 1970-01-01 of a timestamp column (an int64 expression)."""
    return (timestamp.epoch_seconds() // DAY_SECONDS).cast("int64")


def currency_rate(orders: Table, rates: Mapping[str, float]) -> Value:
    """The rate of each order's currency into the base currency (NULL when unknown)."""
    if not rates:
        return ibis.null("float64")
    branches = [(orders.currency == code, float(rate)) for code, rate in rates.items()]
    return ibis.cases(*branches, else_=ibis.null("float64"))


def converted_amount(orders: Table, rates: Mapping[str, float] | None = None) -> Value:
    """``orders.total_amount`` in the base currency as a float expression.

    ``rates`` maps each currency to the value of one unit in the base currency (the base
    itself at 1.0). A currency missing from ``rates`` gives NULL, so check the currencies
    first (:func:`order_checks`). Without ``rates`` every amount is taken as it is.
    """
    amount = orders.total_amount.cast("float64")
    if rates is None:
        return amount
    return amount * currency_rate(orders, rates)


def eligible_orders(orders: Table) -> Table:
    """Completed sales of our own (no competitor ``supplier``) made by a person."""
    return orders.filter(
        orders.status == COMPLETED, orders.supplier.isnull(), orders.person_id.notnull()
    )


def order_checks(orders: Table, before: datetime) -> Table:
    """Eligible orders per currency, split into those before ``before`` (the start of the day
    after the as-of day, UTC) and later ones.

    Columns ``currency``, ``future`` (bool), ``orders``, ``first_at``, ``last_at``: the run
    refuses currencies without a rate and reports the future-dated orders it leaves out. The
    comparison is on the stored timestamp itself (no per-row function), so it stays cheap.
    """
    eligible = eligible_orders(orders)
    marked = eligible.select(
        currency=eligible.currency,
        ordered_at=eligible.ordered_at,
        future=eligible.ordered_at >= ibis.timestamp(before),
    )
    return marked.group_by(["currency", "future"]).aggregate(
        orders=_.count(), first_at=_.ordered_at.min(), last_at=_.ordered_at.max()
    )


def purchase_days(orders: Table, as_of_day: int, rates: Mapping[str, float] | None = None) -> Table:
    """One row per person and UTC day with orders up to ``as_of_day``.

    Columns ``person_id``, ``day``, ``value`` (net total in the base currency, returns
    included), ``orders`` (how many orders that day) and ``smallest`` (the smallest order
    amount: negative when the day holds a return).
    """
    eligible = eligible_orders(orders)
    rows = eligible.select(
        person_id=eligible.person_id,
        day=day_number(eligible.ordered_at),
        value=converted_amount(eligible, rates),
    )
    rows = rows.filter(rows.day <= as_of_day)
    return rows.group_by(["person_id", "day"]).aggregate(
        value=_.value.sum(), orders=_.count(), smallest=_.value.min()
    )


def person_features(
    days: Table,
    as_of_day: int,
    *,
    window_start_day: int | None = None,
    calibration_end_day: int | None = None,
) -> Table:
    """One row per person with at least one day in ``days`` (see :func:`purchase_days`).

    Whole history up to ``as_of_day``:

    * ``first_day`` / ``last_day``: first and last purchase day (NULL without a purchase);
    * ``purchase_days``: distinct purchase days; ``frequency`` = repeat purchase days
      (``purchase_days - 1``, the BTYD ``x``);
    * ``recency_days``: days since the last purchase (RFM recency); ``t_x``: days from the
      first to the last purchase; ``age``: days from the first purchase to ``as_of_day``
      (the BTYD ``T``);
    * ``gross``: value of the purchase days; ``repeat_value``: value of the repeat purchase
      days; ``returns``: net value of the days that were not purchases (≤ 0);
      ``revenue``: everything netted (gross + returns); ``orders``: number of orders;
    * ``gap_before_last``: days between the last two purchase days (NULL with one).

    Inside the RFM window (days after ``window_start_day``; the whole history when None):
    ``window_purchase_days`` and ``window_revenue`` (net, returns included);
    ``year_revenue`` is the net revenue of the last 365 days.

    With ``calibration_end_day`` (the holdout check): ``cal_purchase_days`` and
    ``cal_last_day`` up to that day, and ``holdout_purchase_days`` after it.
    """
    # A purchase: a positive net value, or zero-amount orders without a return that day.
    d = days.mutate(is_purchase=(days.value > 0) | (days.smallest >= 0))
    w = ibis.window(group_by=[d.person_id, d.is_purchase], order_by=d.day, rows=(None, None))
    d = d.mutate(
        prev_day=d.day.lag().over(w), first_in=d.day.min().over(w), last_in=d.day.max().over(w)
    )
    p = d.is_purchase
    start = window_start_day if window_start_day is not None else -(2**31)
    cal = calibration_end_day if calibration_end_day is not None else as_of_day
    agg = d.group_by("person_id").aggregate(
        first_day=d.day.min(where=p),
        last_day=d.day.max(where=p),
        purchase_days=d.count(where=p),
        gross=d.value.sum(where=p),
        repeat_value=d.value.sum(where=p & (d.day > d.first_in)),
        returns=d.value.sum(where=~p),
        revenue=d.value.sum(),
        orders=d.orders.sum(),
        gap_before_last=(d.day - d.prev_day).max(where=p & (d.day == d.last_in)),
        window_purchase_days=d.count(where=p & (d.day > start)),
        window_revenue=d.value.sum(where=d.day > start),
        year_revenue=d.value.sum(where=d.day > as_of_day - 365),
        cal_purchase_days=d.count(where=p & (d.day <= cal)),
        cal_last_day=d.day.max(where=p & (d.day <= cal)),
        holdout_purchase_days=d.count(where=p & (d.day > cal)),
    )
    zero = ibis.literal(0.0)
    return agg.mutate(
        frequency=ibis.greatest(agg.purchase_days - 1, 0),
        recency_days=as_of_day - agg.last_day,
        t_x=agg.last_day - agg.first_day,
        age=as_of_day - agg.first_day,
        gross=agg.gross.fill_null(zero),
        repeat_value=agg.repeat_value.fill_null(zero),
        returns=agg.returns.fill_null(zero),
        revenue=agg.revenue.fill_null(zero),
        window_revenue=agg.window_revenue.fill_null(zero),
        year_revenue=agg.year_revenue.fill_null(zero),
    )


def customer_features(
    orders: Table,
    as_of_day: int,
    *,
    rates: Mapping[str, float] | None = None,
    window_start_day: int | None = None,
    calibration_end_day: int | None = None,
) -> Table:
    """:func:`person_features` straight from the ``orders`` table (one query)."""
    return person_features(
        purchase_days(orders, as_of_day, rates),
        as_of_day,
        window_start_day=window_start_day,
        calibration_end_day=calibration_end_day,
    )


def rfm_scores(features: Table) -> Table:
    """RFM quintile scores 1–5 of the persons with a purchase, ties sharing one score.

    A score is ``1 + floor(5 · k / n)`` where ``k`` counts the persons strictly worse on that
    measure and ``n`` the persons ranked. R ranks every buyer by ``recency_days`` (fewer days
    is better). F and M rank the buyers with a purchase inside the RFM window by
    ``window_purchase_days`` and ``window_revenue`` (more is better); buyers without one score
    F = M = 1. Equal values always share a score. Adds ``r_score``, ``f_score``, ``m_score``.
    """
    buyers = features.filter(features.purchase_days > 0)
    buyers = buyers.mutate(in_window=buyers.window_purchase_days > 0)
    n_all = buyers.count().over(ibis.window())
    n_window = buyers.count().over(ibis.window(group_by=buyers.in_window))

    def score(order_key: Value, n: Value, group: Value | None = None) -> Value:
        spec = ibis.window(order_by=order_key, group_by=group)
        below = ibis.rank().over(spec)
        return (1 + (below * 5) // n).cast("int64")

    def window_score(column: Value) -> Value:
        return ibis.ifelse(buyers.in_window, score(column, n_window, buyers.in_window), 1)

    scored = buyers.mutate(
        r_score=score(ibis.desc(buyers.recency_days), n_all),
        f_score=window_score(buyers.window_purchase_days),
        m_score=window_score(buyers.window_revenue),
    )
    return scored.drop("in_window")


__all__ = [
    "DAY_SECONDS",
    "converted_amount",
    "currency_rate",
    "customer_features",
    "day_number",
    "eligible_orders",
    "order_checks",
    "person_features",
    "purchase_days",
    "rfm_scores",
]
