"""Demand and market analysis (M9): demand per category and month, its trend and seasonality,
its forecast and its change; cohort retention by first-purchase month.

* The Ibis builders (:func:`category_month_demand`, :func:`cohort_activity`) aggregate the
  orders on the store's own engine; the series are then small (categories × months).
* :func:`decompose` splits a monthly series into trend (centred 2×12 moving average),
  seasonality (mean detrended value per calendar month, centred on zero) and remainder.
* :func:`holt_winters` is additive Holt-Winters (level, trend, 12-month season) with its three
  smoothing constants fitted by least squares on one-step-ahead errors (scipy L-BFGS-B). With
  less than two years of history it falls back to Holt's linear trend, and below four months to
  the last value.

Only completed months count: the month of the as-of day is left out of the series.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import ibis
import numpy as np
import numpy.typing as npt
from ibis import _
from scipy import optimize
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from closedloop.db.uow import session_factory, unit_of_work
from closedloop.scoring import expr
from closedloop.scoring.backend import ibis_connection
from closedloop.scoring.models import CurrencyRate, ReportSnapshot
from closedloop.settings import get_settings
from closedloop.transactions.models import Order, ProductCategory

FloatArray = npt.NDArray[np.float64]
Table = Any
SEASON = 12
#: Months of history the report reads (and the cohorts it follows).
HISTORY_MONTHS = 36


def month_index(timestamp: Any) -> Any:
    """Months since year 0 (``year·12 + month − 1``) of a timestamp column."""
    return timestamp.year() * 12 + timestamp.month() - 1


def month_label(index: int) -> str:
    """``YYYY-MM`` of a month index."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def category_month_demand(
    orders: Table,
    lines: Table,
    products: Table,
    *,
    first_month: int,
    last_month: int,
    rates: Mapping[str, float] | None = None,
) -> Table:
    """Net revenue (returns included) and units per product category and month.

    Lines of eligible orders (our completed sales to persons, see
    :func:`closedloop.scoring.expr.eligible_orders`) from ``first_month`` to ``last_month``
    (month indexes, both included). Columns ``category_id`` (NULL for lines without a
    categorised product), ``month``, ``revenue``, ``units``, ``lines``.
    """
    eligible = expr.eligible_orders(orders)
    eligible = eligible.select(
        order_id=eligible.id,
        month=month_index(eligible.ordered_at),
        rate=expr.currency_rate(eligible, rates) if rates is not None else ibis.literal(1.0),
    )
    eligible = eligible.filter(eligible.month >= first_month, eligible.month <= last_month)
    joined = lines.join(eligible, lines.order_id == eligible.order_id).left_join(
        products, lines.product_id == products.id
    )
    rows = joined.select(
        category_id=joined.category_id,
        month=joined.month,
        revenue=joined.amount.cast("float64") * joined.rate,
        units=joined.quantity.cast("float64"),
    )
    return rows.group_by(["category_id", "month"]).aggregate(
        revenue=_.revenue.sum(), units=_.units.sum(), lines=_.count()
    )


def cohort_activity(orders: Table, *, first_month: int, last_month: int) -> Table:
    """Buyers per first-purchase month (cohort) and month of activity.

    A person belongs to the cohort of the first month with an eligible order and is active in
    every month with one. Columns ``cohort``, ``month``, ``persons``; only cohorts from
    ``first_month`` on (earlier buyers are not followed), activity up to ``last_month``.
    """
    eligible = expr.eligible_orders(orders)
    months = eligible.select(person_id=eligible.person_id, month=month_index(eligible.ordered_at))
    months = months.filter(months.month <= last_month).distinct()
    first = months.group_by("person_id").aggregate(cohort=_.month.min())
    first = first.filter(first.cohort >= first_month)
    joined = months.join(first, "person_id")
    return joined.group_by(["cohort", "month"]).aggregate(persons=_.count())


# --------------------------------------------------------------------------- time series
def decompose(values: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Additive decomposition ``trend + seasonal + remainder`` of a monthly series.

    Trend: the centred 2×12 moving average, carried flat over the first and last six months
    (the mean with less than 13 months). Seasonal: per calendar month the mean of value − trend
    where the moving average is defined, centred so the twelve sum to zero (zero with less
    than two years).
    """
    n = values.size
    trend = np.full(n, np.nan)
    if n >= SEASON + 1:
        weights = np.r_[0.5, np.ones(SEASON - 1), 0.5] / SEASON
        trend[SEASON // 2 : n - SEASON // 2] = np.convolve(values, weights, mode="valid")
    known = np.isfinite(trend)
    seasonal = np.zeros(n)
    if n >= 2 * SEASON:
        detrended = values - trend
        months = np.arange(n) % SEASON
        means = np.array([detrended[(months == i) & known].mean() for i in range(SEASON)])
        means -= means.mean()
        seasonal = means[months]
    if known.any():
        first, last = np.flatnonzero(known)[[0, -1]]
        trend[:first] = trend[first]
        trend[last + 1 :] = trend[last]
    else:
        trend[:] = values.mean() if n else 0.0
    return trend, seasonal, values - trend - seasonal


@dataclass
class Forecast:
    """A fitted forecasting method and its forecasts."""

    method: str
    values: FloatArray
    fitted: FloatArray
    params: dict[str, float] = field(default_factory=dict)


def _hw_run(
    y: FloatArray, alpha: float, beta: float, gamma: float, seasonal: bool
) -> tuple[FloatArray, float, float, FloatArray]:
    """One pass of additive Holt-Winters: fitted one-step forecasts and the final state."""
    m = SEASON if seasonal else 1
    if seasonal:
        level = y[:m].mean()
        trend = (y[m : 2 * m].mean() - y[:m].mean()) / m
        season = y[:m] - level
    else:
        level, trend, season = y[0], y[1] - y[0], np.zeros(1)
    season = season.astype(np.float64).copy()
    fitted = np.empty(y.size)
    for t in range(y.size):
        s = season[t % m] if seasonal else 0.0
        fitted[t] = level + trend + s
        previous = level
        level = alpha * (y[t] - s) + (1 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1 - beta) * trend
        if seasonal:
            season[t % m] = gamma * (y[t] - level) + (1 - gamma) * s
    return fitted, level, trend, season


def holt_winters(values: FloatArray, horizon: int) -> Forecast:
    """Forecast ``horizon`` months ahead (additive Holt-Winters, Holt, or the last value)."""
    y = np.asarray(values, dtype=np.float64)
    if y.size < 4:
        last = float(y[-1]) if y.size else 0.0
        return Forecast("last value", np.full(horizon, max(last, 0.0)), y.copy())
    seasonal = y.size >= 2 * SEASON
    start = 2 * SEASON if seasonal else 2

    def sse(theta: FloatArray) -> float:
        fitted, *_ = _hw_run(y, theta[0], theta[1], theta[2], seasonal)
        return float(np.sum((y[start:] - fitted[start:]) ** 2))

    best = optimize.minimize(
        sse,
        x0=np.array([0.3, 0.05, 0.1]),
        bounds=[(0.0, 1.0), (0.0, 1.0), (0.0, 1.0)],
        method="L-BFGS-B",
    )
    alpha, beta, gamma = (float(v) for v in best.x)
    fitted, level, trend, season = _hw_run(y, alpha, beta, gamma, seasonal)
    steps = np.arange(1, horizon + 1)
    out = level + steps * trend
    if seasonal:
        out = out + season[(y.size + steps - 1) % SEASON]
    params = {"alpha": round(alpha, 4), "beta": round(beta, 4)}
    if seasonal:
        params["gamma"] = round(gamma, 4)
    method = "Holt-Winters additive" if seasonal else "Holt linear trend"
    return Forecast(method, np.maximum(out, 0.0), fitted, params)


# --------------------------------------------------------------------------- the report
@dataclass
class CategoryDemand:
    """One category's monthly demand, its decomposition, forecast and change."""

    category_id: int | None
    code: str
    name: str
    revenue: list[float]
    units: list[float]
    trend: list[float]
    seasonal: list[float]
    forecast: list[float]
    method: str
    last_12: float
    previous_12: float
    change_pct: float | None
    forecast_change_pct: float | None


@dataclass
class DemandReport:
    """Demand per category and month, forecasts, changes and cohort retention."""

    as_of: date
    months: list[str]
    forecast_months: list[str]
    categories: list[CategoryDemand]
    cohorts: list[str]
    retention: list[list[float | None]]
    cohort_sizes: list[int]
    excluded_currencies: list[str]

    @property
    def growing(self) -> list[CategoryDemand]:
        """Categories ranked from the largest growth to the largest fall (last 12 months)."""
        known = [c for c in self.categories if c.change_pct is not None]
        return sorted(known, key=lambda c: -(c.change_pct or 0.0))

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "as_of": self.as_of.isoformat(),
            "months": self.months,
            "forecast_months": self.forecast_months,
            "categories": [c.__dict__ for c in self.categories],
            "ranked_by_change": [c.code for c in self.growing],
            "cohorts": self.cohorts,
            "cohort_sizes": self.cohort_sizes,
            "retention": self.retention,
            "excluded_currencies": self.excluded_currencies,
        }


def _pct(new: float, old: float) -> float | None:
    return round(100.0 * (new - old) / old, 2) if old > 0 else None


def _top_categories(engine: Engine) -> dict[int, ProductCategory]:
    """Each category id mapped to its top-level category."""
    with session_factory(engine)() as session:
        rows = {c.id: c for c in session.scalars(select(ProductCategory))}
        session.expunge_all()
    top: dict[int, ProductCategory] = {}
    for cid, cat in rows.items():
        node, seen = cat, set()
        while node.parent_id is not None and node.parent_id in rows and node.id not in seen:
            seen.add(node.id)
            node = rows[node.parent_id]
        top[cid] = node
    return top


def _rates(engine: Engine, base: str) -> dict[str, float]:
    with session_factory(engine)() as session:
        rates = {
            r.currency: float(r.rate)
            for r in session.scalars(select(CurrencyRate).where(CurrencyRate.base_currency == base))
        }
    rates[base] = 1.0
    return rates


def _series(
    frame: Any, top: dict[int, ProductCategory], first: int, n: int
) -> dict[int | None, tuple[ProductCategory | None, FloatArray, FloatArray]]:
    out: dict[int | None, tuple[ProductCategory | None, FloatArray, FloatArray]] = {}
    for cid, month, revenue, units in frame[
        ["category_id", "month", "revenue", "units"]
    ].itertuples(index=False):
        category = top.get(int(cid)) if cid == cid and cid is not None else None
        key = category.id if category is not None else None
        if key not in out:
            out[key] = (category, np.zeros(n), np.zeros(n))
        i = int(month) - first
        if 0 <= i < n:
            out[key][1][i] += float(revenue or 0.0)
            out[key][2][i] += float(units or 0.0)
    return out


def _retention(
    frame: Any, first: int, n: int
) -> tuple[list[int], list[list[float | None]], list[int]]:
    counts = np.zeros((n, n))
    for cohort, month, persons in frame[["cohort", "month", "persons"]].itertuples(index=False):
        c, k = int(cohort) - first, int(month) - int(cohort)
        if 0 <= c < n and 0 <= k < n:
            counts[c, k] = persons
    cohorts = [c for c in range(n) if counts[c, 0] > 0]
    table: list[list[float | None]] = []
    for c in cohorts:
        size = counts[c, 0]
        table.append([round(float(counts[c, k] / size), 4) for k in range(n - c)])
    return [first + c for c in cohorts], table, [int(counts[c, 0]) for c in cohorts]


_cache: dict[tuple[Any, ...], DemandReport] = {}
_cache_lock = threading.Lock()


def demand_report(engine: Engine, *, as_of: date | None = None, horizon: int = 6) -> DemandReport:
    """Demand per top-level category and month over the last 36 complete months, decomposed
    and forecast ``horizon`` months ahead; cohort retention of the same months.

    Cached in the process until the orders change (their count and largest id).
    """
    as_of = as_of or datetime.now(UTC).date()
    last = as_of.year * 12 + as_of.month - 2  # the last complete month
    first = last - HISTORY_MONTHS + 1
    base = get_settings().default_currency.upper()
    with session_factory(engine)() as session:
        stamp = session.execute(select(func.count(), func.max(Order.id))).one()
    key = (engine.url.render_as_string(), as_of, horizon, base, tuple(stamp))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    rates = _rates(engine, base)
    top = _top_categories(engine)
    n = HISTORY_MONTHS
    with ibis_connection(engine) as con:
        orders = con.table("orders")
        currencies = (
            expr.eligible_orders(orders).select("currency").distinct().to_pandas()["currency"]
        )
        demand = category_month_demand(
            orders,
            con.table("order_lines"),
            con.table("products").select("id", "category_id"),
            first_month=first,
            last_month=last,
            rates=rates,
        ).to_pandas()
        cohorts = cohort_activity(orders, first_month=first, last_month=last).to_pandas()
    demand = demand[demand["revenue"].notna()]
    categories: list[CategoryDemand] = []
    for category, revenue, units in _series(demand, top, first, n).values():
        trend, seasonal, _rest = decompose(revenue)
        forecast = holt_winters(revenue, horizon)
        last_12, previous_12 = float(revenue[-12:].sum()), float(revenue[-24:-12].sum())
        same_months = float(revenue[-12 : -12 + horizon].sum()) if horizon <= 12 else 0.0
        categories.append(
            CategoryDemand(
                category_id=category.id if category else None,
                code=category.code if category else "uncategorised",
                name=category.name if category else "Uncategorised",
                revenue=[round(float(v), 2) for v in revenue],
                units=[round(float(v), 3) for v in units],
                trend=[round(float(v), 2) for v in trend],
                seasonal=[round(float(v), 2) for v in seasonal],
                forecast=[round(float(v), 2) for v in forecast.values],
                method=forecast.method,
                last_12=round(last_12, 2),
                previous_12=round(previous_12, 2),
                change_pct=_pct(last_12, previous_12),
                forecast_change_pct=_pct(float(forecast.values.sum()), same_months),
            )
        )
    categories.sort(key=lambda c: -c.last_12)
    cohort_ids, retention, sizes = _retention(cohorts, first, n)
    report = DemandReport(
        as_of=as_of,
        months=[month_label(first + i) for i in range(n)],
        forecast_months=[month_label(last + 1 + i) for i in range(horizon)],
        categories=categories,
        cohorts=[month_label(c) for c in cohort_ids],
        retention=retention,
        cohort_sizes=sizes,
        excluded_currencies=sorted(set(currencies) - set(rates)),
    )
    with _cache_lock:
        if len(_cache) > 16:
            _cache.clear()
        _cache[key] = report
    return report


SNAPSHOT_KIND = "demand"


def report_from_dict(data: dict[str, Any]) -> DemandReport:
    """Rebuild a report from :meth:`DemandReport.as_dict` (a stored snapshot)."""
    return DemandReport(
        as_of=date.fromisoformat(data["as_of"]),
        months=list(data["months"]),
        forecast_months=list(data["forecast_months"]),
        categories=[CategoryDemand(**c) for c in data["categories"]],
        cohorts=list(data["cohorts"]),
        retention=[list(row) for row in data["retention"]],
        cohort_sizes=list(data["cohort_sizes"]),
        excluded_currencies=list(data["excluded_currencies"]),
    )


def latest_snapshot(session: Session) -> tuple[DemandReport, ReportSnapshot] | None:
    """The most recently stored demand report, or None."""
    snapshot = session.scalars(
        select(ReportSnapshot)
        .where(ReportSnapshot.kind == SNAPSHOT_KIND)
        .order_by(ReportSnapshot.created_at.desc(), ReportSnapshot.id.desc())
        .limit(1)
    ).first()
    if snapshot is None:
        return None
    return report_from_dict(snapshot.data), snapshot


def refresh_snapshot(
    engine: Engine, *, as_of: date | None = None, run_id: int | None = None, horizon: int = 6
) -> DemandReport:
    """Compute the demand report and store it as the latest snapshot (older ones are kept
    up to the last ten)."""
    started = time.perf_counter()
    report = demand_report(engine, as_of=as_of, horizon=horizon)
    with unit_of_work(session_factory(engine)) as session:
        session.add(
            ReportSnapshot(
                kind=SNAPSHOT_KIND,
                as_of=report.as_of,
                run_id=run_id,
                data=json.loads(json.dumps(report.as_dict(), default=float)),
                seconds=round(time.perf_counter() - started, 3),
            )
        )
        session.flush()
        keep = select(ReportSnapshot.id).where(ReportSnapshot.kind == SNAPSHOT_KIND)
        keep = keep.order_by(ReportSnapshot.id.desc()).limit(10)
        session.execute(
            delete(ReportSnapshot).where(
                ReportSnapshot.kind == SNAPSHOT_KIND, ReportSnapshot.id.not_in(keep)
            )
        )
    return report


__all__ = [
    "CategoryDemand",
    "DemandReport",
    "Forecast",
    "category_month_demand",
    "cohort_activity",
    "decompose",
    "demand_report",
    "holt_winters",
    "latest_snapshot",
    "month_index",
    "refresh_snapshot",
    "report_from_dict",
]
