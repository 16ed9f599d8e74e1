"""Link-only mode: records come from several sources, each clean within itself (no
duplicates inside one source), and only pairs across sources are proposed.

This is Splink's ``link_only``: FEBRL4's file A and file B, a webshop and a shop till that
each hold every customer once. The source of a record is its ``source_system`` (the
``--source`` of its import). In this mode

- every blocking rule of the prediction also requires ``l.link_source <> r.link_source``, so
  no pair inside one source is ever scored;
- the prior is estimated over the cross-source pairs only (Σ nᵢ·nⱼ, not n(n−1)/2);
- identifier rules link only records of different sources;
- a cluster holds at most one record of each source (two records of one source are two
  persons, by the mode's own premise), so a chain A₁–B–A₂ is cut at its weaker link.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

#: The prepared column that names a record's source in link-only mode.
SOURCE_COLUMN = "link_source"
#: The input column it is read from (the person's ``source_system``).
INPUT_COLUMN = "source_system"
_ACROSS = f' AND l."{SOURCE_COLUMN}" <> r."{SOURCE_COLUMN}"'


def sources_of(df: pd.DataFrame) -> pd.Series:
    """Each input row's source as text (a row without a source is its own source "").

    Raises ValueError naming the column when the frame has none, or when fewer than two
    sources are present (nothing could be linked)."""
    if INPUT_COLUMN not in df.columns:
        raise ValueError(
            f"{INPUT_COLUMN}: link-only mode needs the source of every record "
            "(import each file with --source NAME)"
        )
    sources = df[INPUT_COLUMN].astype(object).where(df[INPUT_COLUMN].notna(), "").astype(str)
    found = sorted(set(sources))
    if len(found) < 2:
        raise ValueError(
            f"{INPUT_COLUMN}: link-only mode links records of different sources, and every "
            f"record comes from {found[0] if found else 'no source'!r}; import the other "
            "file with another --source"
        )
    return sources.reset_index(drop=True)


def across_sources(settings: dict[str, Any]) -> dict[str, Any]:
    """Splink settings whose prediction blocking rules compare records of different sources
    only (idempotent)."""
    out = dict(settings)
    rules = []
    for rule in settings["blocking_rules_to_generate_predictions"]:
        text = rule["blocking_rule"] if isinstance(rule, dict) else str(rule)
        if not text.endswith(_ACROSS):
            text += _ACROSS
        rules.append({**rule, "blocking_rule": text} if isinstance(rule, dict) else text)
    out["blocking_rules_to_generate_predictions"] = rules
    return out


def cross_pair_count(sources: pd.Series) -> float:
    """Pairs of records from different sources: Σᵢ<ⱼ nᵢ·nⱼ."""
    counts = sources.value_counts().to_numpy(dtype=float)
    total = float(counts.sum())
    return (total * total - float((counts * counts).sum())) / 2


def equivalent_records(sources: pd.Series) -> int:
    """The number of records n whose n(n−1)/2 pairs equal the cross-source pairs: the prior
    estimate (:mod:`.prior`) counts pairs that way."""
    pairs = cross_pair_count(sources)
    return max(2, round((1 + math.sqrt(1 + 8 * pairs)) / 2))


def keep_across(pairs: pd.DataFrame, source_of: dict[str, str]) -> pd.DataFrame:
    """The rows of ``pairs`` (``unique_id_l``, ``unique_id_r``) whose records come from
    different sources."""
    if pairs.empty:
        return pairs
    mask = [
        source_of.get(a) != source_of.get(b)
        for a, b in zip(pairs.unique_id_l, pairs.unique_id_r, strict=True)
    ]
    return pairs[pd.Series(mask, index=pairs.index, dtype=bool)].reset_index(drop=True)


__all__ = [
    "INPUT_COLUMN",
    "SOURCE_COLUMN",
    "across_sources",
    "cross_pair_count",
    "equivalent_records",
    "keep_across",
    "sources_of",
]
