"""The two-model uplift on generated data whose true uplift is known: persuadables (buy only
when addressed) are ranked above sure things (buy anyway) and lost causes, and the Qini
coefficient is well above random."""

from __future__ import annotations

import numpy as np

from closedloop.targeting.uplift import fit_and_judge, qini_coefficient, qini_curve


def _world(n: int = 6000, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)  # 0 persuadable, 1 sure thing, 2 lost cause
    x = np.column_stack([group == 0, group == 1, rng.normal(size=n), rng.normal(size=n)]).astype(
        float
    )
    x[:, :2] += rng.normal(scale=0.3, size=(n, 2))  # the groups are seen through noise
    treated = rng.random(n) < 0.5
    p = np.where(group == 0, np.where(treated, 0.6, 0.05), np.where(group == 1, 0.7, 0.03))
    y = (rng.random(n) < p).astype(int)
    return x, treated, y, group


def test_persuadables_rank_above_sure_things() -> None:
    x, treated, y, group = _world()
    result = fit_and_judge(x, treated, y)
    scores = result["scores"]
    mean = {g: float(scores[group == g].mean()) for g in (0, 1, 2)}
    assert mean[0] > 0.4 and abs(mean[1]) < 0.15 and abs(mean[2]) < 0.1, mean
    top = np.argsort(-scores)[: (group == 0).sum()]
    assert (group[top] == 0).mean() > 0.8  # the top third is nearly all persuadables
    # Random targeting is 0; the best possible ranking here is about 0.06.
    assert result["qini_coefficient"] > 0.02
    first, last = result["deciles"][0], result["deciles"][-1]
    assert first["observed"] > 0.3 > last["observed"]


def test_a_random_ranking_has_a_qini_near_zero() -> None:
    _x, treated, y, _ = _world(seed=8)
    noise = np.random.default_rng(1).random(len(y))
    assert abs(qini_coefficient(qini_curve(noise, treated, y))) < 0.02
    curve = qini_curve(noise, treated, y)
    assert curve[0] == {"fraction": 0.0, "incremental": 0.0} and curve[-1]["fraction"] == 1.0
