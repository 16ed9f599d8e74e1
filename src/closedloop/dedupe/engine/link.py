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
  persons, by the mode's own premise), so a chain A₁–B–A₂ is cut at its weaker link;
- the household guard (:mod:`.conflict`) still refuses a pair whose given names and birth
  dates both disagree, but such a pair is looked at again once every other pair is joined
  (:func:`leftover_links`): when both records are still without a partner in the other
  source, each is the other's only such candidate, and the sources describe the same people
  so closely that a relative left unmatched in each would be a rarity, the pair is joined.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
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


def leftover_links(
    pairs: list[tuple[str, str]],
    alone: set[str],
    matched: Mapping[str, int],
    source: Callable[[str], str],
    sizes: Mapping[str, int],
) -> list[int]:
    """Which of the pairs the household guard refused (in order) to join after all:
    positions in ``pairs``.

    The guard stands for two relatives at one address (a father and his son: other given
    name, other birth date). Between two sources each clean within itself, a relative who is
    in both sources is claimed by his own record first (a cluster holds one record per
    source), so the guard only matters for relatives that are each left without a partner:
    ``alone`` (records in no cluster with another source; ``matched``: per source, the
    records that are in one). If every person of the smaller source had such a relative,
    the expected number of wrongly joined pairs would be about min(nₛ, nₜ)·uₛ·uₜ, uₛ being
    the share of source s left alone (nₛ records of which ``matched[s]`` have a partner:
    uₛ = 1 − matched[s]/nₛ). A refused pair is
    joined when that bound is under one, both records are alone, and neither record is in
    another such pair (no choice between two members of one household).
    """
    share = {s: 1 - matched.get(s, 0) / n for s, n in sizes.items() if n > 0}
    open_pairs = [
        (k, a, b)
        for k, (a, b) in enumerate(pairs)
        if a in alone
        and b in alone
        and source(a) != source(b)
        and min(sizes.get(source(a), 0), sizes.get(source(b), 0))
        * share.get(source(a), 1.0)
        * share.get(source(b), 1.0)
        < 1.0
    ]
    seen = Counter(i for _, a, b in open_pairs for i in (a, b))
    return [k for k, a, b in open_pairs if seen[a] == 1 and seen[b] == 1]


__all__ = [
    "INPUT_COLUMN",
    "SOURCE_COLUMN",
    "across_sources",
    "cross_pair_count",
    "equivalent_records",
    "keep_across",
    "leftover_links",
    "sources_of",
]
