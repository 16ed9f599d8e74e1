"""Propensity to buy a category (M10): a gradient-boosting model trained on a past window and
evaluated out of time, then used to rank every person now.

With ``T`` the date of the last order and ``h`` the horizon: the model learns from features
as of ``T - 2h`` and purchases in ``[T - 2h, T - h)``; it is evaluated on features as of
``T - h`` against purchases in ``[T - h, T]`` (a period it never saw: AUC, lift by decile,
calibration); the final scores use features as of ``T`` (what a campaign would target).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from closedloop.errors import ValidationFailed
from closedloop.segments.service import freeze_members
from closedloop.targeting import said
from closedloop.targeting.features import (
    FEATURES,
    category_ids,
    features_at,
    in_category,
    labels,
    load_lines,
    person_ids,
)
from closedloop.targeting.threads import one_thread

MIN_POSITIVES = 5


@dataclass
class PropensityResult:
    """A trained model's evaluation and the ranked persons (highest propensity first)."""

    category: str
    horizon_days: int
    train_window: tuple[str, str]
    test_window: tuple[str, str]
    persons: int
    train_positives: int
    test_positives: int
    auc: float
    base_rate: float
    deciles: list[dict[str, Any]]
    calibration: list[dict[str, Any]]
    ranking: list[tuple[int, float]] = field(repr=False, default_factory=list)

    def as_dict(self, top: int = 20) -> dict[str, Any]:
        """A JSON-ready summary with the ``top`` best-ranked persons."""
        return {
            "category": self.category,
            "horizon_days": self.horizon_days,
            "train_window": list(self.train_window),
            "test_window": list(self.test_window),
            "persons": self.persons,
            "train_positives": self.train_positives,
            "test_positives": self.test_positives,
            "auc": round(self.auc, 4),
            "base_rate": round(self.base_rate, 4),
            "lift_by_decile": self.deciles,
            "calibration": self.calibration,
            "features": list(FEATURES),
            "top": [{"person_id": p, "score": round(s, 4)} for p, s in self.ranking[:top]],
        }


def _deciles(y: Any, score: Any) -> list[dict[str, Any]]:
    import numpy as np

    order = np.argsort(-score, kind="stable")
    base = float(y.mean()) or 1.0
    out = []
    for i, idx in enumerate(np.array_split(order, 10), start=1):
        rate = float(y[idx].mean()) if len(idx) else 0.0
        out.append(
            {
                "decile": i,
                "persons": len(idx),
                "rate": round(rate, 4),
                "lift": round(rate / base, 3),
            }
        )
    return out


def _calibration(y: Any, score: Any) -> list[dict[str, Any]]:
    import numpy as np

    order = np.argsort(score, kind="stable")
    out = []
    for i, idx in enumerate(np.array_split(order, 10), start=1):
        if len(idx):
            out.append(
                {
                    "bin": i,
                    "predicted": round(float(score[idx].mean()), 4),
                    "observed": round(float(y[idx].mean()), 4),
                }
            )
    return out


def _quiet(_fraction: float, _message: str) -> None:
    return None


def propensity(
    session: Session,
    category: str,
    *,
    horizon_days: int = 180,
    progress: Callable[[float, str], None] = _quiet,
) -> PropensityResult:
    """Train and evaluate a propensity model for ``category``; rank every person now.

    Refused (ValidationFailed) for an unknown category, a horizon outside 7..730 days, or too
    few buyers of the category in the training or test window to learn anything.
    """
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    if not 7 <= horizon_days <= 730:
        raise ValidationFailed(
            f"The horizon must be between 7 and 730 days, not {horizon_days}.",
            errors=[{"field": "horizon_days", "message": "between 7 and 730"}],
        )
    cats = category_ids(session, category)
    progress(0.05, said.READING)
    lines = load_lines(session)
    persons = person_ids(session)
    if lines.empty or not persons:
        raise ValidationFailed(
            "There are no orders to learn from.",
            errors=[{"field": "orders", "message": "no completed orders"}],
        )
    mask = in_category(lines, cats)
    end = lines["ordered_at"].max() + timedelta(seconds=1)
    h = timedelta(days=horizon_days)
    t_test, t_train = end - h, end - 2 * h
    x_train = features_at(lines, persons, mask, t_train)
    y_train = labels(lines, persons, mask, t_train, t_test).to_numpy()
    x_test = features_at(lines, persons, mask, t_test)
    y_test = labels(lines, persons, mask, t_test, end).to_numpy()
    for name, y in (("training", y_train), ("test", y_test)):
        if y.sum() < MIN_POSITIVES or y.sum() == len(y):
            raise ValidationFailed(
                f"Too few buyers of '{category}' in the {name} window ({int(y.sum())} of "
                f"{len(y)}) to learn a propensity; try a longer horizon.",
                errors=[{"field": "category", "message": f"{int(y.sum())} buyers in {name}"}],
            )
    progress(0.5, said.TRAINING)
    with one_thread():
        model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, random_state=0)
        model.fit(x_train.to_numpy(), y_train)
        p_test = model.predict_proba(x_test.to_numpy())[:, 1]
    auc = float(roc_auc_score(y_test, p_test))
    progress(0.75, said.SCORING)
    # The final model learns from the most recent window, then scores features as of now.
    now = features_at(lines, persons, mask, end)
    with one_thread():
        final = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, random_state=0)
        final.fit(x_test.to_numpy(), y_test)
        scores = final.predict_proba(now.to_numpy())[:, 1]
    order = np.argsort(-scores, kind="stable")
    ids = now.index.to_numpy()
    return PropensityResult(
        category=category,
        horizon_days=horizon_days,
        train_window=(t_train.isoformat(), t_test.isoformat()),
        test_window=(t_test.isoformat(), end.isoformat()),
        persons=len(persons),
        train_positives=int(y_train.sum()),
        test_positives=int(y_test.sum()),
        auc=auc,
        base_rate=float(y_test.mean()),
        deciles=_deciles(y_test, p_test),
        calibration=_calibration(y_test, p_test),
        ranking=[(int(ids[i]), float(scores[i])) for i in order],
    )


def propensity_segment(
    session: Session,
    result: PropensityResult,
    name: str,
    *,
    top: int | None = None,
    threshold: float | None = None,
    created_by: str | None = None,
) -> dict[str, Any]:
    """Freeze the ``top`` best-ranked persons (or those scoring ≥ ``threshold``) as a snapshot
    segment ``name``; returns its id, name and member count."""
    if (top is None) == (threshold is None):
        raise ValidationFailed(
            "Give either a number of persons (top) or a score threshold for the segment.",
            errors=[{"field": "top", "message": "top or threshold, one of them"}],
        )
    if top is not None:
        chosen = [p for p, _ in result.ranking[: max(top, 0)]]
    else:
        chosen = [p for p, s in result.ranking if s >= float(threshold or 0.0)]
    origin = {
        "source": "propensity",
        "category": result.category,
        "horizon_days": result.horizon_days,
        "auc": round(result.auc, 4),
        "top": top,
        "threshold": threshold,
    }
    segment = freeze_members(
        session,
        name,
        chosen,
        origin,
        created_by=created_by,
        description=f"Propensity to buy {result.category}",
    )
    session.flush()
    return {"id": segment.id, "name": segment.name, "members": segment.frozen_count}
