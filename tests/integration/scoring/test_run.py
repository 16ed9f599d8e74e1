"""The scoring run end to end: stored history, models document, RFM, tiers, lifecycle."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict
from closedloop.jobs.models import Job
from closedloop.jobs.schedules import add_schedule, fire_due
from closedloop.jobs.service import enqueue, run_pending
from closedloop.scoring import queries, service
from closedloop.scoring.models import PersonScore, ScoreRun
from closedloop.scoring.rfm import SEGMENTS
from closedloop.scoring.schemas import ScoreParams

AS_OF = date(2026, 11, 22)


def test_run_stores_every_buyers_scores_and_both_models(
    engine: Engine,
    population: Callable[..., list[int]],
    stored_scores: Callable[[int], dict[int, PersonScore]],
    assert_finite: Callable[[dict[int, PersonScore]], None],
) -> None:
    ids = population(400)
    seen: list[tuple[str, float]] = []
    run = service.run_scoring(
        engine,
        ScoreParams(as_of=AS_OF),
        created_by="test",
        progress=lambda step, fraction: seen.append((step, fraction)),
    )
    assert run.status == "done" and run.finished_at is not None and run.error is None
    assert seen[-1] == ("done", 1.0)
    assert [f for _, f in seen] == sorted(f for _, f in seen)
    scores = stored_scores(run.id)
    assert set(scores) == set(ids)
    assert_finite(scores)

    models = run.models or {}
    assert models["chosen"] in ("bgnbd", "mbgnbd", "pareto_nbd")
    # P(alive) never comes from BG/NBD, which calls every one-time buyer alive
    assert models["p_alive_model"] in ("mbgnbd", "pareto_nbd")
    for name in ("bgnbd", "mbgnbd", "pareto_nbd"):
        assert set(models[name]["params"]) == (
            {"r", "alpha", "s", "beta"} if name == "pareto_nbd" else {"r", "alpha", "a", "b"}
        )
        assert models[name]["log_likelihood"] < 0
        assert models["holdout"][name]["mae"] >= 0
    assert models["holdout"]["actual_purchases"] > 0
    assert "holdout" in models["reason"]
    assert models["gamma_gamma"]["params"]["q"] > 1

    summary = run.summary or {}
    assert summary["buyers"] == 400 and summary["rows_stored"] == 400
    assert summary["non_finite_values"] == 0
    assert sum(t["persons"] for t in summary["tiers"].values()) == 400

    rows = list(scores.values())
    for s in rows:
        assert s.rfm_code is not None and len(s.rfm_code) == 3
        assert s.rfm_segment in SEGMENTS
        assert s.p_alive is not None and 0.0 <= s.p_alive <= 1.0
        assert s.expected_30 is not None and s.expected_90 is not None
        assert s.expected_365 is not None
        assert 0 <= s.expected_30 <= s.expected_90 <= s.expected_365
        assert s.clv is not None and s.clv >= 0 and s.expected_spend is not None
        assert s.tier in ("A", "B", "C")
        assert s.lifecycle_stage in ("new", "active", "at_risk", "lapsed", "won_back")
        assert s.purchase_days is not None and s.purchase_days >= 1
        assert s.first_purchase_on is not None and s.first_purchase_on <= AS_OF
    tiers = Counter(s.tier for s in rows)
    assert tiers["A"] == pytest.approx(80, abs=3) and tiers["B"] == pytest.approx(120, abs=4)
    clv_a = min(float(s.clv or 0) for s in rows if s.tier == "A")
    clv_b = max(float(s.clv or 0) for s in rows if s.tier == "B")
    assert clv_a >= clv_b


def test_rfm_codes_share_scores_on_ties(
    engine: Engine, shop: Callable[..., int], stored_scores: Callable[[int], dict[int, PersonScore]]
) -> None:
    def buyer(days_ago: int) -> int:
        last = AS_OF - timedelta(days=days_ago)
        return shop([(last, 50.0), (last - timedelta(days=60), 50.0)])

    a, b, c, d, e = buyer(10), buyer(10), buyer(20), buyer(30), buyer(40)
    run = service.run_scoring(engine, ScoreParams(as_of=AS_OF))
    codes = {p: s.rfm_code for p, s in stored_scores(run.id).items()}
    # R = 1 + floor(5 k / n), k = buyers with strictly more days since their last purchase;
    # everyone ties on F and M (two purchase days, 100 in the window): k = 0 → 1.
    assert codes == {a: "411", b: "411", c: "311", d: "211", e: "111"}


def test_history_is_kept_per_run(
    engine: Engine, factory: sessionmaker[Session], population: Callable[..., list[int]]
) -> None:
    ids = population(120, seed=12)
    first = service.run_scoring(
        engine, ScoreParams(as_of=AS_OF - timedelta(days=90), fit_timeout=60)
    )
    second = service.run_scoring(engine, ScoreParams(as_of=AS_OF, fit_timeout=60))
    with factory() as s:
        history = queries.person_history(s, ids[0])
        assert [run.id for _, run in history] == [second.id, first.id]
        runs, total = queries.list_runs(s)
        assert total == 2 and runs[0].id == second.id
        assert queries.latest_run(s).id == second.id  # type: ignore[union-attr]


def test_lifecycle_status_follows_the_stages(
    engine: Engine, factory: sessionmaker[Session], shop: Callable[..., int]
) -> None:
    recent = shop([(AS_OF - timedelta(days=5), 30.0)], lifecycle_status="prospect")
    lapsed = shop(
        [(AS_OF - timedelta(days=900), 30.0), (AS_OF - timedelta(days=800), 30.0)],
        lifecycle_status="customer",
    )
    back = shop(
        [(AS_OF - timedelta(days=900), 30.0), (AS_OF - timedelta(days=20), 30.0)],
        lifecycle_status="lapsed",
    )
    nothing = shop([], lifecycle_status="customer")
    run = service.run_scoring(engine, ScoreParams(as_of=AS_OF, update_lifecycle=True))
    with factory() as s:
        status = {p.id: (p.lifecycle_status, p.version) for p in s.scalars(select(Person))}
        stages = {
            sc.person_id: sc.lifecycle_stage
            for sc in s.scalars(select(PersonScore).where(PersonScore.run_id == run.id))
        }
    assert stages[recent] == "new" and status[recent] == ("customer", 2)
    assert stages[lapsed] == "lapsed" and status[lapsed] == ("lapsed", 2)
    assert stages[back] == "won_back" and status[back] == ("won_back", 2)
    assert status[nothing] == ("prospect", 2)
    assert (run.summary or {})["lifecycle_updated"] == 4


def test_a_second_run_is_refused_while_one_is_active(
    engine: Engine, factory: sessionmaker[Session], shop: Callable[..., int]
) -> None:
    shop([(AS_OF, 10.0)])
    with unit_of_work(factory) as s:
        run, job = service.enqueue_run(s, ScoreParams(as_of=AS_OF), created_by="web")
        run_id, job_id = run.id, job.id
    with pytest.raises(Conflict), unit_of_work(factory) as s:
        service.create_run(s, ScoreParams(as_of=AS_OF))
    assert run_pending(engine) == 2
    with factory() as s:
        assert s.get(ScoreRun, run_id).status == "done"  # type: ignore[union-attr]
        finished = s.get(Job, job_id)
        assert finished is not None and finished.status == "done" and finished.progress == 1.0
        assert finished.result is not None and finished.result["run_id"] == run_id
        follow_up = s.get(Job, finished.result["follow_up_job_id"])
        assert follow_up is not None and follow_up.kind == "reports.refresh_demand"
        assert follow_up.status == "done" and follow_up.payload == {"run_id": run_id}


def test_a_scheduled_job_creates_its_run_when_it_starts(
    engine: Engine, factory: sessionmaker[Session], shop: Callable[..., int]
) -> None:
    shop([(AS_OF - timedelta(days=3), 10.0)])
    with unit_of_work(factory) as s:
        add_schedule(
            s,
            "nightly-scoring",
            service.JOB_KIND,
            every="1d",
            at="02:00",
            payload={"params": {"as_of": "2026-11-22", "horizon_days": 180}},
        )
    fired = fire_due(engine, now=datetime.now(UTC) + timedelta(days=1, minutes=1))
    assert len(fired) == 1
    assert run_pending(engine) == 2
    with factory() as s:
        finished = s.get(Job, fired[0])
        assert finished is not None and finished.status == "done", finished.error
        run = s.get(ScoreRun, finished.result["run_id"])  # type: ignore[index]
        assert run is not None and run.status == "done" and run.created_by == f"job:{fired[0]}"
        assert run.params["horizon_days"] == 180


def test_a_job_with_bad_params_fails_at_once_with_the_reason(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        job_id = enqueue(s, service.JOB_KIND, {"params": {"tier_shares": [0.9, 0.9]}}).id
    assert run_pending(engine) == 1
    with factory() as s:
        failed = s.get(Job, job_id)
        assert failed is not None and failed.status == "failed" and failed.attempts == 1
        assert "parameters are invalid" in (failed.error or "")
        assert s.scalars(select(ScoreRun)).first() is None
