"""Score one pair of prepared records with a trained model's m and u, in pure Python.

Splink writes each comparison level as SQL for DuckDB; the online check cannot afford a
database engine per pair, so each level (found by its label) has a Python twin here built on
rapidfuzz, with the same null semantics (a comparison with a missing value is false). A pair's
weight is the prior plus, per comparison, ``log2(m/u)`` of its level and the term-frequency
adjustment Splink makes (``log2(u_exact) - log2(tf)``), with frequencies kept in the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein, Hamming, Jaro, JaroWinkler

Rec = dict[str, Any]
Predicate = Callable[[Rec, Rec], bool]


def _eq(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a == b


def _jw(a: Any, b: Any, at: float) -> bool:
    return a is not None and b is not None and JaroWinkler.similarity(a, b) >= at


def _dl(a: Any, b: Any, at: int) -> bool:
    if a is None or b is None:
        return False
    distance = DamerauLevenshtein.distance(a, b) if Jaro.similarity(a, b) >= 0.75 else 99
    return bool(distance <= at)


def _hamming(a: Any, b: Any) -> int:
    if a is None or b is None:
        return 99
    return int(Hamming.distance(a, b)) if len(a) == len(b) else 99


def _col(name: str) -> Callable[[Rec, Rec], tuple[Any, Any]]:
    return lambda left, right: (left.get(name), right.get(name))


def _same(name: str) -> Predicate:
    return lambda left, right: _eq(left.get(name), right.get(name))


def _close(name: str, at: float, other: str | None = None) -> Predicate:
    return lambda left, right: _jw(left.get(name), right.get(other or name), at)


def _missing(*names: str) -> Predicate:
    return lambda left, right: any(left.get(n) is None or right.get(n) is None for n in names)


def _given_levels() -> dict[str, Predicate]:
    def swapped(a: Rec, b: Rec) -> bool:
        return _eq(a["given"], b["family"]) or _jw(a["given"], b["family"], 0.92)

    def initial(a: Rec, b: Rec) -> bool:
        g_a, g_b = a["given"], b["given"]
        return _eq(a["given_initial"], b["given_initial"]) and (len(g_a) == 1 or len(g_b) == 1)

    return {
        "exact": _same("given"),
        "nickname": _same("given_canon"),
        "jaro-winkler >= 0.92": _close("given", 0.92),
        "swapped with family name": swapped,
        "same sound": _same("given_phon"),
        "jaro-winkler >= 0.8": _close("given", 0.80),
        "initial": initial,
    }


def _family_levels() -> dict[str, Predicate]:
    def contained(a: Rec, b: Rec) -> bool:
        f_a, f_b = a["family"], b["family"]
        return len(f_a) >= 3 and len(f_b) >= 3 and (f_b in f_a or f_a in f_b)

    def swapped(a: Rec, b: Rec) -> bool:
        return _eq(a["family"], b["given"]) or _jw(a["family"], b["given"], 0.92)

    return {
        "exact": _same("family"),
        "jaro-winkler >= 0.92": _close("family", 0.92),
        "one within the other": contained,
        "swapped with given name": swapped,
        "same sound": _same("family_phon"),
        "jaro-winkler >= 0.8": _close("family", 0.80),
    }


def _dob_levels() -> dict[str, Predicate]:
    def one_typo(a: Rec, b: Rec) -> bool:
        x, y = a["dob"], b["dob"]
        return _hamming(x, y) <= 2 and DamerauLevenshtein.distance(x, y) <= 1

    def swapped(a: Rec, b: Rec) -> bool:
        x, y = str(a["dob"]), str(b["dob"])
        return x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]

    return {
        "exact": _same("dob"),
        "one typing error": one_typo,
        "day and month swapped": swapped,
        "two digits off": lambda a, b: _hamming(a["dob"], b["dob"]) <= 2,
        "same year": _same("dob_year"),
    }


def _identifier_levels(column: str) -> dict[str, Predicate]:
    return {
        "exact": _same(column),
        "one character off": lambda a, b: _dl(a[column], b[column], 1),
        "two characters off": lambda a, b: _dl(a[column], b[column], 2),
    }


def _email_levels() -> dict[str, Predicate]:
    return {
        "exact": _same("email"),
        "same user": _same("email_user"),
        "user jaro-winkler >= 0.92": _close("email_user", 0.92),
    }


def _phone_levels() -> dict[str, Predicate]:
    return {"exact": _same("phone"), "one digit off": lambda a, b: _dl(a["phone"], b["phone"], 1)}


def _street_levels() -> dict[str, Predicate]:
    def place(a: Rec, b: Rec) -> bool:
        return _eq(a["postcode"], b["postcode"]) or _eq(a["locality"], b["locality"])

    def number(a: Rec, b: Rec) -> bool:
        return _eq(a["street_number"], b["street_number"])

    def same(a: Rec, b: Rec) -> bool:
        return _eq(a["street"], b["street"])

    def close(a: Rec, b: Rec) -> bool:
        return _jw(a["street"], b["street"], 0.92)

    return {
        "same house": lambda a, b: same(a, b) and number(a, b) and place(a, b),
        "same house, street close": lambda a, b: close(a, b) and number(a, b) and place(a, b),
        "same street, other number": lambda a, b: same(a, b) and place(a, b),
        "street close, other number": lambda a, b: close(a, b) and place(a, b),
        "same street and number, other place": lambda a, b: same(a, b) and number(a, b),
        "same street name, other place": same,
        "street jaro-winkler >= 0.8": _close("street", 0.80),
    }


def _text_levels(column: str) -> dict[str, Predicate]:
    return {
        "exact": _same(column),
        "jaro-winkler >= 0.92": _close(column, 0.92),
        "jaro-winkler >= 0.8": _close(column, 0.80),
    }


def _place_levels() -> dict[str, Predicate]:
    def pc(a: Rec, b: Rec) -> bool:
        return _eq(a["postcode"], b["postcode"])

    def loc(a: Rec, b: Rec) -> bool:
        return _eq(a["locality"], b["locality"])

    def pc_one(a: Rec, b: Rec) -> bool:
        return _dl(a["postcode"], b["postcode"], 1)

    return {
        "postcode and locality": lambda a, b: pc(a, b) and loc(a, b),
        "postcode, locality close": lambda a, b: (
            pc(a, b) and _jw(a["locality"], b["locality"], 0.88)
        ),
        "postcode only": pc,
        "locality, postcode one off": lambda a, b: loc(a, b) and pc_one(a, b),
        "locality only": loc,
        "postcode one off": pc_one,
        "locality close": _close("locality", 0.92),
    }


def levels_for(name: str) -> tuple[Predicate, dict[str, Predicate]]:
    """(null test, label → predicate) of a comparison by its output column name."""
    if name == "given":
        return _missing("given"), _given_levels()
    if name == "family":
        return _missing("family"), _family_levels()
    if name == "dob":
        return _missing("dob"), _dob_levels()
    if name == "email":
        return _missing("email"), _email_levels()
    if name == "phone":
        return _missing("phone"), _phone_levels()
    if name == "street":
        return _missing("street"), _street_levels()
    if name == "place":
        return (
            lambda a, b: _missing("postcode")(a, b) and _missing("locality")(a, b),
            _place_levels(),
        )
    if name.startswith("id_"):
        return _missing(name), _identifier_levels(name)
    return _missing(name), _text_levels(name)


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
    predicate: Predicate | None
    tf_column: str | None = None
    tf_weight: float = 1.0
    tf_min_u: float = 0.0
    log2_u_exact: float = 0.0


@dataclass
class Comparison:
    name: str
    null: Predicate
    levels: list[Level]


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
            steps.append(self._step(comparison, left, right))
        return steps

    def weight(self, left: Rec, right: Rec) -> float:
        """The pair's match weight in bits: the sum of :meth:`explain`, without the steps."""
        total = self.prior_weight
        for comparison in self.comparisons:
            if comparison.null(left, right):
                continue
            for level in comparison.levels:
                if level.predicate is not None and level.predicate(left, right):
                    total += level.weight
                    if level.tf_column is not None:
                        total += self._tf_adjustment(level, left, right)
                    break
        return total

    def _step(self, comparison: Comparison, left: Rec, right: Rec) -> Step:
        if comparison.null(left, right):
            return Step(comparison.name, "missing", 0.0)
        for level in comparison.levels:
            if level.predicate is None or not level.predicate(left, right):
                continue
            weight = level.weight
            if level.tf_column is not None:
                weight += self._tf_adjustment(level, left, right)
            return Step(comparison.name, level.label, weight)
        return Step(comparison.name, "", 0.0)

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
    null, predicates = levels_for(name)
    raw = [lv for lv in doc["comparison_levels"] if not lv.get("is_null_level")]
    exact_u: dict[str, float] = {}
    for lv in raw:
        cond = str(lv.get("sql_condition", "")).replace(" ", "")
        for col in {
            str(x.get("tf_adjustment_column")) for x in raw if x.get("tf_adjustment_column")
        }:
            if cond == f'"{col}_l"="{col}_r"' and lv.get("u_probability"):
                exact_u.setdefault(col, float(lv["u_probability"]))
    levels: list[Level] = []
    for lv in raw:
        label = str(lv.get("label_for_charts", ""))
        m, u = lv.get("m_probability"), lv.get("u_probability")
        weight = math.log2(float(m) / float(u)) if m and u else 0.0
        predicate = predicates.get(label)
        if str(lv.get("sql_condition", "")).strip().upper() == "ELSE":
            predicate = _always
        tf_col = lv.get("tf_adjustment_column")
        level = Level(label, weight, predicate)
        if tf_col and tf_col in exact_u:
            level.tf_column = str(tf_col)
            level.tf_weight = float(lv.get("tf_adjustment_weight", 1.0))
            level.tf_min_u = float(lv.get("tf_minimum_u_value", 0.0))
            level.log2_u_exact = math.log2(exact_u[str(tf_col)])
        levels.append(level)
    return Comparison(name, null, levels)


def _always(left: Rec, right: Rec) -> bool:
    return True


def probability(weight: float) -> float:
    """Match probability of a match weight in bits."""
    return float(1.0 / (1.0 + 2.0 ** (-weight)))
