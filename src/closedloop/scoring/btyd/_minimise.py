"""The optimiser shared by the BTYD models, and when its answer counts as a maximum.

L-BFGS-B alone cannot be the judge.  On tiny or degenerate data it often stops because the
objective no longer changes in the last bits (``REL_REDUCTION_OF_F <= FACTR*EPSMCH``) or its
line search fails (``ABNORMAL``), with a largest gradient around 1e-5: the gradient is a
central difference (Pareto/NBD) or cancels badly near extreme parameters, and where the run
stops depends on the last bits of every sum, so on the processor's vector instructions.  A
fixed bound on that gradient therefore gave "converged" on one x86 machine and "did not
converge" on another for the same data.

The verdict here is a likelihood-ratio check, whose scale is the one statistics uses: the
fit is a maximum when no parameter vector near it raises the *total* log-likelihood by more
than :data:`LIKELIHOOD_TOLERANCE` (twice that gain is the likelihood-ratio statistic; 0.002
puts the estimate within about 0.05 standard errors of the maximum).  A derivative-free probe
looks along every axis and down the gradient at steps 1e-1 … 1e-4 (log-parameters); a probe
that finds more restarts L-BFGS-B from the better point.  A tiny gradient
(:data:`GRADIENT_TOLERANCE`) accepts the fit at once.

Degenerate data (two customers, identical customers, everyone buying daily) do not identify
the models: the likelihood rises or stays level along a ridge to the parameter bounds (e.g.
``r`` and ``α`` growing together, the Poisson limit).  Whether L-BFGS-B then stops at the
bound or a little short of it depends on rounding again, so the verdict is taken from the
likelihood surface instead: a fit is *identified* when walking from it to the 1e-6 .. 1e6
bounds, along every axis and every diagonal of two axes, lowers the total log-likelihood by
at least :data:`IDENTIFICATION_DROP`; otherwise the maximum lies, as far as the fit can tell,
at the bound, and the model is not identified (the old "ran to the bound" verdict, now the
same wherever the optimiser stopped).  A fit accepted on a ridge has at most about ten times
:data:`LIKELIHOOD_TOLERANCE` left to gain along it, so 0.05 keeps a margin above that; on the
test data the drops are below 0.006 or above 0.4.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
from scipy import optimize

from closedloop.scoring.btyd._fitting import FloatArray, Objective

try:  # shipped with scipy's usual stack; optional
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - depends on the environment
    threadpool_limits = None

#: Parameters are optimised as logarithms inside these bounds (1e-6 .. 1e6).
LOG_BOUND = float(np.log(1e6))
#: A fit is accepted at once when the largest gradient component of the mean negative
#: log-likelihood (per customer, in log-parameter space) is below this.
GRADIENT_TOLERANCE = 1e-6
#: Otherwise it is accepted when no probed neighbour raises the total log-likelihood by more.
LIKELIHOOD_TOLERANCE = 1e-3
#: A fit is identified when every walk to the bounds costs at least this much total
#: log-likelihood (a likelihood-ratio statistic of 0.1).
IDENTIFICATION_DROP = 0.05
#: The identification walk looks this far (log-parameters, a factor of 20) before the bound.
WALK_FIRST_STEP = 3.0
#: Probe steps in log-parameter space (a factor of 1.105 down to 1.0001 on a parameter).
PROBE_STEPS = (1e-1, 1e-2, 1e-3, 1e-4)
#: L-BFGS-B runs at most this many times (the first, then restarts from a better probe).
MAX_RUNS = 4


class ConvergenceError(RuntimeError):
    """Raised when a model's maximum-likelihood fit does not converge."""


class Minimum(NamedTuple):
    """Where a fit ended: log-parameters, mean negative log-likelihood, L-BFGS-B iterations."""

    theta: FloatArray
    value: float
    iterations: int


class Probe(NamedTuple):
    """The best neighbour a probe found and how much it raises the total log-likelihood."""

    theta: FloatArray
    value: float
    gain: float


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run BLAS single-threaded for the duration of a fit.

    scipy's L-BFGS-B calls BLAS/LAPACK on vectors of four numbers; with
    OpenBLAS threads on a busy machine those calls spin for milliseconds each
    (profiled: over 90% of a CDNOW BG/NBD fit).  The work in our objectives is
    elementwise numpy, which is single-threaded anyway.
    """
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def probe(
    objective: Objective, theta: FloatArray, value: float, grad: FloatArray, weight: float
) -> Probe:
    """Look around ``theta`` for a better point, without trusting the gradient's size.

    Directions: each axis both ways and down the gradient; steps :data:`PROBE_STEPS`,
    clipped to the bounds.  ``weight`` (the number of customers) turns the mean objective
    into the total log-likelihood the gain is measured in.
    """
    eye = np.eye(theta.size)
    directions = [*eye, *(-eye)]
    norm = float(np.linalg.norm(grad))
    if norm > 0:
        directions.append(-grad / norm)
    best_theta, best_value = theta, value
    for step in PROBE_STEPS:
        for direction in directions:
            moved = np.clip(theta + step * direction, -LOG_BOUND, LOG_BOUND)
            with np.errstate(all="ignore"):
                moved_value = objective(moved)[0]
            if np.isfinite(moved_value) and moved_value < best_value:
                best_theta, best_value = moved, float(moved_value)
    return Probe(best_theta, best_value, (value - best_value) * weight)


def minimise(
    objective: Objective,
    start: FloatArray,
    names: Sequence[str],
    model: str,
    *,
    weight: float,
    gtol: float = 1e-9,
    max_seconds: float | None = None,
) -> Minimum:
    """Minimise ``objective`` (mean negative log-likelihood and gradient, log-parameters).

    ``weight`` is the number of customers (the mean's denominator).  Raises
    :class:`ConvergenceError` when a parameter runs to the 1e-6 .. 1e6 bounds (the data do
    not identify the model, e.g. identical customers), when the likelihood-ratio check
    still finds a gain after :data:`MAX_RUNS` runs, or when ``max_seconds`` pass first
    (checked after every iteration, in the calling thread: nothing is left running).
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    timed_out = [False]

    def check_time(intermediate_result: optimize.OptimizeResult) -> None:
        if deadline is not None and time.monotonic() > deadline:
            timed_out[0] = True
            raise StopIteration

    theta, iterations, gain = np.asarray(start, dtype=np.float64), 0, 0.0
    for _ in range(MAX_RUNS):
        with _single_threaded_blas():
            result = optimize.minimize(
                objective,
                theta,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                callback=check_time,
                options={"maxiter": 5000, "ftol": 1e-15, "gtol": gtol, "maxcor": 20},
            )
            theta = np.asarray(result.x, dtype=np.float64)
            value, grad = objective(theta)
        iterations += int(result.nit)
        if timed_out[0]:
            raise ConvergenceError(
                f"{model} fit did not finish within {max_seconds:g} s (stopped after "
                f"{iterations} iterations)"
            )
        _check_finite(value, grad, theta, names, model)
        converged = np.max(np.abs(grad)) <= GRADIENT_TOLERANCE
        if not converged:
            better = probe(objective, theta, float(value), grad, weight)
            converged = better.gain <= LIKELIHOOD_TOLERANCE
        if converged:
            _check_identified(objective, theta, float(value), weight, names, model)
            return Minimum(theta, float(value), iterations)
        theta, gain = better.theta, better.gain
    raise ConvergenceError(
        f"{model} fit did not converge after {iterations} iterations ({result.message}): "
        f"moving the parameters still raised the log-likelihood by {gain:.3g}"
    )


def _check_finite(
    value: float, grad: FloatArray, theta: FloatArray, names: Sequence[str], model: str
) -> None:
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        raise ConvergenceError(f"{model} fit ended on a non-finite log-likelihood")
    at_bound = np.abs(theta) > LOG_BOUND - 1e-3
    if np.any(at_bound):
        which = ", ".join(n for n, hit in zip(names, at_bound, strict=True) if hit)
        raise ConvergenceError(
            f"{model} fit did not converge: parameter(s) {which} ran to the "
            f"1e-6..1e6 bound; the data do not identify the model"
        )


def flattest_walk(
    objective: Objective, theta: FloatArray, value: float, weight: float
) -> tuple[FloatArray, float]:
    """The direction (an axis or a two-axis diagonal) along which walking from ``theta`` to
    the bounds lowers the total log-likelihood least, and by how much (negative: it rises).

    Each walk first looks :data:`WALK_FIRST_STEP` along: where the likelihood has already
    fallen by :data:`IDENTIFICATION_DROP` the direction is settled, and the bound itself (on
    Pareto/NBD, extreme parameters cost ten times an ordinary evaluation) is not visited.
    """
    eye = np.eye(theta.size)
    directions = [*eye, *(-eye)]
    for i, j in itertools.combinations(range(theta.size), 2):
        directions += [(eye[i] * si + eye[j] * sj) for si in (1, -1) for sj in (1, -1)]

    def drop_at(direction: FloatArray, distance: float) -> float:
        moved = np.clip(theta + distance * direction, -LOG_BOUND, LOG_BOUND)
        with np.errstate(all="ignore"):
            moved_value = objective(moved)[0]
        return (moved_value - value) * weight if np.isfinite(moved_value) else np.inf

    flattest, least = directions[0], np.inf
    for direction in directions:
        moving = direction != 0
        room = np.where(direction > 0, LOG_BOUND - theta, -LOG_BOUND - theta)
        distance = float(np.min(room[moving] / direction[moving]))
        drop = drop_at(direction, min(distance, WALK_FIRST_STEP))
        if drop < IDENTIFICATION_DROP and distance > WALK_FIRST_STEP:
            drop = drop_at(direction, distance)
        if drop < least:
            flattest, least = direction, float(drop)
    return flattest, least


def _check_identified(
    objective: Objective,
    theta: FloatArray,
    value: float,
    weight: float,
    names: Sequence[str],
    model: str,
) -> None:
    direction, drop = flattest_walk(objective, theta, value, weight)
    if drop < IDENTIFICATION_DROP:
        which = " and ".join(
            f"{name} {'up' if step > 0 else 'down'}"
            for name, step in zip(names, direction, strict=True)
            if step
        )
        raise ConvergenceError(
            f"{model} fit did not converge to a finite estimate: the data do not identify the "
            f"model (moving "
            f"{which} to the 1e-6..1e6 bound changes the log-likelihood by {-drop:+.3g}, "
            f"so the maximum is at the bound)"
        )


def finite_difference(
    values: Callable[[FloatArray], FloatArray], theta: FloatArray, step: float = 1e-5
) -> tuple[float, FloatArray]:
    """Value and central-difference gradient of a scalar function.

    ``values`` takes a ``(k, p)`` stack of parameter vectors and returns ``k``
    values, so all ``2p + 1`` evaluations run as one vectorised call.
    """
    p = theta.size
    stack = np.repeat(theta[None, :], 2 * p + 1, axis=0)
    for i in range(p):
        stack[1 + 2 * i, i] += step
        stack[2 + 2 * i, i] -= step
    out = values(stack)
    grad = (out[1::2] - out[2::2]) / (2.0 * step)
    return float(out[0]), np.asarray(grad, dtype=np.float64)
