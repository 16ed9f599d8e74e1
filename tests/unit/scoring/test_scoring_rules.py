"""Pure rules of the scoring run: quintiles with ties, segments, tiers, CLV periods, stages."""

from __future__ import annotations

import numpy as np
import pytest

from closedloop.scoring import lifecycle, rfm, value
from closedloop.scoring.schemas import ScoreParams


def test_quintiles_give_ties_one_score() -> None:
    values = np.array([0, 0, 0, 0, 1, 2, 3, 4, 5, 9], dtype=float)
    scores = rfm.quintile_scores(values)
    assert list(scores) == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    assert list(rfm.quintile_scores(np.arange(10.0))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert rfm.quintile_scores(np.array([])).size == 0


def test_rfm_scores_window_buyers_only_for_f_and_m() -> None:
    r, f, m = rfm.rfm(
        recency_days=np.array([5.0, 50.0, 500.0, 900.0]),
        frequency=np.array([3.0, 1.0, 0.0, 0.0]),
        monetary=np.array([300.0, 20.0, -10.0, 0.0]),
    )
    assert list(r) == [4, 3, 2, 1]
    assert list(f) == [3, 1, 1, 1] and list(m) == [3, 1, 1, 1]
    assert list(rfm.codes(r, f, m)) == ["433", "311", "211", "111"]


def test_segment_map_covers_the_grid() -> None:
    assert rfm.segment_of(5, 5) == "champions" and rfm.segment_of(1, 1) == "lost"
    assert rfm.segment_of(5, 1) == "new" and rfm.segment_of(4, 1) == "promising"
    assert rfm.segment_of(1, 5) == "cant_lose" and rfm.segment_of(2, 3) == "at_risk"
    grid = {rfm.segment_of(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert grid == set(rfm.SEGMENTS)
    assert list(rfm.fm_score(np.array([1, 1, 2, 5]), np.array([1, 2, 3, 4]))) == [1, 2, 3, 5]


def test_tiers_split_by_share_and_ties_take_the_better_tier() -> None:
    values = np.arange(10, dtype=float)[::-1]  # 9 … 0
    assert "".join(value.tiers(values, (0.2, 0.3))) == "AABBBCCCCC"
    tied = np.array([5.0, 5.0, 5.0, 1.0, 0.0])
    assert "".join(value.tiers(tied, (0.2, 0.3))) == "AAACC"  # 3 buyers rank above 1.0
    assert "".join(value.tiers(np.array([3.0, 2.0, 1.0]), (0.34,))) == "AAB"  # ceil(1.02)


def test_clv_periods_are_monthly_with_the_matching_rate() -> None:
    periods, weeks, rate = value.clv_periods(365, 0.1)
    assert periods == 12 and weeks == pytest.approx(365 / 12 / 7)
    assert (1 + rate) ** 12 == pytest.approx(1.1 ** (365 / 365.25))
    assert value.clv_periods(10, 0.0) == (1, pytest.approx(10 / 7), 0.0)


def test_lifecycle_stages() -> None:
    rules = lifecycle.LifecycleRules()
    stages = lifecycle.stages(
        rules,
        recency_days=np.array([10, 30, 200, 400, 30, 30]),
        first_age_days=np.array([20, 500, 500, 800, 900, 500]),
        gap_before_last=np.array([np.nan, 40.0, 60.0, 80.0, 400.0, 30.0]),
        p_alive=np.array([0.99, 0.9, 0.8, 0.7, 0.2, 0.05]),
    )
    assert list(stages) == ["new", "active", "at_risk", "lapsed", "won_back", "lapsed"]
    unknown = lifecycle.stages(
        rules,
        recency_days=np.array([30]),
        first_age_days=np.array([300]),
        gap_before_last=np.array([np.nan]),
        p_alive=None,
    )
    assert list(unknown) == ["active"]
    with pytest.raises(ValueError):
        lifecycle.LifecycleRules(at_risk_days=400, lapsed_days=300)


def test_params_are_checked() -> None:
    with pytest.raises(ValueError):
        ScoreParams(tier_shares=[0.6, 0.5])
    with pytest.raises(ValueError):
        ScoreParams(base_currency="E1R")
    assert ScoreParams(base_currency="usd").base_currency == "USD"
