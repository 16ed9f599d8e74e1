"""Write a run's scores in bulk, and set persons' lifecycle status from a run's stages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from closedloop.contacts.models import Person
from closedloop.db.base import utcnow
from closedloop.scoring.backend import bulk_insert
from closedloop.scoring.compute import Computation
from closedloop.scoring.lifecycle import STATUS_OF_STAGE
from closedloop.scoring.models import PersonScore
from closedloop.vocab import LifecycleStatus

#: Columns written per person, in order after ``run_id`` and ``person_id``.
INT_COLUMNS = ("recency_days", "frequency", "purchase_days")
MONEY_COLUMNS = ("monetary", "expected_spend", "clv", "revenue")
FLOAT_COLUMNS = ("p_alive", "expected_30", "expected_90", "expected_365")
TEXT_COLUMNS = ("rfm_code", "rfm_segment", "tier", "lifecycle_stage", "first_purchase_on")
COLUMNS = ("run_id", "person_id", *INT_COLUMNS, *MONEY_COLUMNS, *FLOAT_COLUMNS, *TEXT_COLUMNS)
#: Money is NUMERIC(14, 2): larger values are clipped rather than failing the run.
MONEY_LIMIT = 999_999_999_999.99


def _plain(values: npt.NDArray[Any], kind: str) -> list[Any]:
    """Plain Python values with None for NaN/inf (nothing non-finite is ever written)."""
    if kind == "text":
        return [None if v is None else str(v) for v in values.tolist()]
    floats = values.astype(np.float64)
    finite = np.isfinite(floats)
    if kind == "int":
        out = np.where(finite, floats, 0).astype(np.int64).astype(object)
    elif kind == "money":
        out = np.round(np.clip(np.where(finite, floats, 0.0), -MONEY_LIMIT, MONEY_LIMIT), 2)
        out = out.astype(object)
    else:
        out = np.where(finite, floats, 0.0).astype(object)
    out[~finite] = None
    result: list[Any] = out.tolist()
    return result


def score_rows(run_id: int, computation: Computation) -> Iterator[Sequence[Any]]:
    """The rows of ``person_scores`` in :data:`COLUMNS` order."""
    cols = computation.columns
    lists: list[list[Any]] = [
        [run_id] * computation.person_id.size,
        computation.person_id.tolist(),
    ]
    lists += [_plain(cols[name], "int") for name in INT_COLUMNS]
    lists += [_plain(cols[name], "money") for name in MONEY_COLUMNS]
    lists += [_plain(cols[name], "float") for name in FLOAT_COLUMNS]
    lists += [_plain(cols[name], "text") for name in TEXT_COLUMNS]
    yield from zip(*lists, strict=True)


def store_scores(session: Session, run_id: int, computation: Computation) -> int:
    """Bulk-insert every person's scores of the run; returns the number of rows."""
    return bulk_insert(session, "person_scores", COLUMNS, score_rows(run_id, computation))


def update_lifecycle(session: Session, run_id: int) -> int:
    """Set every golden record's lifecycle status from the run (set-based statements).

    Buyers get the status of their stage (new, active and at risk are customers; lapsed;
    won back); persons without a purchase in the run become prospects. Only changed records
    are written, and each gets a new version (optimistic locking) and ``updated_at``.
    """
    persons = Person.__table__
    assert isinstance(persons, Table)
    now = utcnow()
    by_status: dict[LifecycleStatus, list[str]] = {}
    for stage, status in STATUS_OF_STAGE.items():
        by_status.setdefault(status, []).append(stage)
    scored = select(PersonScore.person_id).where(PersonScore.run_id == run_id)
    targets = [
        (status, persons.c.id.in_(scored.where(PersonScore.lifecycle_stage.in_(stages))))
        for status, stages in by_status.items()
    ]
    targets.append(
        (
            LifecycleStatus.PROSPECT,
            persons.c.id.not_in(scored.where(PersonScore.purchase_days > 0)),
        )
    )
    changed = 0
    for status, condition in targets:
        result = session.execute(
            update(persons)
            .where(
                persons.c.merged_into_id.is_(None),
                persons.c.lifecycle_status != status.value,
                condition,
            )
            .values(
                lifecycle_status=status.value,
                version=persons.c.version + 1,
                updated_at=now,
            )
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


__all__ = ["COLUMNS", "score_rows", "store_scores", "update_lifecycle"]
