"""The guard on a trained model (issue 12 item 4): a degenerate training is reported and not
used; a prior the deterministic rules could not support is reported."""

from __future__ import annotations

from typing import Any

from closedloop.dedupe.engine.model import training_problems


def _comparison(name: str, mu: list[tuple[float, float]]) -> dict[str, Any]:
    levels: list[dict[str, Any]] = [{"sql_condition": "x", "is_null_level": True}]
    levels += [{"sql_condition": "y", "m_probability": m, "u_probability": u} for m, u in mu]
    return {"output_column_name": name, "comparison_levels": levels}


def _settings(prior: float, *comparisons: dict[str, Any]) -> dict[str, Any]:
    return {"probability_two_random_records_match": prior, "comparisons": list(comparisons)}


def test_a_model_that_tells_nothing_apart_is_degenerate() -> None:
    flat = _settings(
        1e-4,
        _comparison("given", [(0.3, 0.28), (0.7, 0.72)]),
        _comparison("dob", [(0.5, 0.5), (0.5, 0.5)]),
    )
    names, warnings = training_problems(flat, 10_000)
    assert names == ["given", "dob"]
    assert warnings == [
        "degenerate training: m ≈ u for every level of every comparison; "
        "the declared priors are used instead"
    ]


def test_one_flat_comparison_is_named_and_a_sound_model_passes() -> None:
    sound = _comparison("given", [(0.9, 0.01), (0.1, 0.99)])
    names, warnings = training_problems(
        _settings(1e-4, sound, _comparison("dob", [(0.5, 0.5), (0.5, 0.5)])), 10_000
    )
    assert names == ["dob"] and warnings == ["m ≈ u for every level of dob: they barely count"]
    assert training_problems(_settings(1e-4, sound), 10_000) == ([], [])


def test_a_prior_with_almost_no_duplicate_is_reported() -> None:
    sound = _comparison("given", [(0.9, 0.01), (0.1, 0.99)])
    # 1e-9 of 50 million pairs: 0.05 expected duplicate pairs among 10,000 records.
    _, warnings = training_problems(_settings(1e-9, sound), 10_000)
    assert len(warnings) == 1 and "implies 0.0 duplicate pairs among 10,000 records" in warnings[0]
