"""The prior estimated from the blocked pairs (issue 12): the share of duplicates among all
pairs is recovered whatever the deterministic rules could see, within its bounds."""

from __future__ import annotations

import numpy as np

from closedloop.dedupe.engine.prior import estimate_prior, prior_ceiling

N = 10_000
PAIRS = N * (N - 1) / 2


def _blocked(duplicates: int, namesakes: int) -> np.ndarray:
    """Bits of blocked pairs: duplicates weigh 20 to 30 bits, blocked strangers -5 to 5."""
    rng = np.random.default_rng(7)
    return np.concatenate([rng.uniform(20, 30, duplicates), rng.uniform(-5, 5, namesakes)])


def test_the_share_of_duplicates_is_recovered_from_a_prior_far_too_small() -> None:
    # The rules saw 10 pairs; the base holds 1,000 duplicate pairs among 20,000 blocked.
    rules = 10 / PAIRS / 0.8
    estimate = estimate_prior(_blocked(1000, 19_000), N, rules, from_rules=rules)
    assert 990 <= estimate.expected_pairs(N) <= 1010
    assert estimate.bounded == ""
    assert estimate.iterations > 1


def test_the_rules_are_a_floor_and_the_ceiling_holds() -> None:
    # A model that finds nothing cannot go below what the rules found for certain.
    nothing = estimate_prior(_blocked(0, 5000), N, 1e-6, from_rules=400 / PAIRS / 0.8)
    assert nothing.bounded == "floor" and round(nothing.expected_pairs(N)) == 400
    # A model that calls everything a duplicate is capped at five duplicate pairs a record.
    everything = estimate_prior(np.full(200_000, 40.0), N, 1e-6)
    assert everything.bounded == "ceiling"
    assert everything.prior == prior_ceiling(N)
    assert round(everything.expected_pairs(N)) == 5 * N
