"""Batch deduplication of a whole person base with Splink on DuckDB.

:func:`run_batch` prepares the records, builds bounded blocking keys, trains the model on the
base itself (or takes a saved one), scores the blocked pairs and groups the pairs above the
threshold into clusters. A cluster never joins two records whose given names *and* dates of
birth both clearly disagree: such pairs (typically a household sharing an email, a phone and
an address) are returned in ``BatchResult.households`` instead of being merged.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from closedloop.dedupe.engine.blocking import BlockingKey
from closedloop.dedupe.engine.conflict import (
    dob_compatible as _dob_compatible,
)
from closedloop.dedupe.engine.conflict import (
    identity_conflict,
    same_identifier,
)
from closedloop.dedupe.engine.link import (
    SOURCE_COLUMN,
    across_sources,
    equivalent_records,
    keep_across,
    leftover_links,
    sources_of,
)
from closedloop.dedupe.engine.model import (
    DEFAULT_MAX_BLOCK_SIZE,
    DedupeModel,
    Settings,
    blocking_keys_for,
    default_settings,
    identifier_columns_of,
    prior_problems,
    quiet_splink,
    train,
)
from closedloop.dedupe.engine.prepare import prepare_persons
from closedloop.dedupe.engine.prior import predict_with_prior
from closedloop.dedupe.engine.rules import RULE_STEP, apply_rules, identifier_links


@dataclass
class BlockStats:
    """How one blocking key behaved: records keyed, records dropped as too common, pairs."""

    name: str
    records_keyed: int
    records_dropped: int
    largest_block: int
    pairs: int = 0


@dataclass
class BatchResult:
    """Everything a batch run found.

    ``pairs``: one row per pair at or above the threshold — ``unique_id_l``, ``unique_id_r``,
    ``match_weight``, ``match_probability``, ``blocked_by`` and, per comparison, ``gamma_<c>``
    (the level) and ``mw_<c>`` (its contribution in bits, term frequency included); the
    ``prior_weight`` attribute is the starting point of the waterfall.
    ``clusters``: ``unique_id`` → ``cluster_id`` for every record (singletons included).
    ``refused``: pairs above the threshold that were not merged, with a ``reason``: "identity
    conflict" (given name and birth date both differ: typically a household sharing an email,
    a phone and an address) or "conflict within the cluster" (the join would have put such a
    pair, or two unlinked records with different birth dates, into one cluster).
    """

    pairs: pd.DataFrame
    clusters: pd.DataFrame
    refused: pd.DataFrame
    model: DedupeModel
    n_records: int
    n_compared: int
    blocks: list[BlockStats]
    prior_weight: float
    seconds: dict[str, float] = field(default_factory=dict)
    blocked_pairs: pd.DataFrame | None = None
    #: The prepared frame (for term frequencies and the online index) and the prepared
    #: values of linked records (for re-clustering a subset of the pairs).
    prepared: pd.DataFrame | None = None
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: identifier values too common to link anyone (see :mod:`.rules`) → records holding them
    placeholders: dict[str, int] = field(default_factory=dict)
    #: link-only mode: records per source (for :func:`cluster_pairs`)
    source_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def households(self) -> pd.DataFrame:
        """Refused pairs whose own records conflict: people living or writing together."""
        return self.refused[self.refused["reason"] == "identity conflict"]

    def explain(self, id_l: str, id_r: str) -> list[tuple[str, str, float]]:
        """The waterfall of one predicted pair: (comparison, level, bits), prior first."""
        pairs = self.pairs
        mask = ((pairs.unique_id_l == id_l) & (pairs.unique_id_r == id_r)) | (
            (pairs.unique_id_l == id_r) & (pairs.unique_id_r == id_l)
        )
        if not mask.any():
            raise KeyError(f"pair ({id_l}, {id_r}) is not among the predicted pairs")
        row = pairs[mask].iloc[0]
        steps: list[tuple[str, str, float]] = []
        if row.get("rule") is not None:
            steps.append((RULE_STEP, str(row["rule"]), 0.0))
        steps.append(("prior", "", self.prior_weight))
        for comparison in self.model.settings["comparisons"]:
            name = comparison["output_column_name"]
            gamma = int(row[f"gamma_{name}"])
            steps.append((name, level_label(comparison, gamma), float(row[f"mw_{name}"])))
        return steps


def level_label(comparison: dict[str, Any], gamma: int) -> str:
    """The label of the level a pair fell into (Splink numbers levels from the top, -1 null)."""
    if gamma == -1:
        nulls = [lv for lv in comparison["comparison_levels"] if lv.get("is_null_level")]
        return str(nulls[0].get("label_for_charts") or "missing") if nulls else "missing"
    levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
    index = len(levels) - 1 - gamma
    return str(levels[index].get("label_for_charts", index)) if 0 <= index < len(levels) else ""


def add_blocking_columns(
    prepared: pd.DataFrame, keys: list[BlockingKey], max_block_size: int
) -> tuple[pd.DataFrame, list[BlockStats]]:
    """Add ``bk_<name>`` per key: the joined columns, or missing where a part is missing or
    more than ``max_block_size`` records share the value (the key would explode)."""
    out = prepared.copy()
    stats: list[BlockStats] = []
    for key in keys:
        parts = [prepared[c] for c in key.columns]
        present = np.logical_and.reduce([p.notna().to_numpy() for p in parts])
        joined = parts[0].astype(str)
        for part in parts[1:]:
            joined = joined + "\x1f" + part.astype(str)
        joined = joined.where(present, None)
        sizes = joined.map(joined.value_counts())
        too_big = (sizes > max_block_size).to_numpy()
        keyed = joined.where(~too_big, None).astype(object)
        out[f"bk_{key.name}"] = keyed
        kept_sizes = sizes[~too_big & present]
        stats.append(
            BlockStats(
                name=key.name,
                records_keyed=int(keyed.notna().sum()),
                records_dropped=int((too_big & present).sum()),
                largest_block=int(kept_sizes.max()) if len(kept_sizes) else 0,
            )
        )
    return out, stats


STRONG_WEIGHT = 10.0  # bits; weaker links join groups only when most cross pairs are linked


def cluster_pairs(
    ids: list[str],
    edges: pd.DataFrame,
    records: dict[str, dict[str, Any]],
    strong_weight: float = STRONG_WEIGHT,
    joined: Sequence[Sequence[str]] = (),
    one_per_source: bool = False,
    source_sizes: Mapping[str, int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Connected components over the edges, strongest first, refusing a join that would put
    together two records that (a) conflict (:func:`identity_conflict`), or (b) have clearly
    different birth dates without being linked directly, or (c) join two groups through
    links weaker than ``strong_weight`` bits that tie at most half of their cross pairs.
    (b) and (c) stop a sparse or mistyped record from chaining namesakes into one cluster.

    ``joined``: groups of records already known to be one person (merged); each starts as
    one group, and a record without an entry in ``records`` (merged away before this run)
    is judged through the others. Every record ends in exactly one cluster.
    ``one_per_source`` (link-only mode, :mod:`.link`): also refuse a join that would put two
    records of one source (``records[id]["link_source"]``) into one cluster; with
    ``source_sizes`` (records per source), pairs refused for an identity conflict are looked
    at again at the end (:func:`.link.leftover_links`).
    Returns (clusters, refused edges)."""
    linked = sorted(
        set(edges.unique_id_l) | set(edges.unique_id_r) | {i for group in joined for i in group}
    )
    parent: dict[str, str] = {i: i for i in linked}
    members: dict[str, list[str]] = {i: [i] for i in linked}
    direct = {
        (a, b) if a <= b else (b, a)
        for a, b in zip(edges.unique_id_l, edges.unique_id_r, strict=True)
    }

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for group in joined:
        for other in group[1:]:
            ra, rb = find(group[0]), find(other)
            if ra != rb:
                parent[rb] = ra
                members[ra].extend(members.pop(rb))

    def apart(x: str, y: str) -> bool:
        a, b = records.get(x), records.get(y)
        if a is None or b is None:
            return False
        if one_per_source and a.get(SOURCE_COLUMN) == b.get(SOURCE_COLUMN):
            return True
        if identity_conflict(a, b):
            return True
        pair = (x, y) if x <= y else (y, x)
        if pair in direct or _dob_compatible(a["dob"], b["dob"]):
            return False
        return not same_identifier(a, b)

    refused: list[int] = []
    reasons: list[str] = []
    # Pairs a deterministic rule links come first and count as strong (they outrank the model).
    ruled = edges["rule"].notna() if "rule" in edges.columns else pd.Series(False, edges.index)
    ordered = edges.assign(_ruled=ruled).sort_values(
        ["_ruled", "match_weight"], ascending=False, kind="stable"
    )
    for pos, left, right, weight, by_rule in zip(
        ordered.index,
        ordered.unique_id_l,
        ordered.unique_id_r,
        ordered.match_weight,
        ordered._ruled,
        strict=True,
    ):
        ra, rb = find(left), find(right)
        if ra == rb:
            continue
        small, large = (ra, rb) if len(members[ra]) <= len(members[rb]) else (rb, ra)
        if weight < strong_weight and not by_rule:
            links = sum(
                ((x, y) if x <= y else (y, x)) in direct
                for x in members[small]
                for y in members[large]
            )
            if 2 * links <= len(members[small]) * len(members[large]):
                refused.append(pos)
                reasons.append("weak link to a cluster it is not linked with")
                continue
        if any(apart(x, y) for x in members[small] for y in members[large]):
            refused.append(pos)
            own = identity_conflict(records[left], records[right])
            if own:
                reasons.append("identity conflict")
            elif one_per_source and _same_source(members[small], members[large], records):
                reasons.append("one record per source")
            else:
                reasons.append("conflict within the cluster")
            continue
        parent[small] = large
        members[large].extend(members.pop(small))
    if one_per_source and source_sizes:
        taken = _leftovers(refused, reasons, ordered, members, find, records, source_sizes)
        for k in sorted(taken, reverse=True):
            pos = refused[k]
            a, b = find(ordered.unique_id_l.loc[pos]), find(ordered.unique_id_r.loc[pos])
            parent[a] = b
            members[b].extend(members.pop(a))
            del refused[k], reasons[k]
    # A stable name per cluster: its smallest record id; a record without edges is its own.
    names = {root: min(group) for root, group in members.items()}
    cluster_of = {i: names[find(i)] for i in linked}
    clusters = pd.DataFrame({"unique_id": ids, "cluster_id": [cluster_of.get(i, i) for i in ids]})
    out = edges.loc[refused].copy()
    out["reason"] = reasons
    return clusters, out


def _leftovers(
    refused: list[int],
    reasons: list[str],
    edges: pd.DataFrame,
    members: dict[str, list[str]],
    find: Callable[[str], str],
    records: dict[str, dict[str, Any]],
    sizes: Mapping[str, int],
) -> list[int]:
    """Positions in ``refused`` of the identity conflicts to join after all (link-only mode)."""
    conflicts = [k for k, reason in enumerate(reasons) if reason == "identity conflict"]
    pairs = [
        (edges.unique_id_l.loc[refused[k]], edges.unique_id_r.loc[refused[k]]) for k in conflicts
    ]

    def source(i: str) -> str:
        return str((records.get(i) or {}).get(SOURCE_COLUMN))

    alone = {g[0] for g in members.values() if len(g) == 1}
    matched = Counter(source(i) for g in members.values() if len(g) > 1 for i in g)
    return [conflicts[k] for k in leftover_links(pairs, alone, matched, source, sizes)]


def _same_source(small: list[str], large: list[str], records: dict[str, dict[str, Any]]) -> bool:
    """Whether the two groups hold records of one source (link-only mode)."""

    def source(i: str) -> Any:
        return (records.get(i) or {}).get(SOURCE_COLUMN)

    held = {source(i) for i in large} - {None}
    return any(source(i) in held for i in small)


# ---------------------------------------------------------------------------------------------
# The run


def _linker(frame: pd.DataFrame, settings: Settings) -> Any:
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI()
    return Linker(db_api.register(frame), settings, log_level=None)


def run_batch(
    df: pd.DataFrame,
    *,
    settings: DedupeModel | None = None,
    threshold: float | None = None,
    max_block_size: int | None = None,
    train_model: bool = True,
    keep_blocked_pairs: bool = False,
    link_only: bool = False,
) -> BatchResult:
    """Deduplicate person records (see :mod:`closedloop.dedupe.engine.prepare` for columns).

    ``settings``: a saved :class:`DedupeModel` to reuse (its m and u are kept unless
    ``train_model`` is true); by default the product's settings are built for the frame's
    attributes and trained on it without labels. ``threshold`` is the match probability at
    or above which a pair counts as a duplicate (default :data:`DEFAULT_THRESHOLD`).
    ``link_only``: the records come from sources each clean within itself (``source_system``,
    the import's ``--source``); only pairs across sources are proposed and a cluster holds at
    most one record per source (:mod:`.link`). ValueError when there is no such column or
    fewer than two sources.
    """
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    sources = sources_of(df) if link_only else None
    prepared = prepare_persons(df)
    seconds["prepare"] = time.perf_counter() - start

    if settings is None:
        keys = blocking_keys_for(prepared)
        model = DedupeModel(
            settings=default_settings(prepared, keys),
            keys=keys,
            max_block_size=max_block_size or DEFAULT_MAX_BLOCK_SIZE,
        )
        must_train = True
    else:
        model = DedupeModel.from_json(settings.to_json())
        if max_block_size is not None:
            model.max_block_size = max_block_size
        must_train = train_model
    if threshold is not None:
        model.threshold = threshold
    if sources is not None:
        model.settings = across_sources(model.settings)

    t = time.perf_counter()
    frame, stats = add_blocking_columns(prepared, model.keys, model.max_block_size)
    source_of: dict[str, str] = {}
    if sources is not None:
        frame[SOURCE_COLUMN] = sources.to_numpy()
        source_of = dict(zip(prepared.unique_id, sources, strict=True))
    seconds["blocking_keys"] = time.perf_counter() - t

    if must_train:
        t = time.perf_counter()
        linker, model.training = train(lambda s: _linker(frame, s), model.settings, prepared)
        model.trained_on = len(prepared)
        model.settings = linker.misc.save_model_to_json()
        seconds["train"] = time.perf_counter() - t
    else:
        linker = _linker(frame, model.settings)

    t = time.perf_counter()
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    # The table name is Splink's own, not user input.
    counts = linker.misc.query_sql(
        f"select match_key, count(*) as n from {blocked.physical_name} group by match_key",  # noqa: S608
        output_type="pandas",
    )
    blocked_ids = None
    if keep_blocked_pairs:
        blocked_ids = linker.misc.query_sql(
            "select join_key_l as unique_id_l, join_key_r as unique_id_r "  # noqa: S608
            f"from {blocked.physical_name}",
            output_type="pandas",
        )
    per_rule = {int(k): int(n) for k, n in zip(counts.match_key, counts.n, strict=True)}
    for i, stat in enumerate(stats):
        stat.pairs = per_rule.get(i, 0)
    with quiet_splink():
        if must_train and model.training.u_pairs:  # trained (not a base too small to)
            pairs_as = len(prepared) if sources is None else equivalent_records(sources)
            raw = _predict_estimating_prior(linker, model, pairs_as)
        else:
            raw = linker.inference.predict(
                threshold_match_probability=model.threshold, warning_mode="never"
            ).as_pandas_dataframe()
    pairs = _pairs_frame(raw, model)
    links = identifier_links(prepared, identifier_columns_of(prepared), model.max_block_size)
    if sources is not None:  # no pair inside one source, by rule or by model
        links.pairs = keep_across(links.pairs, source_of)
        pairs = keep_across(pairs, source_of)
    pairs = apply_rules(pairs, links, lambda missing: score_pairs(model, prepared, missing))
    seconds["predict"] = time.perf_counter() - t

    t = time.perf_counter()
    linked = set(pairs.unique_id_l) | set(pairs.unique_id_r)
    records = _records(prepared[prepared.unique_id.isin(linked)])
    if sources is not None:
        for uid, record in records.items():
            record[SOURCE_COLUMN] = source_of[uid]
    sizes = (
        {str(k): int(v) for k, v in sources.value_counts().items()} if sources is not None else {}
    )
    clusters, refused = cluster_pairs(
        list(prepared.unique_id),
        pairs,
        records,
        one_per_source=sources is not None,
        source_sizes=sizes,
    )
    seconds["cluster"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start

    prior = float(linker._settings_obj._probability_two_random_records_match)
    return BatchResult(
        pairs=pairs,
        clusters=clusters,
        refused=refused,
        model=model,
        n_records=len(prepared),
        n_compared=sum(per_rule.values()),
        blocks=stats,
        prior_weight=math.log2(prior / (1 - prior)),
        seconds=seconds,
        blocked_pairs=blocked_ids,
        prepared=prepared,
        records=records,
        placeholders=links.placeholders,
        source_sizes=sizes,
    )


def _predict_estimating_prior(linker: Any, model: DedupeModel, n_records: int) -> pd.DataFrame:
    """Predict with the prior estimated from the blocked pairs (:mod:`.prior`); the model's
    settings and training report take the estimate, the guard judges it."""
    training = model.training
    raw, estimate = predict_with_prior(
        linker, n_records, model.threshold, training.prior_from_rules
    )
    model.settings["probability_two_random_records_match"] = estimate.prior
    training.probability_two_random_records_match = estimate.prior
    bound = "rules" if estimate.bounded == "floor" and estimate.from_rules else estimate.bounded
    training.warnings.extend(prior_problems(estimate.prior, n_records, bounded=bound))
    return raw


def _pairs_frame(raw: pd.DataFrame, model: DedupeModel) -> pd.DataFrame:
    """Keep ids, scores, levels and per-comparison bits; name the blocking key."""
    out = pd.DataFrame(
        {
            "unique_id_l": raw["unique_id_l"].astype(str),
            "unique_id_r": raw["unique_id_r"].astype(str),
            "match_weight": raw["match_weight"].astype(float),
            "match_probability": raw["match_probability"].astype(float),
        }
    )
    names = [k.name for k in model.keys]
    out["blocked_by"] = [
        names[int(k)] if 0 <= int(k) < len(names) else str(k) for k in raw["match_key"]
    ]
    for comparison in model.settings["comparisons"]:
        name = comparison["output_column_name"]
        # Splink gives each comparison's weight in bits, and its term-frequency part apart.
        bits = raw[f"mw_{name}"].astype(float).to_numpy()
        if f"mw_tf_adj_{name}" in raw.columns:
            bits = bits + raw[f"mw_tf_adj_{name}"].astype(float).to_numpy()
        out[f"gamma_{name}"] = raw[f"gamma_{name}"].astype(int)
        out[f"mw_{name}"] = bits
    return out.reset_index(drop=True)


def score_pairs(
    model: DedupeModel, prepared: pd.DataFrame, pairs: list[tuple[str, str]]
) -> pd.DataFrame:
    """Rows like a prediction's for pairs the prediction left out (below the threshold),
    scored with the same model by the online scorer, which gives Splink's levels and weights
    (``tests/integration/dedupe/test_online_model.py`` holds it to that)."""
    from closedloop.dedupe.online_model import OnlineModel, probability

    online = OnlineModel.from_document(model.to_json(prepared))
    ids = {i for pair in pairs for i in pair}
    records = {r["unique_id"]: r for r in prepared[prepared.unique_id.isin(ids)].to_dict("records")}
    names = [c["output_column_name"] for c in model.settings["comparisons"]]
    rows: list[dict[str, Any]] = []
    for left, right in pairs:
        scored = online.gammas(records[left], records[right])
        weight = online.prior_weight + sum(bits for _, bits in scored)
        row: dict[str, Any] = {
            "unique_id_l": left,
            "unique_id_r": right,
            "match_weight": weight,
            "match_probability": probability(weight),
            "blocked_by": "rule",
        }
        for name, (gamma, bits) in zip(names, scored, strict=True):
            row[f"gamma_{name}"], row[f"mw_{name}"] = gamma, bits
        rows.append(row)
    return pd.DataFrame(rows)


def _records(prepared: pd.DataFrame) -> dict[str, dict[str, Any]]:
    ids = [c for c in prepared.columns if c.startswith("id_") and not c.endswith("_sorted")]
    extra = ["gender"] if "gender" in prepared.columns else []
    cols = ["given", "given_canon", "given_phon", "family", "dob", *extra, *ids]
    sub = prepared[["unique_id", *cols]]
    return {
        row[0]: dict(zip(cols, row[1:], strict=True))
        for row in sub.itertuples(index=False, name=None)
    }
