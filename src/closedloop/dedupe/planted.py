"""Precision and recall of the stored pairs against known duplicates (``duplicate_truth``:
planted by the demo generator, or labelled by users)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.dedupe.merge import pair_key
from closedloop.dedupe.models import DuplicateCandidate, DuplicateTruth


@dataclass(frozen=True)
class PlantedMetrics:
    """Pairwise counts against the known duplicate pairs."""

    true_pairs: int
    predicted: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def planted_metrics(session: Session, threshold: float) -> PlantedMetrics:
    """Pairs stored at or above ``threshold`` (whatever their status, but "not a duplicate")
    against the known duplicate pairs."""
    truth = {
        pair_key(int(a), int(b))
        for a, b in session.execute(
            select(DuplicateTruth.person_id, DuplicateTruth.original_id)
        ).all()
    }
    predicted = {
        pair_key(int(a), int(b))
        for a, b in session.execute(
            select(DuplicateCandidate.person_l_id, DuplicateCandidate.person_r_id).where(
                DuplicateCandidate.match_probability >= threshold,
                DuplicateCandidate.status != "not_duplicate",
            )
        ).all()
    }
    return PlantedMetrics(len(truth), len(predicted), len(truth & predicted))
