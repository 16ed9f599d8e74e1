"""Batch dedupe at scale: time and peak memory of ``run_batch`` on N synthetic persons.

Target (issue 4): 1M persons in at most 10 minutes on 2 cores, peak memory at most 8 GB.
The persons are generated here (numpy, small own name pools, so common names are very
common) with about 10 % planted duplicates, which give precision and recall. Usage::

    .venv/bin/python bench/dedupe_scale.py [--n 1000000] [--json]

Peak memory is the process's peak resident set (``ru_maxrss``), DuckDB included.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time

from _harness import machine

from closedloop.dedupe.engine import evaluate as ev
from closedloop.dedupe.engine.batch import run_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of person records")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of planted copies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)

    start = time.perf_counter()
    df, entity = ev.synthetic_persons(args.n, duplicate_share=args.duplicates, seed=args.seed)
    generate = time.perf_counter() - start
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    start = time.perf_counter()
    result = run_batch(df)
    seconds = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    truth = ev.pairs_from_clusters(entity)
    predicted = ev.pair_set(result.pairs.unique_id_l, result.pairs.unique_id_r)
    pm = ev.pair_metrics(predicted, truth)
    clusters = dict(zip(result.clusters.unique_id, result.clusters.cluster_id, strict=True))
    b3 = ev.b_cubed(clusters, {k: str(v) for k, v in entity.items()})
    out = {
        "machine": machine(),
        "records": args.n,
        "true_pairs": len(truth),
        "generate_seconds": round(generate, 1),
        "run_batch_seconds": round(seconds, 1),
        "steps_seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "peak_rss_gib": round(peak_gib, 2),
        "rss_before_run_gib": round(rss_before, 2),
        "compared_pairs": result.n_compared,
        "predicted_pairs": len(predicted),
        "precision": round(pm.precision, 4),
        "recall": round(pm.recall, 4),
        "f1": round(pm.f1, 4),
        "b3_precision": round(b3.precision, 4),
        "b3_recall": round(b3.recall, 4),
        "households_refused": len(result.households),
        "blocks": [
            {
                "key": b.name,
                "pairs": b.pairs,
                "largest": b.largest_block,
                "records_dropped": b.records_dropped,
            }
            for b in result.blocks
        ],
        "training": result.model.to_json()["training"],
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{args.n:,} persons — {out['machine']}")
    print(f"run_batch {seconds:.1f} s (steps {out['steps_seconds']}), peak RSS {peak_gib:.2f} GiB")
    print(
        f"compared {result.n_compared:,} pairs; predicted {len(predicted):,}; "
        f"precision {pm.precision:.4f} recall {pm.recall:.4f} F1 {pm.f1:.4f}; "
        f"B³ P {b3.precision:.4f} R {b3.recall:.4f}"
    )
    for b in out["blocks"]:
        print(
            f"  {b['key']:<28} pairs {b['pairs']:>12,}  largest {b['largest']:>4}  "
            f"dropped {b['records_dropped']:,}"
        )


if __name__ == "__main__":
    main()
