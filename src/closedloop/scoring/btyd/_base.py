"""Shared fitting skeleton of the BTYD models (parameters, fit, validation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

import numpy as np

from closedloop.scoring.btyd._fitting import (
    Collapsed,
    FloatArray,
    Objective,
    check_rfm,
    check_weights,
    collapse_rows,
)
from closedloop.scoring.btyd._minimise import minimise


class FittedModel:
    """Parameter storage, ``from_params`` and ``params`` for every model."""

    #: The paper's parameter names, in optimisation order.
    PARAM_NAMES: ClassVar[tuple[str, ...]] = ()
    #: Human-readable model name for error messages.
    MODEL_NAME: ClassVar[str] = ""
    #: L-BFGS-B stops when every projected gradient component is below this
    #: (mean log-likelihood per customer, log-parameters).
    GTOL: ClassVar[float] = 1e-9

    def __init__(self) -> None:
        """Create an unfitted model; call ``fit`` or use :meth:`from_params`."""
        self._params: dict[str, float] | None = None
        #: Total (weighted) log-likelihood at the fitted parameters.
        self.log_likelihood: float = float("nan")
        #: Number of customers (sum of weights) the model was fitted on.
        self.n_customers: float = 0.0
        #: Number of distinct data rows after collapsing identical customers.
        self.n_unique_rows: int = 0
        #: Iterations used by the optimiser.
        self.n_iterations: int = 0

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Self:
        """Build a model with known parameters (e.g. published estimates)."""
        model = cls()
        missing = set(cls.PARAM_NAMES) - set(params)
        extra = set(params) - set(cls.PARAM_NAMES)
        if missing or extra:
            raise ValueError(
                f"{cls.MODEL_NAME} needs exactly the parameters {list(cls.PARAM_NAMES)}; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        values = {name: float(params[name]) for name in cls.PARAM_NAMES}
        bad = [name for name, v in values.items() if not (np.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"{cls.MODEL_NAME} parameters must be positive and finite: {bad}")
        model._params = values
        return model

    @property
    def params(self) -> dict[str, float]:
        """Fitted parameters under the paper's names."""
        if self._params is None:
            raise RuntimeError(f"{self.MODEL_NAME} is not fitted; call fit() first")
        return dict(self._params)

    def _values(self) -> tuple[float, ...]:
        params = self.params
        return tuple(params[name] for name in self.PARAM_NAMES)

    def _store_fit(
        self,
        data: Collapsed,
        objective: Objective,
        start: FloatArray,
        max_seconds: float | None = None,
    ) -> None:
        total = float(np.sum(data.weights))
        found = minimise(
            objective,
            start,
            self.PARAM_NAMES,
            self.MODEL_NAME,
            weight=total,
            gtol=self.GTOL,
            max_seconds=max_seconds,
        )
        self._params = {
            name: float(v) for name, v in zip(self.PARAM_NAMES, np.exp(found.theta), strict=True)
        }
        self.log_likelihood = -found.value * total
        self.n_customers = total
        self.n_unique_rows = int(data.weights.size)
        self.n_iterations = found.iterations

    def __repr__(self) -> str:
        """Show the parameters, or that the model is unfitted."""
        if self._params is None:
            return f"{type(self).__name__}(unfitted)"
        inner = ", ".join(f"{k}={v:.4g}" for k, v in self._params.items())
        return f"{type(self).__name__}({inner})"


class TransactionModel(FittedModel):
    """Base of the purchase-count models fitted on ``(x, t_x, T)``."""

    def fit(
        self,
        frequency: object,
        recency: object,
        T: object,
        weights: object = None,
        *,
        max_seconds: float | None = None,
    ) -> Self:
        """Fit by maximum likelihood and return ``self``.

        ``frequency`` is the number of repeat purchases ``x``, ``recency`` the
        time of the last repeat purchase ``t_x`` and ``T`` the time since the
        first purchase, all measured from the first purchase in one time unit.
        ``weights`` optionally gives how many customers each row stands for;
        ``max_seconds`` stops the optimiser (with ``ConvergenceError``) after that long.
        Identical rows are collapsed before fitting, so the cost grows with the
        number of distinct ``(x, t_x, T)`` rows, not customers.

        Raises ``ValueError`` on invalid data and
        :class:`~closedloop.scoring.btyd.ConvergenceError` if the fit fails.
        """
        x, tx, age = check_rfm(frequency, recency, T)
        w = check_weights(weights, x.size)
        data = collapse_rows((x, tx, age), w)
        if not np.any(data.columns[0] > 0):
            raise ValueError("frequency: nobody made a repeat purchase; the model cannot be fitted")
        self._store_fit(data, self._objective(data), self._start(data), max_seconds)
        return self

    def _objective(self, data: Collapsed) -> Objective:
        raise NotImplementedError

    def _start(self, data: Collapsed) -> FloatArray:
        raise NotImplementedError


def nbd_start(data: Collapsed) -> tuple[float, float]:
    """Starting ``(r, α)``: a gamma fitted by moments to the observed rates ``x/T``."""
    x, _, age = data.columns
    w = data.weights * (age > 0)
    if not np.any(w > 0):
        return 1.0, 1.0
    rate = np.divide(x, age, out=np.zeros_like(x), where=age > 0)
    mean = float(np.average(rate, weights=w))
    var = float(np.average((rate - mean) ** 2, weights=w))
    poisson = float(
        np.average(np.divide(mean, age, out=np.zeros_like(x), where=age > 0), weights=w)
    )
    excess = var - poisson
    if mean <= 0 or excess <= 0:
        return 1.0, 1.0 / max(mean, 1e-3)
    r = float(np.clip(mean**2 / excess, 1e-3, 1e3))
    return r, float(np.clip(r / mean, 1e-3, 1e5))


__all__ = ["FittedModel", "TransactionModel", "check_rfm", "nbd_start"]
