"""Degenerate and tiny data: every fit ends quickly, with finite parameters or a clear error.

The Pareto/NBD tail integral used to fall back on a term-by-term hypergeometric series of up
to 200,000 terms whenever scipy failed; on tiny data, where the optimiser explores extreme
parameters (``z`` next to 1), a fit of 90 customers took minutes.  These tests pin the
replacement (a bounded quadrature, checked against mpmath) and that no path loops for long.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import special

from closedloop.scoring.btyd import BetaGeo, ConvergenceError, ParetoNBD
from closedloop.scoring.btyd._minimise import LOG_BOUND
from closedloop.scoring.btyd._special import _hyp2f1_series_minus_1, hyp2f1_minus_1
from closedloop.scoring.btyd._tail import (
    QUADRATURE_Z,
    _z,
    log_pareto_tail,
    log_tail_quadrature,
    log_tail_quadrature_grad,
    quadrature_nodes,
)

# (r, x, s, alpha, beta, u, log G) with log G from mpmath at 30 digits (adaptive quadrature
# of the same integral, independently subdivided).  The first six have z > 0.99.
REFERENCE = [
    (0.3285426522034654, 5000.0, 196.10063312684602, 2.562142894703669e-06, 14147.55129832641,
     0.0, 62472.42180135506),
    (5.3479124831552146e-05, 5000.0, 0.0008546205157803147, 5.378243176695913e-06,
     27836.780473398492, 0.001, 34486.29535925883),
    (0.05536288520494852, 10.0, 89467.64718392404, 1.0813510015076151e-05, 5.470466021496309,
     0.0, -151938.4605594509),
    (0.0009773446749203672, 0.0, 4.515914753943832e-05, 0.9420723008362919,
     0.002690703053852372, 0.001, 6.891212029548517),
    (0.01205003677479212, 1.0, 995.7107480730309, 6.901131534922047e-05, 32921.476044890594,
     0.001, -10365.36437774606),
    (22144.50035080203, 5000.0, 0.00011345168307167596, 6.468201803810649e-06,
     0.3292671750280012, 0.0, 324318.0674349054),
    (3.490136665444978e-05, 10.0, 0.9802443534272024, 2.2093682084302447e-06,
     5.958171707691929e-05, 10.0, -27.679141036524825),
    (6.999175992103106e-06, 500.0, 3.6081733359293e-05, 29.013699826346567,
     0.026786593355665706, 100.0, -2435.920205200229),
]  # fmt: skip


def test_tail_integral_matches_mpmath_near_and_far_from_z_equal_one() -> None:
    r, x, s, alpha, beta, u, expected = (np.array(col) for col in zip(*REFERENCE, strict=True))
    assert np.count_nonzero(_z(alpha, beta, u) > QUADRATURE_Z) == 6
    got = log_pareto_tail(r + x, s, alpha, beta, u)
    np.testing.assert_allclose(got, expected, rtol=1e-11)
    # The quadrature alone also agrees where scipy is used.
    np.testing.assert_allclose(
        log_tail_quadrature(r + x, s + 1.0, alpha + u, beta + u), expected, rtol=1e-11
    )


def test_quadrature_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(3)
    n = 200
    p, q = 10 ** rng.uniform(-3, 4, n), 1 + 10 ** rng.uniform(-4, 4, n)
    a_u = 10 ** rng.uniform(-6, 6, n)
    b_u = np.where(rng.uniform(size=n) < 0.2, a_u, 10 ** rng.uniform(-6, 6, n))
    grad = log_tail_quadrature_grad(p, q, a_u, b_u)
    args = [p, q, a_u, b_u]
    for i, arg in enumerate(args):
        step = 1e-5 * arg

        def at(k: float, i: int = i, step: np.ndarray = step) -> np.ndarray:
            moved = [a + k * step if j == i else a for j, a in enumerate(args)]
            return log_tail_quadrature(*moved)

        numeric = (8 * (at(1) - at(-1)) - (at(2) - at(-2))) / (12 * step)
        scale = np.maximum(1.0, np.abs(grad[:, 0]))
        assert np.max(np.abs((numeric - grad[:, i + 1]) * arg) / scale) < 1e-6


def test_quadrature_cost_is_bounded_over_the_whole_parameter_box() -> None:
    low, high = np.exp(-LOG_BOUND), np.exp(LOG_BOUND)
    corners = np.array(np.meshgrid([low, high], [low, high], [low, high], [low, high])).T
    r, s, alpha, beta = corners.reshape(-1, 4).T
    for x in (0.0, 5000.0):
        for u in (0.0, 1000.0):
            assert quadrature_nodes(r + x, s + 1.0, alpha + u, beta + u) <= 400
            values = log_pareto_tail(r + x, s, alpha, beta, u)
            assert np.all(np.isfinite(values))


def test_series_gives_up_instead_of_looping() -> None:
    one = np.ones(3)
    # 2F1(1, b; c; z) with z next to 1 needs ~40 / (1 - z) terms: not summed, NaN.
    slow = _hyp2f1_series_minus_1(one, 1e5 * one, (1e5 + 1.01) * one, 0.9999 * one, 100)
    assert np.all(np.isnan(slow))
    fast = _hyp2f1_series_minus_1(one, 2 * one, 5 * one, 0.01 * one, 100)
    np.testing.assert_allclose(fast, special.hyp2f1(1, 2, 5, 0.01) - 1, rtol=1e-12)
    # hyp2f1_minus_1 passes an element whose series gave up to scipy (here: z >= 0.05).
    np.testing.assert_allclose(
        hyp2f1_minus_1(np.array([2.0, 2.0]), 3.0, 7.0, np.array([0.01, 0.5])),
        special.hyp2f1(2.0, 3.0, 7.0, np.array([0.01, 0.5])) - 1,
        rtol=1e-12,
    )


def _degenerate(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    cases = {}
    for n in (2, 5, 30, 90):
        x, tx, age = np.zeros(n), np.zeros(n), np.full(n, 0.5)
        x[0], tx[0] = 1, 0.2
        cases[f"{n}: one repeat buyer, T half a week"] = (x, tx, age)
        age = rng.uniform(0, 1 / 7, n)
        x = np.zeros(n)
        x[: max(1, n // 10)] = 1
        cases[f"{n}: T under a day"] = (x, np.where(x > 0, age * rng.uniform(0, 1, n), 0), age)
        age = rng.uniform(1, 10, n)
        x = rng.integers(0, 2, n).astype(float)
        x[0] = 5000
        cases[f"{n}: a huge frequency"] = (x, np.where(x > 0, age * rng.uniform(0.5, 1, n), 0), age)
        cases[f"{n}: identical customers"] = (np.ones(n), np.full(n, 1 / 7), np.full(n, 2 / 7))
        age = rng.integers(1, 30, n) / 7
        cases[f"{n}: last purchase today"] = (rng.integers(1, 5, n).astype(float), age, age)
        age = rng.integers(10, 60, n) / 7
        cases[f"{n}: buys every day"] = (np.round(age * 7), age.copy(), age)
    return cases


def _fit(model: type[BetaGeo] | type[ParetoNBD], data: tuple[np.ndarray, ...]) -> str:
    try:
        fitted = model().fit(*data)
    except ConvergenceError as exc:
        assert "did not converge" in str(exc)
        return "not identified"
    assert np.isfinite(fitted.log_likelihood)
    assert all(np.isfinite(v) and v > 0 for v in fitted.params.values())
    assert fitted.n_iterations <= 5 * 5000
    return "fitted"


def _rounded_otherwise(data: tuple[np.ndarray, ...], seed: int) -> tuple[np.ndarray, ...]:
    """The same customers with t_x and T moved in their last bits (1e-13 relative): every sum
    of the fit then rounds differently, as it does on a processor with other vector units."""
    x, tx, age = data
    factor = 1 + np.random.default_rng(seed).uniform(-1e-13, 1e-13, x.size)
    return x, tx * factor, age * factor


def _simulated(model: type[BetaGeo] | type[ParetoNBD], n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n`` customers drawn from the model itself over 52 weeks (so the model is identified)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.6, 1 / 4.0, n)
    age = np.full(n, 52.0)
    life = (
        rng.exponential(1 / rng.gamma(0.8, 1 / 12.0, n))
        if model is ParetoNBD
        else np.full(n, np.inf)
    )
    drop = rng.beta(0.8, 2.5, n)
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / rate[i])
            if t > min(age[i], life[i]):
                break
            x[i], tx[i] = x[i] + 1, t
            if model is BetaGeo and rng.uniform() < drop[i]:
                break
    return x, tx, age


@pytest.mark.parametrize("model", [ParetoNBD, BetaGeo])
def test_degenerate_data_fit_and_finish(model: type[BetaGeo] | type[ParetoNBD]) -> None:
    cases = _degenerate(seed=1)

    def fit_all() -> dict[str, list[str]]:
        return {
            name: [_fit(model, data), *(_fit(model, _rounded_otherwise(data, k)) for k in (1, 2))]
            for name, data in cases.items()
        }

    # A guard against a hang (the old fallback took minutes per fit), not a benchmark:
    # bench/btyd_degenerate.py measures the times.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        results = pool.submit(fit_all).result(timeout=900)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    # The verdict belongs to the data, not to how the processor rounds (issue 12: every
    # Pareto/NBD case flipped to "not identified" on an AMD EPYC).
    changed = {name: verdicts for name, verdicts in results.items() if len(set(verdicts)) > 1}
    assert not changed
    verdicts = {name: verdicts[0] for name, verdicts in results.items()}
    assert set(verdicts.values()) <= {"fitted", "not identified"}
    # Identical customers carry no heterogeneity to estimate: never a fit.
    assert all(verdicts[f"{n}: identical customers"] == "not identified" for n in (2, 5, 30, 90))


@pytest.mark.parametrize("model", [ParetoNBD, BetaGeo])
def test_small_samples_of_the_model_itself_are_fitted(
    model: type[BetaGeo] | type[ParetoNBD],
) -> None:
    """The identification check does not refuse what the data do identify."""
    for seed in (1, 2):
        data = _simulated(model, 300, seed)
        assert _fit(model, data) == "fitted"
        assert _fit(model, _rounded_otherwise(data, seed)) == "fitted"


def test_a_likelihood_level_along_a_ridge_is_named() -> None:
    """Identical customers: r and alpha grow together (the Poisson limit) at no cost."""
    with pytest.raises(ConvergenceError, match=r"r up and alpha up .* the maximum is at the bound"):
        BetaGeo().fit(np.ones(40), np.full(40, 1 / 7), np.full(40, 2 / 7))
