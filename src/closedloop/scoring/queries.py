"""Reads of score runs and person scores (statements only; nothing commits)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.errors import NotFound
from closedloop.scoring.models import PersonScore, ScoreRun


def list_runs(session: Session, *, limit: int = 50, offset: int = 0) -> tuple[list[ScoreRun], int]:
    """Runs, newest first, and how many there are."""
    total = session.scalar(select(func.count()).select_from(ScoreRun)) or 0
    runs = session.scalars(
        select(ScoreRun).order_by(ScoreRun.id.desc()).limit(limit).offset(offset)
    )
    return list(runs), int(total)


def get_run(session: Session, run_id: int) -> ScoreRun:
    """One run; NotFound when it does not exist."""
    run = session.get(ScoreRun, run_id)
    if run is None:
        raise NotFound(f"Scoring run {run_id} does not exist.")
    return run


def latest_run(session: Session) -> ScoreRun | None:
    """The finished run with the latest as-of day (the newest of them), or None."""
    return session.scalars(
        select(ScoreRun)
        .where(ScoreRun.status == "done")
        .order_by(ScoreRun.as_of.desc(), ScoreRun.id.desc())
        .limit(1)
    ).first()


def person_history(
    session: Session, person_id: int, *, limit: int = 100
) -> list[tuple[PersonScore, ScoreRun]]:
    """A person's scores in finished runs, latest as-of day first (the value cycle)."""
    rows = session.execute(
        select(PersonScore, ScoreRun)
        .join(ScoreRun, PersonScore.run_id == ScoreRun.id)
        .where(PersonScore.person_id == person_id, ScoreRun.status == "done")
        .order_by(ScoreRun.as_of.desc(), ScoreRun.id.desc())
        .limit(limit)
    ).all()
    return [(score, run) for score, run in rows]


__all__ = ["get_run", "latest_run", "list_runs", "person_history"]
