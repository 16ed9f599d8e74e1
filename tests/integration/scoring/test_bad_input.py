"""Bad input never crashes a run and never stores NaN or infinity."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.scoring import service
from closedloop.scoring.models import PersonScore, ScoreRun
from closedloop.scoring.schemas import ScoreParams

AS_OF = date(2026, 11, 22)
Scores = Callable[[int], dict[int, PersonScore]]
Finite = Callable[[dict[int, PersonScore]], None]


def _ago(days: int) -> date:
    return AS_OF - timedelta(days=days)


def _run(engine: Engine, **kw: object) -> ScoreRun:
    return service.run_scoring(engine, ScoreParams(as_of=AS_OF, **kw))  # type: ignore[arg-type]


def test_one_time_buyers_only(
    engine: Engine, shop: Callable[..., int], stored_scores: Scores, assert_finite: Finite
) -> None:
    ids = [shop([(_ago(10 * i + 1), 20.0 + i)]) for i in range(30)]
    run = _run(engine)
    assert run.status == "done"
    models = run.models or {}
    assert models["chosen"] is None
    assert "repeat purchase" in models["bgnbd"]["error"]
    assert "error" in models["gamma_gamma"]
    scores = stored_scores(run.id)
    assert set(scores) == set(ids)
    assert_finite(scores)
    for s in scores.values():
        assert s.rfm_code is not None and s.tier in ("A", "B", "C")
        assert s.p_alive is None and s.clv is None and s.expected_spend is not None
        assert s.purchase_days == 1


def test_persons_without_purchases(
    engine: Engine, shop: Callable[..., int], stored_scores: Scores, assert_finite: Finite
) -> None:
    nothing = shop([])
    returns_only = shop([(_ago(5), -25.0)])
    refunded = shop([(_ago(9), 30.0), (_ago(9), -30.0), (_ago(3), 0.0), (_ago(3), -5.0)])
    run = _run(engine)
    assert run.status == "done"
    scores = stored_scores(run.id)
    assert nothing not in scores
    for pid in (returns_only, refunded):
        s = scores[pid]
        assert s.purchase_days == 0 and s.rfm_code is None and s.tier is None
        assert s.lifecycle_stage is None and s.recency_days is None and s.clv is None
    assert float(scores[returns_only].revenue or 0) == -25.0
    summary = run.summary or {}
    assert summary["buyers"] == 0
    assert [u["persons"] for u in summary["unscored"]] == [2]
    assert "only returns" in summary["unscored"][0]["reason"]
    assert_finite(scores)


def test_zero_amount_orders_are_purchases(
    engine: Engine, shop: Callable[..., int], stored_scores: Scores
) -> None:
    """A free item or a fully discounted order is a transaction (CDNOW counts its $0 CDs)."""
    zero = shop([(_ago(5), 0.0), (_ago(50), 0.0)])
    run = _run(engine)
    s = stored_scores(run.id)[zero]
    assert s.purchase_days == 2 and s.recency_days == 5 and s.rfm_segment is not None
    assert float(s.revenue or 0) == 0.0
    # one buyer identifies no purchase model: the only blank is P(alive), and it is explained
    (unscored,) = (run.summary or {})["unscored"]
    assert unscored["persons"] == 1 and "no purchase model" in unscored["reason"]


def test_returns_and_zero_amount_lines_are_netted(
    engine: Engine,
    population: Callable[..., list[int]],
    shop: Callable[..., int],
    stored_scores: Scores,
    assert_finite: Finite,
) -> None:
    population(150, seed=5)
    refunder = shop(
        [
            (_ago(300), 100.0),
            (_ago(200), 60.0),
            (_ago(199), -60.0),  # everything of the second purchase came back
            (_ago(100), 0.0),  # a free sample: a transaction, worth nothing
            (_ago(50), 40.0),
        ]
    )
    run = _run(engine)
    s = stored_scores(run.id)[refunder]
    assert s.purchase_days == 4 and float(s.revenue or 0) == 140.0
    assert s.expected_spend is not None and float(s.expected_spend) > 0
    assert_finite(stored_scores(run.id))


def test_future_orders_are_left_out_and_reported(
    engine: Engine, shop: Callable[..., int], stored_scores: Scores
) -> None:
    pid = shop([(_ago(40), 30.0), (_ago(10), 30.0), (AS_OF + timedelta(days=400), 999.0)])
    run = _run(engine)
    summary = run.summary or {}
    assert summary["future_orders"] == 1
    assert summary["future_orders_last"] == (AS_OF + timedelta(days=400)).isoformat()
    s = stored_scores(run.id)[pid]
    assert float(s.revenue or 0) == 60.0 and s.recency_days == 10


def test_every_order_on_the_same_day(
    engine: Engine, shop: Callable[..., int], stored_scores: Scores, assert_finite: Finite
) -> None:
    ids = [shop([(_ago(3), 10.0 + i), (_ago(3), 5.0)]) for i in range(20)]
    run = _run(engine)
    assert run.status == "done"
    assert "holdout" in (run.models or {})["holdout"]["skipped"]
    scores = stored_scores(run.id)
    assert set(scores) == set(ids)
    assert_finite(scores)
    assert {s.purchase_days for s in scores.values()} == {1}
    assert {s.lifecycle_stage for s in scores.values()} == {"new"}


def test_mixed_currencies_are_refused_naming_them(
    engine: Engine, factory: sessionmaker[Session], shop: Callable[..., int]
) -> None:
    shop([(_ago(5), 10.0), {"day": _ago(3), "amount": 12.0, "currency": "USD"}])
    shop([{"day": _ago(8), "amount": 900.0, "currency": "JPY"}])
    with pytest.raises(ValidationFailed) as caught:
        _run(engine)
    assert "JPY, USD" in caught.value.detail and "EUR" in caught.value.detail
    assert {e["message"].split(":")[0] for e in caught.value.errors} == {"JPY", "USD"}
    with factory() as s:
        run = s.scalars(select(ScoreRun)).one()
        assert run.status == "failed" and "USD" in (run.error or "")
        assert s.scalar(select(func.count()).select_from(PersonScore)) == 0


def test_mixed_currencies_are_converted_with_the_rate_table(
    engine: Engine, factory: sessionmaker[Session], shop: Callable[..., int], stored_scores: Scores
) -> None:
    pid = shop([(_ago(5), 10.0), {"day": _ago(3), "amount": 12.0, "currency": "USD"}])
    with unit_of_work(factory) as s:
        service.set_rate(s, "usd", 0.5, base="EUR")
    run = _run(engine)
    assert (run.summary or {})["currencies"]["USD"] == {"orders": 1, "rate": 0.5}
    assert float(stored_scores(run.id)[pid].revenue or 0) == 16.0


def test_a_fit_that_takes_too_long_is_stopped(
    engine: Engine, population: Callable[..., list[int]], stored_scores: Scores
) -> None:
    population(200, seed=2)
    run = _run(engine, fit_timeout=1e-3)
    models = run.models or {}
    assert run.status == "done" and models["chosen"] is None
    assert "did not finish" in models["bgnbd"]["error"]
    # The fits stopped themselves: no thread is left burning CPU after the run.
    assert not [t.name for t in threading.enumerate() if t.name.startswith("fit-")]
    assert all(s.clv is None for s in stored_scores(run.id).values())
