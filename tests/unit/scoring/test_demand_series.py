"""Decomposition and Holt-Winters forecasts of monthly demand (reports.demand)."""

from __future__ import annotations

import numpy as np
import pytest

from closedloop.reports.demand import decompose, holt_winters, month_label


def _series(months: int, noise: float = 0.0) -> np.ndarray:
    t = np.arange(months)
    season = 20 * np.sin(2 * np.pi * t / 12)
    rng = np.random.default_rng(1)
    return 100 + 2 * t + season + noise * rng.standard_normal(months)


def test_decomposition_recovers_trend_and_season() -> None:
    y = _series(48)
    trend, seasonal, rest = decompose(y)
    assert np.allclose(trend[6:-6], 100 + 2 * np.arange(48)[6:-6], atol=1e-9)
    expected = 20 * np.sin(2 * np.pi * np.arange(12) / 12)
    assert np.allclose(seasonal[:12], expected, atol=1.0)
    assert abs(seasonal[:12].sum()) < 1e-9
    assert np.allclose(trend + seasonal + rest, y)


def test_holt_winters_forecasts_a_seasonal_series() -> None:
    y = _series(36, noise=1.0)
    forecast = holt_winters(y, 12)
    assert forecast.method == "Holt-Winters additive"
    truth = _series(48)[36:]
    assert np.mean(np.abs(forecast.values - truth)) < 6.0
    assert set(forecast.params) == {"alpha", "beta", "gamma"}


def test_short_series_fall_back() -> None:
    assert holt_winters(np.array([5.0, 6.0, 7.0, 8.0, 9.0]), 3).method == "Holt linear trend"
    last = holt_winters(np.array([4.0, 2.0]), 2)
    assert last.method == "last value" and list(last.values) == [2.0, 2.0]
    assert list(holt_winters(np.array([]), 1).values) == [0.0]
    assert (holt_winters(np.array([9.0, 5.0, 2.0, 1.0, 0.0, 0.0]), 6).values >= 0).all()


@pytest.mark.parametrize(("index", "label"), [(2026 * 12, "2026-01"), (2026 * 12 + 11, "2026-12")])
def test_month_labels(index: int, label: str) -> None:
    assert month_label(index) == label
