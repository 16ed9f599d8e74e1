"""BTYD models against the published CDNOW figures, independent numerics and bad input.

Published values: Fader, Hardie & Lee (2005) "Counting Your Customers the Easy
Way" (BG/NBD); Fader & Hardie (2005) "A Note on Deriving the Pareto/NBD Model"
(Pareto/NBD); Fader, Hardie & Lee (2005) "RFM and CLV" / "The Gamma-Gamma
Model of Monetary Value" (Gamma-Gamma).  All on the CDNOW 1/10 sample, which
ships inside the lifetimes wheel (read by path only).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from closedloop.scoring.btyd import BetaGeo, ConvergenceError, GammaGamma, ParetoNBD
from closedloop.scoring.btyd._fitting import collapse_rows
from closedloop.scoring.btyd._special import bg_kernel, hyp2f1
from closedloop.scoring.cdnow import holdout_weekly_repeats, load_cdnow, load_cdnow_transactions

PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _datasets() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:
        pytest.fail("the CDNOW data ship with lifetimes (a locked dev dependency): make install")
    return Path(spec.origin).parent / "datasets"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_cdnow(_datasets() / "CDNOW_sample.txt", holdout_end="1998-06-30")


@pytest.fixture(scope="module")
def rfm(cdnow: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        cdnow["frequency"].to_numpy(float),
        cdnow["recency"].to_numpy(float),
        cdnow["T"].to_numpy(float),
    )


@pytest.fixture(scope="module")
def bgnbd(rfm: tuple[np.ndarray, np.ndarray, np.ndarray]) -> BetaGeo:
    return BetaGeo().fit(*rfm)


@pytest.fixture(scope="module")
def pareto(rfm: tuple[np.ndarray, np.ndarray, np.ndarray]) -> ParetoNBD:
    return ParetoNBD().fit(*rfm)


# --------------------------------------------------------------------------- CDNOW summary
def test_cdnow_summary_matches_the_authors_summary_file(cdnow: pd.DataFrame) -> None:
    assert len(cdnow) == 2357
    assert int((cdnow["frequency"] > 0).sum()) == 946
    assert int(cdnow["frequency"].sum()) == 2457
    assert cdnow["first_purchase"].max() <= pd.Timestamp("1997-03-31")
    # Fader & Hardie's own (x, t_x, T, zbar) table, rounded to 2 decimals.
    ref = pd.read_csv(_datasets() / "cdnow_customers_summary_with_transactions.csv")
    ours = cdnow[["frequency", "recency", "T", "monetary_value"]].to_numpy(float)
    theirs = ref[["x", "t_x", "T", "zbar"]].to_numpy(float)
    ours, theirs = ours[np.lexsort(ours.T[::-1])], theirs[np.lexsort(theirs.T[::-1])]
    np.testing.assert_array_equal(ours[:, 0], theirs[:, 0])
    np.testing.assert_allclose(ours[:, 1:3], theirs[:, 1:3], atol=0.005 + 1e-9)
    np.testing.assert_allclose(ours[:, 3], theirs[:, 3], atol=0.005 + 1e-9)


def test_holdout_weekly_counts_add_up(cdnow: pd.DataFrame) -> None:
    weekly = holdout_weekly_repeats(load_cdnow_transactions(_datasets() / "CDNOW_sample.txt"))
    assert weekly.shape == (39,)
    assert int(weekly.sum()) == int(cdnow["frequency_holdout"].sum()) > 0


# --------------------------------------------------------------------------- published values
def test_bgnbd_matches_published_cdnow_estimates(bgnbd: BetaGeo) -> None:
    assert {k: round(v, 3) for k, v in bgnbd.params.items()} == PUBLISHED_BG
    assert round(bgnbd.log_likelihood, 1) == -9582.4


def test_bgnbd_published_conditional_expectation(bgnbd: BetaGeo) -> None:
    value = float(bgnbd.conditional_expected_purchases(39, 2, 30.43, 38.86))
    assert round(value, 3) == 1.226


def test_bgnbd_probability_of_no_purchase_published() -> None:
    published = BetaGeo.from_params(PUBLISHED_BG)
    assert float(published.probability_of_n_purchases(39, 0)) == pytest.approx(0.5737864, abs=5e-8)


def test_bgnbd_probability_of_no_purchase_fitted(bgnbd: BetaGeo) -> None:
    assert round(float(bgnbd.probability_of_n_purchases(39, 0)), 3) == 0.574


def test_pareto_matches_published_cdnow_estimates(pareto: ParetoNBD) -> None:
    params = pareto.params
    assert round(params["r"], 3) == 0.553
    assert round(params["alpha"], 3) == 10.578
    assert round(params["s"], 3) == 0.606
    assert params["beta"] == pytest.approx(11.669, rel=0.01)
    assert round(pareto.log_likelihood, 1) == -9595.0


def test_gamma_gamma_matches_published_cdnow_estimates(cdnow: pd.DataFrame) -> None:
    repeat = cdnow[cdnow["frequency"] > 0]
    assert len(repeat) == 946
    model = GammaGamma().fit(repeat["frequency"], repeat["monetary_value"])
    assert {k: round(v, 2) for k, v in model.params.items()} == {
        "p": 6.25,
        "q": 3.74,
        "gamma": 15.44,
    }


# --------------------------------------------------------------------------- independent numerics
def test_bgnbd_likelihood_equals_the_papers_plain_formula(bgnbd: BetaGeo) -> None:
    r, alpha, a, b = (bgnbd.params[k] for k in ("r", "alpha", "a", "b"))
    for x, tx, age in [(0, 0.0, 30.0), (1, 3.0, 38.0), (4, 20.5, 36.0), (12, 35.0, 37.0)]:
        plain = (
            special.beta(a, b + x)
            / special.beta(a, b)
            * special.gamma(r + x)
            * alpha**r
            / (special.gamma(r) * (alpha + age) ** (r + x))
        )
        if x > 0:
            plain += (
                special.beta(a + 1, b + x - 1)
                / special.beta(a, b)
                * special.gamma(r + x)
                * alpha**r
                / (special.gamma(r) * (alpha + tx) ** (r + x))
            )
        ours = float(bgnbd.customer_log_likelihood(x, tx, age))
        assert ours == pytest.approx(math.log(plain), rel=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7},  # alpha < beta
        {"r": 1.3, "alpha": 20.0, "s": 2.5, "beta": 3.0},  # alpha > beta
        {"r": 0.2, "alpha": 2.0, "s": 0.3, "beta": 80.0},  # alpha << beta
        {"r": 2.0, "alpha": 5.0, "s": 1.0, "beta": 5.0},  # alpha == beta
    ],
)
def test_pareto_likelihood_equals_numerical_integration(params: dict[str, float]) -> None:
    model = ParetoNBD.from_params(params)
    r, alpha, s, beta = params["r"], params["alpha"], params["s"], params["beta"]
    for x, tx, age in [(0, 0.0, 30.0), (1, 2.0, 39.0), (3, 20.0, 25.0), (10, 38.0, 39.0)]:
        dead, _ = integrate.quad(
            lambda tau, x=x: (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1),
            tx,
            age,
            epsabs=0,
            epsrel=1e-12,
        )
        alive = (alpha + age) ** -(r + x) * (beta + age) ** -s
        expected = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * math.log(alpha)
            + s * math.log(beta)
            + math.log(alive + s * dead)
        )
        ours = float(model.customer_log_likelihood(x, tx, age))
        assert ours == pytest.approx(expected, rel=1e-10)
        assert float(model.probability_alive(x, tx, age)) == pytest.approx(
            alive / (alive + s * dead), rel=1e-9
        )


def test_fitted_log_likelihood_is_sum_of_customer_terms(
    bgnbd: BetaGeo, pareto: ParetoNBD, rfm: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    assert bgnbd.customer_log_likelihood(*rfm).sum() == pytest.approx(bgnbd.log_likelihood)
    assert pareto.customer_log_likelihood(*rfm).sum() == pytest.approx(pareto.log_likelihood)


def test_bgnbd_count_distribution_is_consistent_with_its_mean() -> None:
    model = BetaGeo.from_params(PUBLISHED_BG)
    n = np.arange(0, 3000)
    probs = model.probability_of_n_purchases(39.0, n)
    assert np.all(probs >= 0)
    assert probs.sum() == pytest.approx(1.0, abs=1e-9)
    mean = float(model.expected_purchases_new_customer(39.0))
    assert float(n @ probs) == pytest.approx(mean, rel=1e-6)


@pytest.mark.parametrize(
    ("a", "b", "r", "alpha"),
    [
        (1.0, 2.4, 0.3, 4.0),  # removable singularity a = 1
        (1.0 + 3e-5, 2.4, 0.3, 4.0),
        (1.0 - 1e-9, 2.4, 0.3, 4.0),
        (0.4, 2.4, 0.3, 4.0),
        (2.5, 2.4, 0.3, 4.0),
        (40.0, 3.0, 2.0, 4.0),  # a - 1 > r: the series as written
        (0.8, 502.4, 500.3, 404.0),  # heavy buyer: (b + x, r + x, alpha + T)
    ],
)
def test_bg_kernel_matches_quadrature(a: float, b: float, r: float, alpha: float) -> None:
    t = 39.0

    def integrand(p: float) -> float:
        density = math.exp((a - 1) * math.log(p) + (b - 1) * math.log1p(-p) - special.betaln(a, b))
        return density * -math.expm1(-r * math.log1p(p * t / alpha)) / p

    points = [1e-6, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 0.9]
    reference, _ = integrate.quad(integrand, 0, 1, epsabs=0, epsrel=1e-11, limit=400, points=points)
    assert float(bg_kernel(a, b, r, alpha, t)) == pytest.approx(reference, rel=1e-7)


def test_pareto_expectation_is_continuous_at_s_equal_one() -> None:
    base = {"r": 0.5, "alpha": 10.0, "beta": 12.0}
    at_one = ParetoNBD.from_params({**base, "s": 1.0})
    below = ParetoNBD.from_params({**base, "s": 1.0 - 1e-7})
    above = ParetoNBD.from_params({**base, "s": 1.0 + 1e-7})
    for model_t in (10.0, 39.0):
        mid = 0.5 * (
            below.expected_purchases_new_customer(model_t)
            + above.expected_purchases_new_customer(model_t)
        )
        assert float(at_one.expected_purchases_new_customer(model_t)) == pytest.approx(
            mid, rel=1e-8
        )


def test_predictions_agree_with_lifetimes_at_same_parameters(
    bgnbd: BetaGeo, pareto: ParetoNBD, rfm: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    lifetimes = pytest.importorskip("lifetimes")
    x, tx, age = (v[:400] for v in rfm)
    pairs = [
        (bgnbd, lifetimes.BetaGeoFitter(), ("r", "alpha", "a", "b")),
        (pareto, lifetimes.ParetoNBDFitter(), ("r", "alpha", "s", "beta")),
    ]
    for ours, theirs, names in pairs:
        theirs.params_ = pd.Series({k: ours.params[k] for k in names})
        np.testing.assert_allclose(
            ours.conditional_expected_purchases(39.0, x, tx, age),
            theirs.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, age),
            rtol=1e-7,
        )
        np.testing.assert_allclose(
            ours.probability_alive(x, tx, age),
            theirs.conditional_probability_alive(x, tx, age),
            rtol=1e-7,
        )
        np.testing.assert_allclose(
            ours.expected_purchases_new_customer(np.array([1.0, 39.0, 200.0])),
            theirs.expected_number_of_purchases_up_to_time(np.array([1.0, 39.0, 200.0])),
            rtol=1e-7,
        )


# --------------------------------------------------------------------------- gradients, collapsing
def test_analytic_gradients_match_finite_differences(
    rfm: tuple[np.ndarray, np.ndarray, np.ndarray], cdnow: pd.DataFrame
) -> None:
    repeat = cdnow[cdnow["frequency"] > 0]
    cases = [
        (BetaGeo(), collapse_rows(rfm, np.ones(rfm[0].size)), np.log([0.3, 5.0, 0.7, 2.0])),
        (
            GammaGamma(),
            collapse_rows(
                (repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(float)),
                np.ones(len(repeat)),
            ),
            np.log([5.0, 3.0, 14.0]),
        ),
    ]
    for model, data, theta in cases:
        objective = model._objective(data)
        _, grad = objective(theta)
        step = 1e-6
        numeric = [
            (objective(theta + step * e)[0] - objective(theta - step * e)[0]) / (2 * step)
            for e in np.eye(theta.size)
        ]
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("model_cls", [BetaGeo, ParetoNBD])
def test_collapsed_weights_give_the_same_fit(
    model_cls: type[BetaGeo] | type[ParetoNBD], rfm: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    raw = model_cls().fit(*rfm)
    rows, counts = np.unique(np.column_stack(rfm), axis=0, return_counts=True)
    weighted = model_cls().fit(rows[:, 0], rows[:, 1], rows[:, 2], weights=counts)
    assert raw.n_unique_rows == rows.shape[0] < rfm[0].size
    assert weighted.log_likelihood == pytest.approx(raw.log_likelihood, rel=1e-12)
    for name, value in raw.params.items():
        assert weighted.params[name] == pytest.approx(value, rel=1e-5)


# --------------------------------------------------------------------------- heavy buyers
def test_heavy_buyers_give_finite_values(
    bgnbd: BetaGeo, pareto: ParetoNBD, rfm: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    x = np.array([500.0, 500.0, 500.0, 5000.0, 5000.0])
    tx = np.array([5.0, 390.0, 399.9, 100.0, 999.0])
    age = np.array([400.0, 400.0, 400.0, 1000.0, 1000.0])
    for model in (bgnbd, pareto):
        ll = model.customer_log_likelihood(x, tx, age)
        alive = model.probability_alive(x, tx, age)
        expected = model.conditional_expected_purchases(52.0, x, tx, age)
        for values in (ll, alive, expected):
            assert np.all(np.isfinite(values))
        assert np.all((alive >= 0) & (alive <= 1))
        assert np.all(expected >= 0)
        # A heavy buyer seen recently is alive and keeps buying at ~x/T per week.
        assert alive[2] > 0.99
        assert expected[2] == pytest.approx(52.0 * 500 / 400, rel=0.15)
    # Fitting with heavy buyers appended stays finite and well defined.
    fx = np.concatenate([rfm[0], [500.0, 800.0]])
    ftx = np.concatenate([rfm[1], [38.0, 38.5]])
    fage = np.concatenate([rfm[2], [38.8, 38.8]])
    for model_cls in (BetaGeo, ParetoNBD):
        fitted = model_cls().fit(fx, ftx, fage)
        assert np.isfinite(fitted.log_likelihood)
        assert all(np.isfinite(v) and v > 0 for v in fitted.params.values())


def test_scipy_hyp2f1_failures_are_repaired() -> None:
    # scipy returns inf here (c - a - b = 98 is an integer); the value is from mpmath.
    assert float(hyp2f1(1.0, 2.0, 101.0, 10 / 11)) == pytest.approx(1.01850090868365, rel=1e-12)
    # The Pareto/NBD case where the property test found it: r = 1, x = 98.
    model = ParetoNBD.from_params({"r": 1.0, "alpha": 1.0, "s": 1.0, "beta": 11.0})
    for value in (
        model.customer_log_likelihood(98, 0.5, 1.0),
        model.probability_alive(98, 0.5, 1.0),
        model.conditional_expected_purchases(10.0, 98, 0.5, 1.0),
    ):
        assert np.isfinite(value)


# --------------------------------------------------------------------------- CLV
def test_customer_lifetime_value(bgnbd: BetaGeo, cdnow: pd.DataFrame) -> None:
    repeat = cdnow[cdnow["frequency"] > 0]
    spend = GammaGamma().fit(repeat["frequency"], repeat["monetary_value"])
    args = (bgnbd, cdnow["frequency"], cdnow["recency"], cdnow["T"], cdnow["monetary_value"])
    clv = spend.customer_lifetime_value(*args, periods=12, period_length=4.0, discount_rate=0.01)
    assert clv.shape == (2357,) and np.all(np.isfinite(clv)) and np.all(clv >= 0)
    # Hand computation for the paper's example customer (x=2, t_x=30.43, T=38.86, m=22.35).
    value = float(spend.conditional_expected_average_value(2, 22.35))
    cumulative = [
        float(bgnbd.conditional_expected_purchases(4.0 * k, 2, 30.43, 38.86)) for k in range(13)
    ]
    by_hand = sum(value * (cumulative[k] - cumulative[k - 1]) / 1.01**k for k in range(1, 13))
    one = spend.customer_lifetime_value(bgnbd, 2, 30.43, 38.86, 22.35, period_length=4.0)
    assert float(one) == pytest.approx(by_hand, rel=1e-12)
    # No discounting over one long period equals expected purchases times spend.
    flat = spend.customer_lifetime_value(
        bgnbd, 2, 30.43, 38.86, 22.35, periods=1, period_length=39.0, discount_rate=0.0
    )
    assert float(flat) == pytest.approx(value * 1.2259068, rel=1e-6)
    # Customers without repeat purchases are valued at the population mean spend.
    p, q, gamma = (spend.params[k] for k in ("p", "q", "gamma"))
    assert float(spend.conditional_expected_average_value(0, 0.0)) == pytest.approx(
        p * gamma / (q - 1)
    )


# --------------------------------------------------------------------------- properties
def _param(low: float, high: float) -> st.SearchStrategy[float]:
    # Whole numbers are drawn on purpose: they make c - a - b integral in the 2F1 terms.
    return st.one_of(st.floats(low, high), st.sampled_from([1.0, 2.0, 3.0]))


params_bg = st.fixed_dictionaries(
    {
        "r": _param(0.05, 5.0),
        "alpha": _param(0.1, 50.0),
        "a": _param(0.1, 5.0),
        "b": _param(0.1, 10.0),
    }
)
params_pareto = st.fixed_dictionaries(
    {
        "r": _param(0.05, 5.0),
        "alpha": _param(0.1, 50.0),
        "s": _param(0.1, 5.0),
        "beta": _param(0.1, 50.0),
    }
)
customers = st.tuples(st.integers(0, 300), st.floats(0.0, 1.0), st.floats(0.1, 200.0)).map(
    lambda c: (float(c[0]), c[1] * c[2] if c[0] > 0 else 0.0, c[2])
)


@settings(max_examples=150, deadline=None)
@given(
    model=st.one_of(
        params_bg.map(lambda p: BetaGeo.from_params(p)),
        params_pareto.map(lambda p: ParetoNBD.from_params(p)),
    ),
    customer=customers,
    horizons=st.tuples(st.floats(0.0, 300.0), st.floats(0.0, 300.0)).map(sorted),
)
def test_predictions_are_probabilities_and_monotone(
    model: BetaGeo | ParetoNBD, customer: tuple[float, float, float], horizons: list[float]
) -> None:
    x, tx, age = customer
    alive = float(model.probability_alive(x, tx, age))
    assert 0.0 <= alive <= 1.0
    early, late = (float(model.conditional_expected_purchases(t, x, tx, age)) for t in horizons)
    assert math.isfinite(early) and math.isfinite(late)
    assert 0.0 <= early <= late * (1 + 1e-9) + 1e-12
    new_early, new_late = (float(model.expected_purchases_new_customer(t)) for t in horizons)
    assert 0.0 <= new_early <= new_late * (1 + 1e-9) + 1e-12
    assert math.isfinite(float(model.customer_log_likelihood(x, tx, age)))
    if isinstance(model, BetaGeo):
        probs = model.probability_of_n_purchases(horizons[1], np.arange(0, 5))
        assert np.all((probs >= 0) & (probs <= 1)) and probs.sum() <= 1 + 1e-9


# --------------------------------------------------------------------------- bad input
GOOD = ([1, 0, 2], [3.0, 0.0, 5.0], [10.0, 10.0, 10.0])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (([1, -1, 2], GOOD[1], GOOD[2]), "frequency must be non-negative"),
        ((GOOD[0], [3.0, 0.0, -5.0], GOOD[2]), "recency must be non-negative"),
        ((GOOD[0], GOOD[1], [10.0, -1.0, 10.0]), "T must be non-negative"),
        ((GOOD[0], [3.0, 0.0, 11.0], GOOD[2]), "recency must not exceed T"),
        (([1, 0, 2], [3.0, 1.0, 5.0], GOOD[2]), "recency must be 0 when frequency is 0"),
        (([1, 0], GOOD[1], GOOD[2]), "same length"),
        (([], [], []), "frequency is empty"),
        (([1, np.nan, 2], GOOD[1], GOOD[2]), "frequency contains NaN"),
        ((GOOD[0], GOOD[1], [10.0, np.inf, 10.0]), "T contains NaN or infinite"),
        (([1.5, 0, 2], GOOD[1], GOOD[2]), "frequency must hold whole numbers"),
        ((["a", "b", "c"], GOOD[1], GOOD[2]), "frequency must be numeric"),
    ],
)
@pytest.mark.parametrize("model_cls", [BetaGeo, ParetoNBD])
def test_bad_input_is_rejected_with_the_argument_named(
    model_cls: type[BetaGeo] | type[ParetoNBD], data: tuple[object, ...], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        model_cls().fit(*data)
    if data != ([1, 0], GOOD[1], GOOD[2]) and data != ([], [], []):
        fitted = model_cls.from_params(dict.fromkeys(model_cls.PARAM_NAMES, 1.0))
        with pytest.raises(ValueError, match=match):
            fitted.conditional_expected_purchases(10.0, *data)


def test_other_bad_inputs() -> None:
    with pytest.raises(ValueError, match="weights must have one entry"):
        BetaGeo().fit(*GOOD, weights=[1, 2])
    with pytest.raises(ValueError, match="weights must be non-negative"):
        BetaGeo().fit(*GOOD, weights=[1, -2, 1])
    with pytest.raises(ValueError, match="nobody made a repeat purchase"):
        ParetoNBD().fit([0, 0], [0, 0], [5, 6])
    with pytest.raises(ValueError, match="t must be non-negative"):
        BetaGeo.from_params(PUBLISHED_BG).expected_purchases_new_customer(-1.0)
    with pytest.raises(ValueError, match="repeat buyers only"):
        GammaGamma().fit([0, 2], [10.0, 12.0])
    with pytest.raises(ValueError, match="monetary_value must be positive"):
        GammaGamma().fit([1, 2], [0.0, 12.0])
    with pytest.raises(ValueError, match="same length"):
        GammaGamma().fit([1, 2], [10.0])
    with pytest.raises(ValueError, match="parameters"):
        BetaGeo.from_params({"r": 1.0, "alpha": 1.0, "a": 1.0})
    with pytest.raises(RuntimeError, match="not fitted"):
        _ = BetaGeo().params


def test_unidentifiable_data_raise_convergence_error() -> None:
    # Identical customers: no heterogeneity, so the mixing distributions degenerate.
    with pytest.raises(ConvergenceError, match="did not converge"):
        BetaGeo().fit([5] * 10, [10.0] * 10, [10.0] * 10)
