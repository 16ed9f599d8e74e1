"""The online check scores with the batch model itself (issue 12 item 5): the same pairs
scored by Splink (batch) and by the online model built from the stored document get the
same levels and the same weights."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from closedloop.dedupe.engine import evaluate as ev
from closedloop.dedupe.engine.batch import BatchResult, level_label, run_batch
from closedloop.dedupe.level_sql import UnsupportedSql, compile_condition
from closedloop.dedupe.online_model import OnlineModel

pytestmark = pytest.mark.slow


def _online(result: BatchResult) -> OnlineModel:
    return OnlineModel.from_document(result.model.to_json(result.prepared))


def _compare_both_ways(result: BatchResult) -> int:
    online = _online(result)
    assert result.prepared is not None
    records = {r["unique_id"]: r for r in result.prepared.to_dict("records")}
    comparisons = result.model.settings["comparisons"]
    for row in result.pairs.itertuples(index=False):
        left, right = records[row.unique_id_l], records[row.unique_id_r]
        steps = online.explain(left, right)
        assert math.isclose(steps[0].weight, result.prior_weight, abs_tol=1e-9)
        for comparison, step in zip(comparisons, steps[1:], strict=True):
            name = comparison["output_column_name"]
            gamma = int(getattr(row, f"gamma_{name}"))
            assert step.level == level_label(comparison, gamma), (name, left, right)
            assert math.isclose(step.weight, getattr(row, f"mw_{name}"), abs_tol=1e-9), name
        assert math.isclose(online.weight(left, right), row.match_weight, abs_tol=1e-9)
    return len(result.pairs)


def test_febrl3_pairs_score_the_same_online_and_in_batch() -> None:
    df, _ = ev.load_febrl("dataset3")
    # The lowest threshold keeps every compared pair, "different" levels included.
    result = run_batch(df, threshold=1e-12)
    assert _compare_both_ways(result) > 7000


def test_synthetic_pairs_with_contacts_score_the_same() -> None:
    df, _ = ev.synthetic_persons(4000, seed=3)
    result = run_batch(df, threshold=1e-12)
    names = {c["output_column_name"] for c in result.model.settings["comparisons"]}
    assert {"email", "phone", "street", "place"} <= names
    assert _compare_both_ways(result) > 1000


def test_a_changed_model_changes_the_online_score() -> None:
    # Nothing is kept by hand: a level's condition edited in the stored document is the
    # condition the online model applies.
    df = pd.DataFrame(
        {"record_id": ["a", "b"], "given_name": ["Anna", "Ana"], "family_name": ["Pop", "Pop"]}
    )
    result = run_batch(df)
    doc = result.model.to_json()
    given = next(
        c for c in doc["splink_settings"]["comparisons"] if c["output_column_name"] == "given"
    )
    levels = [lv for lv in given["comparison_levels"] if not lv.get("is_null_level")]
    left, right = {"given": "anna"}, {"given": "ana"}
    assert (
        OnlineModel.from_document(doc).explain(left, right)[1].level
        != levels[0]["label_for_charts"]
    )
    levels[0]["sql_condition"] = 'substr("given_l", 1, 2) = substr("given_r", 1, 2)'
    assert (
        OnlineModel.from_document(doc).explain(left, right)[1].level
        == levels[0]["label_for_charts"]
    )


@pytest.mark.parametrize(
    ("sql", "left", "right", "holds"),
    [
        ('"x_l" = "x_r"', {"x": "a"}, {"x": "a"}, True),
        ('"x_l" = "x_r"', {"x": None}, {"x": None}, False),  # NULL = NULL is unknown
        ('NOT ("x_l" = "x_r")', {"x": None}, {"x": "a"}, False),  # NOT unknown is unknown
        ('"x_l" IS NULL OR "x_r" IS NULL', {"x": None}, {"x": "a"}, True),
        ('"x_l" = "x_r" OR "y_l" = "y_r"', {"x": None, "y": "b"}, {"x": "a", "y": "b"}, True),
        ('jaro_winkler_similarity("x_l", "y_r") >= 0.92', {"x": "martha"}, {"y": "marhta"}, True),
        (
            'CASE WHEN jaro_similarity("x_l", "x_r") >= 0.75 '
            'THEN damerau_levenshtein("x_l", "x_r") ELSE 99 END <= 1',
            {"x": "19800312"},
            {"x": "19800321"},
            True,
        ),
        ('hamming("x_l", "x_r") <= 2', {"x": "abc"}, {"x": "abcd"}, False),
        (
            'length("x_l") >= 3 AND contains("x_l", "x_r")',
            {"x": "smithjones"},
            {"x": "jones"},
            True,
        ),
        ('substr("x_l", 5, 2) = substr("x_r", 7, 2)', {"x": "19801203"}, {"x": "19800312"}, True),
        ("ELSE", {}, {}, True),
    ],
)
def test_sql_conditions_follow_sql_logic(
    sql: str, left: dict[str, str | None], right: dict[str, str | None], holds: bool
) -> None:
    assert compile_condition(sql)(left, right) is holds


def test_a_condition_the_online_check_cannot_evaluate_is_named() -> None:
    with pytest.raises(UnsupportedSql, match="REGEXP_MATCHES"):
        compile_condition('regexp_matches("x_l", "x_r")')
    with pytest.raises(UnsupportedSql, match=r"function frobnicate\(\)"):
        compile_condition('frobnicate("x_l", "x_r") > 1')
    with pytest.raises(UnsupportedSql, match="SOUNDEX"):
        compile_condition('soundex("x_l") = soundex("x_r")')
    with pytest.raises(UnsupportedSql, match="neither a left"):
        compile_condition('"x" = "x_r"')
