"""The customer value report of a scoring run (M8, M18): the RFM grid, segments ranked by the
change of their value, tiers with their share of revenue and CLV, lifecycle stages, the CLV
distribution and P(alive) against recency, and a person's value history (the value cycle).

Segment, tier and stage figures come from the run's summary (computed once by the run); the
grid and the distributions are aggregated from ``person_scores`` (the distributions from a
deterministic one-in-N sample of persons when a run is large).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.scoring import queries
from closedloop.scoring.lifecycle import STAGES
from closedloop.scoring.models import PersonScore, ScoreRun
from closedloop.scoring.rfm import SEGMENT_GRID, SEGMENTS

#: At most this many persons are read for a distribution chart.
SAMPLE_SIZE = 20_000
#: Recency buckets of the P(alive) curve, in days.
RECENCY_BUCKET = 30


@dataclass
class GroupRow:
    """A segment, tier or stage: size and value."""

    name: str
    persons: int
    revenue: float
    revenue_last_year: float
    expected_next_year: float | None
    clv: float | None
    p_alive: float | None
    share_persons: float = 0.0
    share_revenue: float = 0.0
    share_clv: float | None = None

    @property
    def change(self) -> float | None:
        """Expected revenue of the next year minus the revenue of the last one."""
        if self.expected_next_year is None:
            return None
        return self.expected_next_year - self.revenue_last_year

    @property
    def change_pct(self) -> float | None:
        """:attr:`change` relative to the last year's revenue (None when that was 0)."""
        change = self.change
        if change is None or self.revenue_last_year <= 0:
            return None
        return 100.0 * change / self.revenue_last_year


@dataclass
class ValueReport:
    """Everything the value page and ``closedloop reports value`` show."""

    run: ScoreRun | None
    grid: list[list[int]] = field(default_factory=list)
    grid_segments: list[list[str]] = field(default_factory=list)
    segments: list[GroupRow] = field(default_factory=list)
    tiers: list[GroupRow] = field(default_factory=list)
    stages: list[GroupRow] = field(default_factory=list)
    clv_edges: list[float] = field(default_factory=list)
    clv_counts: list[int] = field(default_factory=list)
    sample_step: int = 1
    alive_points: list[tuple[int, float]] = field(default_factory=list)
    alive_curve: list[tuple[int, float, int]] = field(default_factory=list)

    @property
    def segments_by_change(self) -> list[GroupRow]:
        """Segments ranked from the most growing value to the most shrinking."""
        known = [s for s in self.segments if s.change is not None]
        return sorted(known, key=lambda s: -(s.change or 0.0))

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""

        def rows(items: list[GroupRow]) -> list[dict[str, Any]]:
            return [
                {**row.__dict__, "change": row.change, "change_pct": row.change_pct}
                for row in items
            ]

        run = self.run
        return {
            "run": None
            if run is None
            else {
                "id": run.id,
                "as_of": run.as_of.isoformat(),
                "models": run.models,
                "unscored": (run.summary or {}).get("unscored", []),
            },
            "rfm_grid": {
                "rows_r": [5, 4, 3, 2, 1],
                "columns_fm": [1, 2, 3, 4, 5],
                "persons": self.grid,
                "segments": self.grid_segments,
            },
            "segments": rows(self.segments),
            "segments_by_change": [s.name for s in self.segments_by_change],
            "tiers": rows(self.tiers),
            "stages": rows(self.stages),
            "clv_histogram": {
                "edges": self.clv_edges,
                "persons": self.clv_counts,
                "sample_step": self.sample_step,
            },
            "p_alive_by_recency": [
                {"recency_days": r, "p_alive": p, "persons": n} for r, p, n in self.alive_curve
            ],
        }


def _group_rows(docs: dict[str, Any], order: tuple[str, ...]) -> list[GroupRow]:
    rows = [
        GroupRow(
            name=name,
            persons=int(doc.get("persons") or 0),
            revenue=float(doc.get("revenue") or 0.0),
            revenue_last_year=float(doc.get("revenue_last_year") or 0.0),
            expected_next_year=doc.get("expected_next_year"),
            clv=doc.get("clv"),
            p_alive=doc.get("p_alive"),
        )
        for name, doc in docs.items()
    ]
    persons = sum(r.persons for r in rows) or 1
    revenue = sum(r.revenue for r in rows)
    clv_known = all(r.clv is not None for r in rows)
    clv = sum(r.clv or 0.0 for r in rows)
    for row in rows:
        row.share_persons = row.persons / persons
        row.share_revenue = row.revenue / revenue if revenue > 0 else 0.0
        row.share_clv = (row.clv or 0.0) / clv if clv_known and clv > 0 else None
    rank = {name: i for i, name in enumerate(order)}
    return sorted(rows, key=lambda r: (rank.get(r.name, len(order)), r.name))


def _grid(session: Session, run_id: int) -> list[list[int]]:
    counts = session.execute(
        select(PersonScore.rfm_code, func.count())
        .where(PersonScore.run_id == run_id, PersonScore.rfm_code.is_not(None))
        .group_by(PersonScore.rfm_code)
    ).all()
    grid = [[0] * 5 for _ in range(5)]
    for code, count in counts:
        r, f, m = (int(ch) for ch in str(code))
        grid[5 - r][(f + m + 1) // 2 - 1] += int(count)
    return grid


def _sample_step(session: Session, run_id: int) -> int:
    buyers = session.scalar(
        select(func.count()).where(PersonScore.run_id == run_id, PersonScore.clv.is_not(None))
    )
    return max(1, int(buyers or 0) // SAMPLE_SIZE)


def _clv_histogram(session: Session, run_id: int, step: int) -> tuple[list[float], list[int]]:
    values = np.array(
        [
            float(v or 0)
            for v in session.scalars(
                select(PersonScore.clv).where(
                    PersonScore.run_id == run_id,
                    PersonScore.clv.is_not(None),
                    PersonScore.person_id.op("%")(step) == 0,
                )
            )
        ],
        dtype=np.float64,
    )
    if values.size == 0:
        return [], []
    top = float(np.quantile(values, 0.99))
    low = min(0.0, float(values.min()))
    if top <= low:
        top = low + 1.0
    edges = np.linspace(low, top, 31)
    counts, _ = np.histogram(np.clip(values, low, top), bins=edges)
    return [round(float(e), 2) for e in edges], [int(c) * step for c in counts]


def _alive(
    session: Session, run_id: int, step: int
) -> tuple[list[tuple[int, float]], list[tuple[int, float, int]]]:
    points = [
        (int(r or 0), round(float(p or 0.0), 4))
        for r, p in session.execute(
            select(PersonScore.recency_days, PersonScore.p_alive)
            .where(
                PersonScore.run_id == run_id,
                PersonScore.p_alive.is_not(None),
                PersonScore.person_id.op("%")(step * 5) == 0,
            )
            .limit(SAMPLE_SIZE // 5)
        )
    ]
    bucket = (PersonScore.recency_days // RECENCY_BUCKET).label("bucket")
    curve = [
        (int(b) * RECENCY_BUCKET, round(float(mean), 4), int(n))
        for b, mean, n in session.execute(
            select(bucket, func.avg(PersonScore.p_alive), func.count())
            .where(PersonScore.run_id == run_id, PersonScore.p_alive.is_not(None))
            .group_by(bucket)
            .order_by(bucket)
        )
    ]
    return points, curve


def value_report(session: Session, run_id: int | None = None) -> ValueReport:
    """The value report of run ``run_id`` (default: the latest finished run)."""
    run = queries.get_run(session, run_id) if run_id is not None else queries.latest_run(session)
    if run is None or run.status != "done":
        return ValueReport(run=run)
    summary = run.summary or {}
    step = _sample_step(session, run.id)
    points, curve = _alive(session, run.id, step)
    edges, counts = _clv_histogram(session, run.id, step)
    return ValueReport(
        run=run,
        grid=_grid(session, run.id),
        grid_segments=[list(SEGMENT_GRID[r]) for r in (5, 4, 3, 2, 1)],
        segments=_group_rows(summary.get("segments") or {}, SEGMENTS),
        tiers=_group_rows(summary.get("tiers") or {}, ("A", "B", "C", "D", "E", "F")),
        stages=_group_rows(summary.get("stages") or {}, STAGES),
        clv_edges=edges,
        clv_counts=counts,
        sample_step=step,
        alive_points=points,
        alive_curve=curve,
    )


@dataclass
class ValuePoint:
    """A person's figures in one run, for the value history chart."""

    as_of: str
    clv: float | None
    p_alive: float | None
    expected_365: float | None
    revenue: float | None
    tier: str | None
    stage: str | None
    segment: str | None


def value_history(session: Session, person_id: int, *, limit: int = 60) -> list[ValuePoint]:
    """A person's value over the finished runs, oldest first (the customer value cycle)."""
    rows = queries.person_history(session, person_id, limit=limit)
    return [
        ValuePoint(
            as_of=run.as_of.date().isoformat(),
            clv=float(score.clv) if score.clv is not None else None,
            p_alive=score.p_alive,
            expected_365=score.expected_365,
            revenue=float(score.revenue) if score.revenue is not None else None,
            tier=score.tier,
            stage=score.lifecycle_stage,
            segment=score.rfm_segment,
        )
        for score, run in reversed(rows)
    ]


__all__ = ["GroupRow", "ValuePoint", "ValueReport", "value_history", "value_report"]
