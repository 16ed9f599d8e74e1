"""The computing part of a scoring run: read the features, score everyone, in memory.

Nothing here writes to the store: :func:`compute_scores` returns a :class:`Computation`
(per-person columns, the models document and the summary) that
:mod:`closedloop.scoring.store` writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Engine

from closedloop.errors import ValidationFailed
from closedloop.i18n import N_
from closedloop.scoring import expr, lifecycle, rfm, value
from closedloop.scoring.backend import ibis_connection
from closedloop.scoring.schemas import ScoreParams

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ObjectArray = npt.NDArray[np.object_]

#: Horizons of the expected purchases stored per person (days).
HORIZONS = (30, 90, 365)
EPOCH = date(1970, 1, 1)


def day_to_date(day: int) -> date:
    """The calendar day of a UTC day number."""
    return EPOCH + timedelta(days=int(day))


@dataclass
class Computation:
    """Everything a run computed, ready to store (one array entry per person)."""

    person_id: IntArray
    columns: dict[str, npt.NDArray[Any]]
    models: dict[str, Any]
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def _ints(frame: pd.DataFrame, name: str, fill: int = 0) -> IntArray:
    values = frame[name].astype("float64").fillna(fill)
    return np.asarray(values.to_numpy(dtype=np.float64), dtype=np.int64)


def _floats(frame: pd.DataFrame, name: str) -> FloatArray:
    return np.asarray(frame[name].astype("float64").to_numpy(), dtype=np.float64)


#: Stands for NULL while numbers travel from the database (no column can reach it).
NULL_SENTINEL = -9.0e15


def fetch_numeric(con: Any, table: Any) -> pd.DataFrame:
    """Execute an all-numeric Ibis table and return it as float columns (NULL → NaN).

    NULLs are replaced in SQL by :data:`NULL_SENTINEL`, so the rows go straight from the
    driver's cursor into one float array: several times faster than building the frame row
    by row (a million persons by twenty columns).
    """
    columns = list(table.columns)
    filled = table.mutate(**{name: table[name].fill_null(NULL_SENTINEL) for name in columns})
    cursor = con.raw_sql(con.compile(filled))
    try:
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return pd.DataFrame({name: np.zeros(0) for name in columns})
    data = np.array(rows, dtype=np.float64)
    data[data == NULL_SENTINEL] = np.nan
    return pd.DataFrame(data, columns=columns)


def _check_orders(checks: pd.DataFrame, rates: dict[str, float], base: str) -> dict[str, Any]:
    """Refuse currencies without a rate; describe the orders used and those left out."""
    used = checks[~checks["future"].astype(bool)]
    future = checks[checks["future"].astype(bool)]
    missing = sorted(set(used["currency"]) - set(rates))
    if missing:
        counts = used.groupby("currency")["orders"].sum()
        errors = [
            {
                "field": "currency",
                "message": f"{code}: {int(counts[code])} order(s) and no rate to {base}",
            }
            for code in missing
        ]
        other = missing[0] if len(missing) == 1 and len(used["currency"].unique()) == 1 else None
        raise ValidationFailed(
            f"Orders in {', '.join(missing)} cannot be converted to {base}: add their rates "
            f"(closedloop rates set {missing[0]} RATE), or score in another base "
            f"currency: closedloop score --currency {other or missing[0]} (API: "
            '"base_currency"), or set CLOSEDLOOP_DEFAULT_CURRENCY'
            f"={other or missing[0]} for every run.",
            errors=errors,
        )
    currencies = {
        str(code): {"orders": int(group["orders"].sum()), "rate": rates[str(code)]}
        for code, group in used.groupby("currency")
    }
    out: dict[str, Any] = {
        "base_currency": base,
        "currencies": currencies,
        "orders_used": int(used["orders"].sum()),
        "future_orders": int(future["orders"].sum()),
    }
    if len(future):
        out["future_orders_first"] = pd.Timestamp(future["first_at"].min()).date().isoformat()
        out["future_orders_last"] = pd.Timestamp(future["last_at"].max()).date().isoformat()
    return out


def _span(checks: pd.DataFrame, as_of_day: int) -> int:
    """Days from the first order scored to the as-of day (0 without orders)."""
    used = checks[~checks["future"].astype(bool)]
    if not len(used):
        return 0
    first = pd.Timestamp(used["first_at"].min())
    return int(as_of_day - (first.date() - EPOCH).days)


def compute_scores(
    engine: Engine,
    params: ScoreParams,
    *,
    as_of_day: int,
    base_currency: str,
    rates: dict[str, float],
    report: Callable[[str, float], None],
) -> Computation:
    """Read the orders through Ibis and compute every person's scores (see module doc)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    window_start = as_of_day - params.window_days if params.window_days else None
    report(N_("checking orders"), 0.02)
    with ibis_connection(engine) as con:
        orders = con.table("orders")
        next_day = datetime.combine(day_to_date(as_of_day + 1), dtime(), UTC)
        checks = expr.order_checks(orders, next_day).to_pandas()
        summary = _check_orders(checks, rates, base_currency)
        # The holdout is scaled to the history: a third of it at most (CDNOW's 39 weeks).
        holdout_days = value.holdout_days_for(_span(checks, as_of_day), params.holdout_days)
        if holdout_days != params.holdout_days:
            params = params.model_copy(update={"holdout_days": max(holdout_days, 1)})
        calibration_end = as_of_day - params.holdout_days
        timings["checks"] = round(time.perf_counter() - started, 3)
        report(N_("reading purchase histories"), 0.05)
        started = time.perf_counter()
        features = fetch_numeric(
            con,
            expr.customer_features(
                orders,
                as_of_day,
                rates=rates,
                window_start_day=window_start,
                calibration_end_day=calibration_end,
            ),
        )
    timings["features"] = round(time.perf_counter() - started, 3)
    report(N_("fitting the value models"), 0.45)
    computation = _score(features, params, as_of_day, calibration_end, timings, report)
    computation.summary = {**summary, **computation.summary}
    computation.timings = timings
    return computation


def _score(
    frame: pd.DataFrame,
    params: ScoreParams,
    as_of_day: int,
    calibration_end: int,
    timings: dict[str, float],
    report: Callable[[str, float], None],
) -> Computation:
    frame = frame.sort_values("person_id", kind="stable").reset_index(drop=True)
    n = len(frame)
    person_id = _ints(frame, "person_id")
    purchase_days = _ints(frame, "purchase_days")
    buyer = purchase_days > 0
    b = np.flatnonzero(buyer)

    first_day = _ints(frame, "first_day")[b]
    recency = _ints(frame, "recency_days")[b]
    history = value.History(
        x=_ints(frame, "frequency")[b], tx=_ints(frame, "t_x")[b], age=_ints(frame, "age")[b]
    )
    gross = _floats(frame, "gross")[b]
    revenue_all = _floats(frame, "revenue")
    net_ratio = np.clip(
        np.divide(revenue_all[b], gross, out=np.zeros_like(gross), where=gross > 0), 0, 1
    )
    repeat_value = _floats(frame, "repeat_value")[b]
    monetary_gg = (
        np.divide(repeat_value, history.x, out=np.zeros_like(repeat_value), where=history.x > 0)
        * net_ratio
    )
    own_mean = gross / np.maximum(purchase_days[b], 1) * net_ratio
    window_days_bought = _ints(frame, "window_purchase_days")
    window_revenue = _floats(frame, "window_revenue")

    # RFM
    started = time.perf_counter()
    r, f, m = rfm.rfm(
        recency.astype(np.float64), window_days_bought[b].astype(np.float64), window_revenue[b]
    )
    codes = rfm.codes(r, f, m)
    segments = rfm.segments(r, f, m)
    timings["rfm"] = round(time.perf_counter() - started, 3)

    # Purchase models, holdout check and choice
    started = time.perf_counter()
    calibration = _calibration(frame, b, first_day, params, as_of_day, calibration_end)
    tasks: list[value.FitTask] = []
    if b.size:
        sample = history.take(value.sample_index(b.size, params.fit_sample, params.seed))
        tasks += [(name, name, sample) for name in value.PURCHASE_MODELS]
    if isinstance(calibration, tuple):
        cal_sample = value.calibration_sample(
            calibration[0], limit=params.fit_sample, seed=params.seed
        )
        tasks += [(f"holdout:{name}", name, cal_sample) for name in value.PURCHASE_MODELS]
    fitted = value.fit_all(tasks, timeout=params.fit_timeout)
    fits = {
        name: fitted.get(name, value.Fit(name, error="no buyer")) for name in value.PURCHASE_MODELS
    }
    holdout: value.HoldoutResult
    if isinstance(calibration, tuple):
        holdout = value.holdout_check(
            calibration[0],
            calibration[1],
            {name: fitted[f"holdout:{name}"] for name in value.PURCHASE_MODELS},
            calibration_end_day=calibration_end,
            holdout_days=params.holdout_days,
        )
    else:
        holdout = value.HoldoutResult(calibration_end, params.holdout_days, skipped=calibration)
    chosen, reason = value.choose_model(fits, holdout)
    alive_model, alive_reason = value.choose_alive_model(fits, holdout, chosen)
    timings["models"] = round(time.perf_counter() - started, 3)
    report(N_("forecasting"), 0.65)

    started = time.perf_counter()
    p_alive: FloatArray | None = None
    expected: dict[int, FloatArray] = {}
    discounted: FloatArray | None = None
    if chosen is not None and b.size:
        result = value.forecast(
            fits[chosen].model,
            history,
            horizons_days=HORIZONS,
            clv_horizon_days=params.horizon_days,
            annual_discount_rate=params.discount_rate,
        )
        p_alive, expected, discounted = (
            result.p_alive,
            result.expected,
            result.discounted_purchases,
        )
        if alive_model is not None and alive_model != chosen:
            x, tx, age = history.weeks
            p_alive = np.asarray(fits[alive_model].model.probability_alive(x, tx, age))
    spend = value.spend_model(
        history.x, monetary_gg, own_mean, limit=params.fit_sample, seed=params.seed
    )
    clv = discounted * spend.expected if discounted is not None else None
    tier_basis = clv if clv is not None else revenue_all[b]
    tiers = value.tiers(
        np.where(np.isfinite(tier_basis), tier_basis, 0.0), tuple(params.tier_shares)
    )
    stages = lifecycle.stages(
        params.lifecycle,
        recency_days=recency,
        first_age_days=history.age,
        gap_before_last=_floats(frame, "gap_before_last")[b],
        p_alive=p_alive,
    )
    timings["forecast"] = round(time.perf_counter() - started, 3)

    def spread(values: npt.NDArray[Any] | None, dtype: Any = np.float64) -> npt.NDArray[Any]:
        out = np.full(n, np.nan if dtype is np.float64 else None, dtype=dtype)
        if values is not None:
            out[b] = values
        return out

    first_dates = np.full(n, None, dtype=object)
    first_dates[b] = (first_day.astype("datetime64[D]")).astype(str)
    recency_all = np.full(n, np.nan)
    recency_all[b] = recency
    columns: dict[str, npt.NDArray[Any]] = {
        "recency_days": recency_all,
        "frequency": window_days_bought,
        "monetary": window_revenue,
        "rfm_code": spread(codes, object),
        "rfm_segment": spread(segments, object),
        "p_alive": spread(p_alive),
        "expected_30": spread(expected.get(30)),
        "expected_90": spread(expected.get(90)),
        "expected_365": spread(expected.get(365)),
        "expected_spend": spread(spend.expected),
        "clv": spread(clv),
        "tier": spread(tiers, object),
        "lifecycle_stage": spread(stages, object),
        "revenue": revenue_all,
        "purchase_days": purchase_days,
        "first_purchase_on": first_dates,
    }
    model_outputs = [p_alive, *expected.values(), spend.expected, clv]
    non_finite = sum(int(np.count_nonzero(~np.isfinite(v))) for v in model_outputs if v is not None)
    models: dict[str, Any] = {
        "unit": "weeks",
        "chosen": chosen,
        "reason": reason,
        "p_alive_model": alive_model,
        "p_alive_reason": alive_reason,
        **{name: fit.document() for name, fit in fits.items()},
        "holdout": holdout.document(),
        "gamma_gamma": spend.document,
        "clv": _clv_doc(params),
    }
    models["holdout"]["calibration_end"] = day_to_date(calibration_end).isoformat()
    next_year = expected[365] * spend.expected if 365 in expected else None
    unscored = _unscored(n - int(b.size), int(b.size), p_alive, fits, chosen, reason)
    summary = _summary(
        b,
        {"segment": segments, "tier": tiers, "stage": stages},
        {
            "revenue": revenue_all[b],
            "revenue_last_year": _floats(frame, "year_revenue")[b],
            "expected_next_year": next_year,
            "clv": clv,
            "p_alive": p_alive,
        },
        n,
        int(np.count_nonzero(history.x > 0)),
        non_finite,
        params,
    )
    summary["unscored"] = unscored
    return Computation(person_id=person_id, columns=columns, models=models, summary=summary)


#: What a person without a purchase day has no value for.
PURCHASE_FIELDS = ("rfm_code", "rfm_segment", "p_alive", "clv", "tier", "lifecycle_stage")
#: What a buyer has no value for when no purchase model gives one.
MODEL_FIELDS = ("p_alive", "expected_30", "expected_90", "expected_365", "clv")


def _unscored(
    without_purchase: int,
    buyers: int,
    p_alive: FloatArray | None,
    fits: dict[str, value.Fit],
    chosen: str | None,
    reason: str,
) -> list[dict[str, Any]]:
    """Why some stored rows have no RFM segment or no P(alive): one entry per cause, with
    the persons it concerns and the fields left empty (the CLI and the value report say it
    instead of showing a blank)."""
    out: list[dict[str, Any]] = []
    if without_purchase:
        out.append(
            {
                "persons": without_purchase,
                "fields": list(PURCHASE_FIELDS),
                "reason": "orders but no purchase up to the as-of day: only returns, or "
                "purchases refunded the same day",
            }
        )
    if buyers and chosen is None:
        errors = sorted({f.error for f in fits.values() if f.error})
        out.append(
            {
                "persons": buyers,
                "fields": list(MODEL_FIELDS),
                "reason": f"{reason}" + (f" ({'; '.join(errors)})" if errors else ""),
            }
        )
    elif p_alive is not None:
        bad = int(np.count_nonzero(~np.isfinite(p_alive)))
        if bad:
            out.append(
                {
                    "persons": bad,
                    "fields": ["p_alive"],
                    "reason": "the purchase model gave no finite P(alive) for their history",
                }
            )
    return out


def _calibration(
    frame: pd.DataFrame,
    b: IntArray,
    first_day: IntArray,
    params: ScoreParams,
    as_of_day: int,
    calibration_end: int,
) -> tuple[value.History, IntArray] | str:
    """The buyers' histories up to the calibration end and their holdout purchase days, or
    why the holdout check cannot be made."""
    if b.size == 0:
        return "no buyer"
    span = as_of_day - int(first_day.min())
    if params.holdout_days < value.MIN_HOLDOUT_DAYS or span < 2 * params.holdout_days:
        return (
            f"the history covers {span} days: too short for a holdout of at least "
            f"{value.MIN_HOLDOUT_DAYS} days before a calibration period twice as long"
        )
    cal_days = _ints(frame, "cal_purchase_days")[b]
    keep = np.flatnonzero((first_day <= calibration_end) & (cal_days > 0))
    cal_last = _ints(frame, "cal_last_day")[b][keep]
    first = first_day[keep]
    history = value.History(x=cal_days[keep] - 1, tx=cal_last - first, age=calibration_end - first)
    if not np.any(history.x > 0):
        return "no repeat purchase before the calibration end"
    return history, _ints(frame, "holdout_purchase_days")[b][keep]


def _clv_doc(params: ScoreParams) -> dict[str, Any]:
    periods, length_weeks, rate = value.clv_periods(params.horizon_days, params.discount_rate)
    return {
        "horizon_days": params.horizon_days,
        "annual_discount_rate": params.discount_rate,
        "periods": periods,
        "period_weeks": round(length_weeks, 4),
        "rate_per_period": round(rate, 6),
    }


def _groups(
    labels: ObjectArray, measures: dict[str, FloatArray | None]
) -> dict[str, dict[str, Any]]:
    """Per label: persons and the sum (or mean, for ``p_alive``) of each measure."""
    out: dict[str, dict[str, Any]] = {}
    for label in sorted({str(v) for v in labels.tolist()}):
        mask = labels == label
        doc: dict[str, Any] = {"persons": int(mask.sum())}
        for name, values in measures.items():
            if values is None:
                doc[name] = None
                continue
            picked = values[mask]
            picked = picked[np.isfinite(picked)]
            if name == "p_alive":
                doc[name] = round(float(picked.mean()), 4) if picked.size else None
            else:
                doc[name] = round(float(picked.sum()), 2)
        out[label] = doc
    return out


def _total(values: FloatArray | None) -> float:
    return round(float(np.nansum(values)), 2) if values is not None else 0.0


def _summary(
    b: IntArray,
    labels: dict[str, ObjectArray],
    measures: dict[str, FloatArray | None],
    n: int,
    repeat_buyers: int,
    non_finite: int,
    params: ScoreParams,
) -> dict[str, Any]:
    """Counts and value per segment, tier and stage (the reports read them from here)."""
    clv = measures["clv"]
    expected = measures["expected_next_year"]
    return {
        "persons_scored": n,
        "buyers": int(b.size),
        "repeat_buyers": repeat_buyers,
        "without_purchase": n - int(b.size),
        "revenue": _total(measures["revenue"]),
        "revenue_last_year": _total(measures["revenue_last_year"]),
        "expected_next_year": round(float(np.nansum(expected)), 2)
        if expected is not None
        else None,
        "clv": round(float(np.nansum(clv)), 2) if clv is not None else None,
        "segments": _groups(labels["segment"], measures),
        "tiers": _groups(labels["tier"], measures),
        "stages": _groups(labels["stage"], measures),
        "window_days": params.window_days,
        "non_finite_values": non_finite,
    }


__all__ = ["HORIZONS", "Computation", "compute_scores", "day_to_date"]
