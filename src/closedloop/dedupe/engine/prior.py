"""The prior of the dedupe model: how likely two records picked at random are one person.

The deterministic rules (every name and the birth date exactly equal, a shared email with the
same given name, …) give a first estimate, but only of the duplicates that have no error in
the rules' columns: on a base whose every duplicate carries a typo in a name or the date, the
rules find almost nothing, and a prior a hundred times too small pushes true pairs under the
threshold. So the prior is then estimated from the blocked pairs themselves, with the trained
m and u held fixed: expectation maximisation of the one remaining parameter,

    λ ← Σ P(match | pair, λ) / (n (n − 1) / 2)

summed over the blocked pairs (a pair no blocking key puts up is taken as a non-match). It
is the maximum-likelihood prior under the model, whatever the rules could or could not see.
The estimate is kept within sane bounds: never below what the rules found (taken as certain,
no recall correction), never above :data:`MAX_DUPLICATES_PER_RECORD` duplicate pairs per
record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: The most duplicate pairs per record the estimate may imply (clusters of about eleven).
MAX_DUPLICATES_PER_RECORD = 5.0
#: Pairs whose comparisons weigh less than this many bits (Bayes factor < 1) are not read:
#: their probability is a fraction of the prior, their sum negligible.
MIN_BITS = 0.0


@dataclass(frozen=True)
class PriorEstimate:
    """The estimated prior, how it was bounded, and what it implies."""

    prior: float
    from_rules: float | None
    iterations: int
    bounded: str = ""  # "floor" or "ceiling" when a bound decided

    def expected_pairs(self, n_records: int) -> float:
        """Duplicate pairs the prior implies among ``n_records`` records."""
        return self.prior * n_records * (n_records - 1) / 2


def logit_bits(probability: float) -> float:
    """The weight in bits of a probability (log2 of its odds)."""
    probability = min(max(probability, 1e-300), 1 - 1e-16)
    return math.log2(probability / (1 - probability))


def prior_ceiling(n_records: int) -> float:
    """The largest prior the estimate may reach (:data:`MAX_DUPLICATES_PER_RECORD`)."""
    total = max(n_records * (n_records - 1) / 2, 1.0)
    return min(0.5, MAX_DUPLICATES_PER_RECORD * n_records / total)


def estimate_prior(
    bits: np.ndarray,
    n_records: int,
    start: float,
    *,
    from_rules: float | None = None,
    tolerance: float = 1e-4,
    max_iterations: int = 200,
) -> PriorEstimate:
    """The fixed point of λ = Σ P(match | bits, λ) / N over the blocked pairs' Bayes factors.

    ``bits``: per blocked pair, the sum of its comparisons' weights (log2 Bayes factor, term
    frequencies included). ``start``: the first λ (the rules' estimate). ``from_rules``: that
    estimate, whose recall-free share (× 0.8, Splink's recall undone) is the floor.
    """
    total = max(n_records * (n_records - 1) / 2, 1.0)
    ceiling = prior_ceiling(n_records)
    floor = min(ceiling, (from_rules or 0.0) * RULES_RECALL) or 1.0 / total
    factors = np.exp2(np.clip(np.asarray(bits, dtype=float), -1000, 1000))
    lam = min(max(start, floor), ceiling)
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        odds = lam / (1 - lam) * factors
        new = float(np.sum(odds / (1 + odds))) / total
        new = min(max(new, floor), ceiling)
        done = abs(new - lam) <= tolerance * lam
        lam = new
        if done:
            break
    bounded = "floor" if lam <= floor else "ceiling" if lam >= ceiling else ""
    return PriorEstimate(prior=lam, from_rules=from_rules, iterations=iterations, bounded=bounded)


#: The recall Splink's rule-based estimate is told (``train`` passes it): the floor undoes it.
RULES_RECALL = 0.8


def predict_with_prior(
    linker: Any, n_records: int, threshold: float, from_rules: float | None
) -> tuple[pd.DataFrame, PriorEstimate]:
    """Score the blocked pairs, estimate the prior from them, and return the pairs at or
    above ``threshold`` under that prior (Splink's prediction columns, match weight and
    probability recomputed) with the estimate. The linker's prior is set to it."""
    obj = linker._settings_obj
    old = float(obj._probability_two_random_records_match)
    if not 0 < old < 1:  # the rules found no pair at all: start from one pair
        old = 1.0 / max(n_records * (n_records - 1) / 2, 1.0)
        obj._probability_two_random_records_match = old
    old_bits = logit_bits(old)
    # Read every pair the threshold could keep once the prior has moved up to its ceiling.
    lowest = logit_bits(threshold) - logit_bits(prior_ceiling(n_records)) + old_bits
    predictions = linker.inference.predict(
        threshold_match_weight=min(old_bits + MIN_BITS, lowest), warning_mode="never"
    )
    table = predictions.physical_name  # Splink's own table name, not user input
    weights = linker.misc.query_sql(f"select match_weight from {table}", output_type="pandas")  # noqa: S608
    bits = weights["match_weight"].to_numpy(dtype=float) - old_bits
    bits = bits[bits >= MIN_BITS]
    estimate = estimate_prior(bits, n_records, old, from_rules=from_rules)
    obj._probability_two_random_records_match = estimate.prior
    shift = logit_bits(estimate.prior) - old_bits
    cut = logit_bits(threshold) - shift
    raw = linker.misc.query_sql(
        f"select * from {table} where match_weight >= {cut!r}",  # noqa: S608
        output_type="pandas",
    )
    raw["match_weight"] = raw["match_weight"].astype(float) + shift
    raw["match_probability"] = 1.0 / (1.0 + np.exp2(-raw["match_weight"].to_numpy(dtype=float)))
    predictions.drop_table_from_database_and_remove_from_cache()
    return raw, estimate
