"""MBG/NBD on the CDNOW sample: the estimates lifetimes publishes for it, the same predictions
as lifetimes' ModifiedBetaGeoFitter at the same parameters, an analytic gradient, and the
point of the model: one-time buyers are not all alive (BG/NBD calls them alive)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from closedloop.scoring.btyd import BetaGeo, ModifiedBetaGeo
from closedloop.scoring.btyd._fitting import collapse_rows
from closedloop.scoring.cdnow import load_cdnow

#: lifetimes' ModifiedBetaGeoFitter on the same CDNOW sample (its documentation)
PUBLISHED_MBG = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


@pytest.fixture(scope="module")
def rfm() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.origin is not None, "lifetimes (dev dependency) is needed"
    data = load_cdnow(Path(spec.origin).parent / "datasets" / "CDNOW_sample.txt")
    return tuple(data[c].to_numpy(float) for c in ("frequency", "recency", "T"))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def mbgnbd(rfm: tuple[np.ndarray, np.ndarray, np.ndarray]) -> ModifiedBetaGeo:
    return ModifiedBetaGeo().fit(*rfm)


def test_mbgnbd_matches_published_cdnow_estimates(mbgnbd: ModifiedBetaGeo) -> None:
    for name, published in PUBLISHED_MBG.items():
        assert mbgnbd.params[name] == pytest.approx(published, abs=1e-3), name


def test_one_time_buyers_are_not_all_alive(
    mbgnbd: ModifiedBetaGeo, rfm: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    x, tx, age = rfm
    once = x == 0
    bg = BetaGeo().fit(*rfm)
    assert np.all(bg.probability_alive(x[once], tx[once], age[once]) == 1.0)  # the artefact
    alive = mbgnbd.probability_alive(x[once], tx[once], age[once])
    assert np.all(alive < 1.0) and np.all(alive > 0.0)
    # the longer ago the only purchase, the less likely alive
    ages = np.array([1.0, 10.0, 39.0, 78.0])
    curve = mbgnbd.probability_alive(np.zeros(4), np.zeros(4), ages)
    assert np.all(np.diff(curve) < 0)


def test_predictions_agree_with_lifetimes_at_same_parameters(
    mbgnbd: ModifiedBetaGeo, rfm: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    lifetimes = pytest.importorskip("lifetimes")
    x, tx, age = (v[:400] for v in rfm)
    theirs = lifetimes.ModifiedBetaGeoFitter()
    theirs.params_ = pd.Series({k: mbgnbd.params[k] for k in ("r", "alpha", "a", "b")})
    np.testing.assert_allclose(
        mbgnbd.conditional_expected_purchases(39.0, x, tx, age),
        theirs.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, age),
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        mbgnbd.probability_alive(x, tx, age),
        theirs.conditional_probability_alive(x, tx, age),
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        mbgnbd.expected_purchases_new_customer(np.array([1.0, 39.0, 200.0])),
        theirs.expected_number_of_purchases_up_to_time(np.array([1.0, 39.0, 200.0])),
        rtol=1e-7,
    )


def test_analytic_gradient_matches_finite_differences(
    rfm: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    objective = ModifiedBetaGeo()._objective(collapse_rows(rfm, np.ones(rfm[0].size)))
    theta = np.log([0.3, 5.0, 0.7, 2.0])
    _, grad = objective(theta)
    step = 1e-6
    numeric = [
        (objective(theta + step * e)[0] - objective(theta - step * e)[0]) / (2 * step)
        for e in np.eye(theta.size)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
