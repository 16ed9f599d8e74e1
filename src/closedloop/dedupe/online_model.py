"""Score one pair of prepared records with a stored model, in pure Python.

The model is the batch model itself: each comparison level's predicate is compiled from the
SQL condition Splink runs (:mod:`.level_sql`), in the stored order, with the stored m and u;
nothing is matched by label. A pair's weight is the prior plus, per comparison, ``log2(m/u)``
of the first level whose condition holds (the null level first, worth nothing) and the
term-frequency adjustment Splink makes (``log2(u_exact) - log2(tf)``), with the frequencies
kept in the model document.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from closedloop.dedupe.level_sql import Predicate, compile_condition, exact_match_column

Rec = dict[str, Any]


@dataclass
class Step:
    """One comparison of a scored pair: its level and its contribution in bits."""

    comparison: str
    level: str
    weight: float


@dataclass
class Level:
    label: str
    weight: float
    predicate: Predicate
    tf_column: str | None = None
    tf_weight: float = 1.0
    tf_min_u: float = 0.0
    log2_u_exact: float = 0.0


@dataclass
class Comparison:
    name: str
    null: Predicate
    levels: list[Level]
    null_label: str = "missing"


@dataclass
class OnlineModel:
    """A trained model ready to score pairs of prepared records."""

    prior_weight: float
    comparisons: list[Comparison]
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    tf_default: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> OnlineModel:
        """Build from a model document (``DedupeModel.to_json`` plus ``term_frequencies``)."""
        settings = doc["splink_settings"]
        prior = float(settings.get("probability_two_random_records_match") or 1e-4)
        prior = min(max(prior, 1e-12), 1 - 1e-12)
        comparisons = [_comparison(c) for c in settings["comparisons"]]
        tf_doc = doc.get("term_frequencies") or {}
        return cls(
            prior_weight=math.log2(prior / (1 - prior)),
            comparisons=comparisons,
            tf={k: dict(v["values"]) for k, v in tf_doc.items()},
            tf_default={k: float(v["default"]) for k, v in tf_doc.items()},
        )

    def explain(self, left: Rec, right: Rec) -> list[Step]:
        """The waterfall of a pair: the prior, then each comparison's level and bits."""
        steps = [Step("prior", "", self.prior_weight)]
        for comparison in self.comparisons:
            _, label, weight = self._level(comparison, left, right)
            steps.append(Step(comparison.name, label, weight))
        return steps

    def gammas(self, left: Rec, right: Rec) -> list[tuple[int, float]]:
        """Per comparison, Splink's comparison vector value (levels numbered from the last,
        -1 for missing) and the bits: what a batch prediction row holds."""
        out: list[tuple[int, float]] = []
        for comparison in self.comparisons:
            gamma, _, bits = self._level(comparison, left, right)
            out.append((gamma, bits))
        return out

    def weight(self, left: Rec, right: Rec) -> float:
        """The pair's match weight in bits: the sum of :meth:`explain`, without the steps."""
        return self.prior_weight + sum(
            self._level(comparison, left, right)[2] for comparison in self.comparisons
        )

    def _level(self, comparison: Comparison, left: Rec, right: Rec) -> tuple[int, str, float]:
        """(gamma, label, bits) of the level the pair falls into, as Splink's CASE picks it."""
        if comparison.null(left, right):
            return -1, comparison.null_label, 0.0
        last = len(comparison.levels) - 1
        for index, level in enumerate(comparison.levels):
            if level.predicate(left, right):
                weight = level.weight
                if level.tf_column is not None:
                    weight += self._tf_adjustment(level, left, right)
                return last - index, level.label, weight
        return -1, "", 0.0

    def _tf_adjustment(self, level: Level, left: Rec, right: Rec) -> float:
        column = level.tf_column
        assert column is not None
        table = self.tf.get(column)
        if table is None:
            return 0.0
        default = self.tf_default.get(column, 0.0)
        values = [table.get(str(v), default) for v in (left.get(column), right.get(column)) if v]
        if not values:
            return 0.0
        tf = max(*values, level.tf_min_u) if len(values) > 1 else max(values[0], level.tf_min_u)
        if tf <= 0:
            return 0.0
        return level.tf_weight * (level.log2_u_exact - math.log2(tf))


def _comparison(doc: dict[str, Any]) -> Comparison:
    name = str(doc["output_column_name"])
    raw = list(doc["comparison_levels"])
    nulls = [compile_condition(str(lv["sql_condition"])) for lv in raw if lv.get("is_null_level")]
    scored = [lv for lv in raw if not lv.get("is_null_level")]
    exact_u: dict[str, float] = {}
    for lv in scored:
        column = exact_match_column(str(lv["sql_condition"]))
        if column is not None and lv.get("u_probability"):
            exact_u.setdefault(column, float(lv["u_probability"]))
    levels: list[Level] = []
    for lv in scored:
        m, u = lv.get("m_probability"), lv.get("u_probability")
        level = Level(
            str(lv.get("label_for_charts", "")),
            _log2_ratio(m, u),
            compile_condition(str(lv["sql_condition"])),
        )
        tf_col = lv.get("tf_adjustment_column")
        if tf_col and str(lv["sql_condition"]).strip().upper() != "ELSE":
            u_exact = float(u) if lv.get("disable_tf_exact_match_detection") and u else None
            u_exact = u_exact or exact_u.get(str(tf_col))
            if u_exact:
                level.tf_column = str(tf_col)
                level.tf_weight = float(lv.get("tf_adjustment_weight", 1.0))
                level.tf_min_u = float(lv.get("tf_minimum_u_value", 0.0))
                level.log2_u_exact = math.log2(u_exact)
        levels.append(level)
    null_label = next(
        (str(lv.get("label_for_charts") or "missing") for lv in raw if lv.get("is_null_level")),
        "missing",
    )
    return Comparison(name, _any(nulls), levels, null_label)


def _log2_ratio(m: Any, u: Any) -> float:
    """Splink's weight of a level: log2(m/u); a level never observed counts for nothing."""
    try:
        return math.log2(float(m) / float(u)) if m and u else 0.0
    except (TypeError, ValueError):  # "level not observed" in place of a number
        return 0.0


def _any(predicates: list[Predicate]) -> Predicate:
    return lambda left, right: any(p(left, right) for p in predicates)


def probability(weight: float) -> float:
    """Match probability of a match weight in bits."""
    return float(1.0 / (1.0 + 2.0 ** (-weight)))
