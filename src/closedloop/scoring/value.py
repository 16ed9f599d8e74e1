"""Fit, check, choose and apply the value models of a scoring run (numpy).

* :func:`fit_purchase_models` fits BG/NBD, MBG/NBD and Pareto/NBD on the same customers (a seeded
  sample when there are many: the parameters describe the population, and the fit cost grows
  with the number of distinct ``(x, t_x, T)`` rows).
* :func:`holdout_check` fits both again on the history up to a calibration end and compares
  their forecast of the holdout period with the purchases that really happened.
* :func:`choose_model` picks the model with the smaller holdout error, or the larger
  log-likelihood when no holdout check could be made; :func:`choose_alive_model` takes
  P(alive) from another model when the chosen one is BG/NBD, which calls every one-time
  buyer alive.
* :func:`forecast` computes P(alive), expected purchases and the discounted expected number
  of purchases over the CLV horizon, once per distinct customer history.
* :func:`spend_model` fits Gamma-Gamma on the repeat buyers and gives each buyer's expected
  spend per purchase (the population mean for one-time buyers).

Times are in weeks (days / 7) as in the literature; amounts in the base currency.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from closedloop.scoring.btyd import (
    BetaGeo,
    ConvergenceError,
    GammaGamma,
    GeometricDropout,
    ModifiedBetaGeo,
    ParetoNBD,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DAYS_PER_WEEK = 7.0
DAYS_PER_YEAR = 365.25
#: Names of the purchase models in the run's ``models`` document.
PURCHASE_MODELS: dict[str, type[GeometricDropout] | type[ParetoNBD]] = {
    "bgnbd": BetaGeo,
    "mbgnbd": ModifiedBetaGeo,
    "pareto_nbd": ParetoNBD,
}
#: Models whose P(alive) is 1 for every customer without a repeat purchase, however long ago
#: they bought (BG/NBD: drop-out only happens after a repeat purchase). Their forecast of
#: purchases may be the best, but a "Lost" segment must not read 100 % alive: P(alive) is
#: then taken from the best model without that artefact (:func:`choose_alive_model`).
ONE_TIME_ALIVE = frozenset({"bgnbd"})
#: The shortest holdout worth a check, and the share of the history it takes at most.
MIN_HOLDOUT_DAYS = 28
HOLDOUT_SHARE = 3


def holdout_days_for(span_days: int, longest: int) -> int:
    """The holdout period for a history of ``span_days``: ``longest``, or a third of the
    history when that is shorter (CDNOW's 39 weeks get 13, its 78 weeks the full 26)."""
    return max(0, min(longest, span_days // HOLDOUT_SHARE))


@dataclass
class History:
    """Buyers' BTYD inputs in whole days: repeat purchase days ``x``, ``t_x`` and ``T``."""

    x: IntArray
    tx: IntArray
    age: IntArray

    @property
    def weeks(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(x, t_x, T)`` with the times in weeks."""
        return (
            self.x.astype(np.float64),
            self.tx / DAYS_PER_WEEK,
            self.age / DAYS_PER_WEEK,
        )

    def take(self, index: IntArray) -> History:
        """The rows at ``index``."""
        return History(self.x[index], self.tx[index], self.age[index])


@dataclass
class Fit:
    """One model fitted (or not) on a set of customers."""

    name: str
    model: Any = None
    error: str | None = None
    seconds: float = 0.0
    n_customers: int = 0

    def document(self) -> dict[str, Any]:
        """The fit as JSON: parameters, log-likelihood, size, time, or the error."""
        doc: dict[str, Any] = {
            "n_customers": self.n_customers,
            "seconds": round(self.seconds, 3),
        }
        if self.model is not None:
            doc["params"] = {k: round(v, 6) for k, v in self.model.params.items()}
            doc["log_likelihood"] = round(float(self.model.log_likelihood), 3)
        else:
            doc["error"] = self.error
        return doc


def sample_index(n: int, limit: int, seed: int) -> IntArray:
    """Sorted indices of at most ``limit`` of ``n`` rows, drawn without replacement."""
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=limit, replace=False)).astype(np.int64)


def _fit_one(name: str, history: History, max_seconds: float | None = None) -> Fit:
    started = time.perf_counter()
    fit = Fit(name, n_customers=int(history.x.size))
    if history.x.size == 0:
        fit.error = "no customers to fit"
        return fit
    try:
        fit.model = PURCHASE_MODELS[name]().fit(*history.weeks, max_seconds=max_seconds)
    except (ValueError, ConvergenceError, FloatingPointError) as exc:
        fit.error = str(exc)
    fit.seconds = time.perf_counter() - started
    return fit


def fit_purchase_models(history: History, *, limit: int, seed: int) -> dict[str, Fit]:
    """BG/NBD and Pareto/NBD fitted on the same (sampled) customers, in this process."""
    sample = history.take(sample_index(history.x.size, limit, seed))
    return {name: _fit_one(name, sample) for name in PURCHASE_MODELS}


FitTask = tuple[str, str, History]


def fit_all(tasks: list[FitTask], *, timeout: float) -> dict[str, Fit]:
    """Run ``(key, model name, history)`` fits side by side in threads, at most ``timeout``
    seconds in all (a safety net: a fit's cost is bounded, see ``btyd._tail``).

    Each optimiser checks the time after every iteration and stops itself at the deadline,
    so every thread has ended when this returns (nothing is abandoned); a fit stopped for lack
    of time is reported as an error and the run goes on with the models that were fitted.
    """
    out: dict[str, Fit] = {}

    def work(key: str, name: str, history: History) -> None:
        out[key] = _fit_one(name, history, max_seconds=timeout)

    threads = [
        threading.Thread(target=work, args=task, name=f"fit-{task[0]}", daemon=True)
        for task in tasks
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


@dataclass
class HoldoutResult:
    """How well each model fitted on the calibration period forecast the holdout period."""

    calibration_end_day: int
    holdout_days: int
    customers: int = 0
    actual: float = 0.0
    fits: dict[str, Fit] = field(default_factory=dict)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: str | None = None

    def document(self) -> dict[str, Any]:
        """The check as JSON."""
        doc: dict[str, Any] = {
            "calibration_end_day": self.calibration_end_day,
            "holdout_days": self.holdout_days,
        }
        if self.skipped:
            doc["skipped"] = self.skipped
            return doc
        doc["customers"] = self.customers
        doc["actual_purchases"] = round(self.actual, 3)
        for name, fit in self.fits.items():
            entry = fit.document()
            entry.update(self.scores.get(name, {}))
            doc[name] = entry
        return doc


def calibration_sample(calibration: History, *, limit: int, seed: int) -> History:
    """The customers of the calibration period the models are fitted on."""
    return calibration.take(sample_index(calibration.x.size, limit, seed))


def holdout_check(
    calibration: History,
    actual: IntArray,
    fits: dict[str, Fit],
    *,
    calibration_end_day: int,
    holdout_days: int,
) -> HoldoutResult:
    """Score the holdout forecasts of models ``fits`` (fitted on the calibration period)
    against ``actual`` purchase days: total, mean absolute error and RMSE per customer."""
    result = HoldoutResult(calibration_end_day, holdout_days)
    result.customers = int(calibration.x.size)
    result.actual = float(actual.sum())
    result.fits = fits
    horizon = holdout_days / DAYS_PER_WEEK
    for name, fit in result.fits.items():
        if fit.model is None:
            continue
        predicted = _unique_apply(
            calibration,
            lambda a, b, c, m=fit.model: m.conditional_expected_purchases(horizon, a, b, c),
        )
        if not np.all(np.isfinite(predicted)):
            fit.error = "non-finite holdout forecast"
            fit.model = None
            continue
        error = predicted - actual
        total = float(predicted.sum())
        result.scores[name] = {
            "predicted_purchases": round(total, 3),
            "error_pct": round(100.0 * (total - result.actual) / result.actual, 3)
            if result.actual > 0
            else 0.0,
            "mae": round(float(np.mean(np.abs(error))), 6),
            "rmse": round(float(np.sqrt(np.mean(error**2))), 6),
        }
    return result


def choose_model(fits: dict[str, Fit], holdout: HoldoutResult | None) -> tuple[str | None, str]:
    """The purchase model to use and why: smallest holdout MAE, else largest log-likelihood.

    Both models have four parameters, so comparing log-likelihoods on the same customers is
    the same as comparing AIC or BIC.
    """
    usable = [name for name, fit in fits.items() if fit.model is not None]
    if not usable:
        return None, "no purchase model could be fitted"
    if holdout is not None and not holdout.skipped:
        checked = [n for n in usable if n in holdout.scores]
        if checked:
            best = min(checked, key=lambda n: holdout.scores[n]["mae"])
            return best, "smallest mean absolute error per customer in the holdout period"
    best = max(usable, key=lambda n: float(fits[n].model.log_likelihood))
    return best, "largest log-likelihood (no holdout check available)"


def choose_alive_model(
    fits: dict[str, Fit], holdout: HoldoutResult | None, chosen: str | None
) -> tuple[str | None, str]:
    """The model that gives P(alive), and why: the chosen purchase model, unless it gives
    every one-time buyer P(alive) = 1 (:data:`ONE_TIME_ALIVE`); then the best of the others
    by the same rule (:func:`choose_model`)."""
    if chosen is None or chosen not in ONE_TIME_ALIVE:
        return chosen, "the chosen purchase model"
    others = {n: f for n, f in fits.items() if n not in ONE_TIME_ALIVE}
    best, why = choose_model(others, holdout)
    if best is None:
        return chosen, "the chosen purchase model (no other model could be fitted)"
    return best, (
        f"{fits[chosen].model.MODEL_NAME if fits[chosen].model else chosen} gives every "
        f"one-time buyer P(alive) = 1; of the other models: {why}"
    )


def distinct_histories(history: History) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
    """The distinct ``(x, t_x, T)`` rows in weeks and, per customer, the index of theirs."""
    key = (history.x << 42) | (history.tx << 21) | history.age
    unique, inverse = np.unique(key, return_inverse=True)
    mask = (1 << 21) - 1
    x = (unique >> 42).astype(np.float64)
    tx = ((unique >> 21) & mask) / DAYS_PER_WEEK
    age = (unique & mask) / DAYS_PER_WEEK
    return x, tx, age, np.asarray(inverse, dtype=np.int64).ravel()


def _unique_apply(history: History, fn: Any) -> FloatArray:
    """Apply ``fn(x, t_x, T)`` (weeks) once per distinct history and spread the result."""
    x, tx, age, inverse = distinct_histories(history)
    return np.asarray(fn(x, tx, age), dtype=np.float64)[inverse]


@dataclass
class Forecast:
    """Per-buyer outputs of the chosen purchase model."""

    p_alive: FloatArray
    expected: dict[int, FloatArray]
    discounted_purchases: FloatArray


def clv_periods(horizon_days: int, annual_discount_rate: float) -> tuple[int, float, float]:
    """Monthly-ish periods over the horizon: ``(periods, length in weeks, rate per period)``."""
    periods = max(1, round(horizon_days / (DAYS_PER_YEAR / 12)))
    length_days = horizon_days / periods
    rate = (1.0 + annual_discount_rate) ** (length_days / DAYS_PER_YEAR) - 1.0
    return periods, length_days / DAYS_PER_WEEK, rate


def forecast(
    model: Any,
    history: History,
    *,
    horizons_days: tuple[int, ...],
    clv_horizon_days: int,
    annual_discount_rate: float,
) -> Forecast:
    """P(alive), expected purchases over each horizon and the discounted expected purchases
    over the CLV horizon (each period's purchases discounted as if paid at its end)."""
    periods, length, rate = clv_periods(clv_horizon_days, annual_discount_rate)

    def compute(x: FloatArray, tx: FloatArray, age: FloatArray) -> FloatArray:
        out = np.empty((2 + len(horizons_days), x.size), dtype=np.float64)
        out[0] = model.probability_alive(x, tx, age)
        for i, days in enumerate(horizons_days):
            out[1 + i] = model.conditional_expected_purchases(days / DAYS_PER_WEEK, x, tx, age)
        total = np.zeros(x.size)
        previous = np.zeros(x.size)
        for k in range(1, periods + 1):
            cumulative = model.conditional_expected_purchases(k * length, x, tx, age)
            total += (cumulative - previous) / (1.0 + rate) ** k
            previous = cumulative
        out[-1] = total
        return out.ravel()

    x, tx, age, inverse = distinct_histories(history)
    values = compute(x, tx, age).reshape(2 + len(horizons_days), x.size)[:, inverse]
    return Forecast(
        p_alive=values[0],
        expected={days: values[1 + i] for i, days in enumerate(horizons_days)},
        discounted_purchases=values[-1],
    )


@dataclass
class Spend:
    """Expected spend per purchase of every buyer and the Gamma-Gamma fit behind it."""

    expected: FloatArray
    document: dict[str, Any]


def spend_model(
    frequency: IntArray, monetary: FloatArray, fallback: FloatArray, *, limit: int, seed: int
) -> Spend:
    """Gamma-Gamma expected spend per purchase.

    Fitted on repeat buyers whose mean repeat value ``monetary`` is positive; every buyer then
    gets the model's conditional expectation (the population mean when ``frequency`` is 0).
    When the model cannot be fitted (too few repeat buyers, ``q ≤ 1``), each buyer's own mean
    purchase value ``fallback`` is used and the document says why.
    """
    started = time.perf_counter()
    repeat = np.flatnonzero((frequency > 0) & (monetary > 0))
    sample = repeat[sample_index(repeat.size, limit, seed)]
    doc: dict[str, Any] = {"n_customers": int(sample.size)}
    try:
        if sample.size < 2:
            raise ValueError("fewer than two repeat buyers with a positive spend")
        model = GammaGamma().fit(frequency[sample], monetary[sample])
        params = model.params
        if params["q"] <= 1.0:
            raise ValueError(f"q = {params['q']:.3g} ≤ 1: the population mean spend is infinite")
        expected = model.conditional_expected_average_value(
            frequency.astype(np.float64), np.maximum(monetary, 0.0)
        )
        if not np.all(np.isfinite(expected)):
            raise ValueError("non-finite expected spend")
        doc["params"] = {k: round(v, 6) for k, v in params.items()}
        doc["log_likelihood"] = round(float(model.log_likelihood), 3)
        doc["population_mean"] = round(params["p"] * params["gamma"] / (params["q"] - 1.0), 4)
    except (ValueError, ConvergenceError, FloatingPointError) as exc:
        doc["error"] = str(exc)
        doc["fallback"] = "each buyer's own mean purchase value"
        expected = np.maximum(fallback, 0.0)
    doc["seconds"] = round(time.perf_counter() - started, 3)
    return Spend(np.asarray(expected, dtype=np.float64), doc)


def tiers(values: FloatArray, shares: tuple[float, ...]) -> npt.NDArray[np.object_]:
    """Tier letters A, B, C… by descending ``values``.

    A buyer's place is the number of buyers with a strictly larger value; places below
    ``shares[0]·n`` are A, below ``(shares[0] + shares[1])·n`` B, and so on; the rest get the
    next letter. Ties therefore share the better tier.
    """
    n = values.size
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    ordered = np.sort(values)
    above = n - np.searchsorted(ordered, values, side="right")
    letters = [chr(ord("A") + i) for i in range(len(shares) + 1)]
    bounds = np.cumsum(shares) * n
    place = np.searchsorted(bounds, above, side="right")
    out[:] = np.array(letters, dtype=object)[np.minimum(place, len(shares))]
    return out


def finite_or_none(value: float) -> float | None:
    """``value`` when finite, else None (nothing non-finite is ever stored)."""
    return value if math.isfinite(value) else None


__all__ = [
    "PURCHASE_MODELS",
    "Fit",
    "FitTask",
    "Forecast",
    "History",
    "HoldoutResult",
    "Spend",
    "calibration_sample",
    "choose_model",
    "clv_periods",
    "distinct_histories",
    "finite_or_none",
    "fit_all",
    "fit_purchase_models",
    "forecast",
    "holdout_check",
    "sample_index",
    "spend_model",
    "tiers",
]
