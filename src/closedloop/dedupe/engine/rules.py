"""Deterministic rules: records that share an identifier are one person, whatever the model
says about the rest of the record.

An identifier (national id, customer number, any ``id_*`` column) agreeing exactly after
normalisation links two records with certainty: the pair's match probability becomes 1, its
waterfall starts with the rule ("same national_id", no bits: the rule decides, the model's
steps show what the rest of the record says), and it is clustered and merged before any
probabilistic pair. A merge made this way is undone like any other (``dedupe unmerge``), and
the pair is then remembered as rejected.

A value held by more than ``max_group`` records is a placeholder ("000000000", "unknown"), not
an identifier: it links nothing and is reported in :attr:`RuleLinks.placeholders`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import pandas as pd

from closedloop.dedupe.engine.prepare import IDENTIFIERS

RULE_STEP = "rule"
_NAMES = {prepared: name for name, prepared in IDENTIFIERS.items()}


def identifier_name(column: str) -> str:
    """The attribute a prepared identifier column stands for (id_national → national_id)."""
    return _NAMES.get(column, column.removeprefix("id_"))


def rule_label(column: str) -> str:
    """The rule's wording in a waterfall: "same national_id"."""
    return f"same {identifier_name(column)}"


@dataclass
class RuleLinks:
    """Pairs the identifier rule links (``unique_id_l`` < ``unique_id_r``, ``rule``), and the
    values too common to be identifiers (column=value → records holding it)."""

    pairs: pd.DataFrame
    placeholders: dict[str, int] = field(default_factory=dict)


def identifier_links(prepared: pd.DataFrame, columns: list[str], max_group: int) -> RuleLinks:
    """Every pair of records that share a value of one of ``columns`` (the first column that
    links a pair names its rule)."""
    seen: set[tuple[str, str]] = set()
    rows: list[tuple[str, str, str]] = []
    placeholders: dict[str, int] = {}
    for column in columns:
        held = prepared[["unique_id", column]].dropna()
        for value, group in held.groupby(column, sort=True)["unique_id"]:
            ids = sorted(str(i) for i in group)
            if len(ids) < 2:
                continue
            if len(ids) > max_group:
                placeholders[f"{identifier_name(column)}={value}"] = len(ids)
                continue
            for pair in combinations(ids, 2):
                if pair not in seen:
                    seen.add(pair)
                    rows.append((*pair, rule_label(column)))
    frame = pd.DataFrame(rows, columns=["unique_id_l", "unique_id_r", "rule"], dtype=object)
    return RuleLinks(frame, placeholders)


def apply_rules(
    pairs: pd.DataFrame,
    links: RuleLinks,
    score: Callable[[list[tuple[str, str]]], pd.DataFrame],
) -> pd.DataFrame:
    """The predicted pairs with a ``rule`` column: a linked pair gets its rule and match
    probability 1; a linked pair the model left below the threshold is scored by ``score``
    (rows shaped like ``pairs``) and added, so its waterfall shows the model's view too."""
    out = pairs.copy()
    out["rule"] = None
    if links.pairs.empty:
        return out
    rule_of = {
        (a, b): rule
        for a, b, rule in zip(
            links.pairs.unique_id_l, links.pairs.unique_id_r, links.pairs.rule, strict=True
        )
    }
    keys = [
        (a, b) if a <= b else (b, a) for a, b in zip(out.unique_id_l, out.unique_id_r, strict=True)
    ]
    out["rule"] = [rule_of.get(k) for k in keys]
    missing = sorted(set(rule_of) - set(keys))
    if missing:
        extra = score(missing)
        extra["rule"] = [
            rule_of[(a, b)] for a, b in zip(extra.unique_id_l, extra.unique_id_r, strict=True)
        ]
        out = pd.concat([out, extra], ignore_index=True)
    out.loc[out.rule.notna(), "match_probability"] = 1.0
    return out.reset_index(drop=True)


__all__ = ["RULE_STEP", "RuleLinks", "apply_rules", "identifier_links", "rule_label"]
