"""Dedupe quality on a base that holds only names and birth dates, through the product's
commands, beside plain Splink on the same records (issue 12 item 4).

The base (fixed seed): 10,000 persons drawn by Faker (English, British, French and German
names; birth dates of adults) and 1,000 duplicates of 1,000 of them, each with exactly one
error: a typo (a letter changed, dropped, doubled) or a transposition of two neighbouring
letters in the given or family name, or in the birth date a digit changed or day and month
swapped (always a real date). 11,000 rows, 1,000 true pairs.

The product: CSV → ``closedloop import persons`` → ``closedloop dedupe run`` →
``closedloop dedupe export-pairs``; pairs at the automatic-merge threshold scored.
Plain Splink: ``NameComparison`` on both names and ``DateOfBirthComparison``, prior from the
deterministic rules of Splink's tutorial, u by random sampling, m by EM blocked on both names
and on the birth date, no labels, pairs at match probability ≥ 0.9. Usage::

    .venv/bin/python bench/dedupe_names_dob.py [--persons 10000] [--duplicates 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from _harness import machine
from dedupe_cli import exported_pairs, ordered, run_product, scores

from closedloop.dedupe.settings import get_dedupe_settings

SEED = 12
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _name_error(name: str, rng: random.Random) -> str:
    if len(name) < 3:
        return name + rng.choice(LETTERS)
    i = rng.randrange(1, len(name) - 1)
    kind = rng.choice(("change", "drop", "double", "swap"))
    if kind == "change":
        return name[:i] + rng.choice(LETTERS.replace(name[i].lower(), "")) + name[i + 1 :]
    if kind == "drop":
        return name[:i] + name[i + 1 :]
    if kind == "double":
        return name[:i] + name[i] + name[i:]
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def _date_error(born: date, rng: random.Random) -> date:
    while True:
        if rng.random() < 0.25 and born.day <= 12 and born.day != born.month:
            return born.replace(month=born.day, day=born.month)
        text = list(born.strftime("%Y%m%d"))
        k = rng.randrange(2, 8)  # century kept
        text[k] = rng.choice("0123456789".replace(text[k], ""))
        try:
            return date(int("".join(text[:4])), int("".join(text[4:6])), int("".join(text[6:])))
        except ValueError:
            continue


def make_base(persons: int, duplicates: int, seed: int = SEED) -> tuple[pd.DataFrame, set[Any]]:
    """The records (external_id, given_name, family_name, birth_date) and the true pairs."""
    from faker import Faker

    fake = Faker(["en_US", "en_GB", "fr_FR", "de_DE"])
    fake.seed_instance(seed)
    rng = random.Random(seed)
    rows = [
        {
            "external_id": f"p{i}",
            "given_name": fake.first_name(),
            "family_name": fake.last_name(),
            "birth_date": fake.date_of_birth(minimum_age=18, maximum_age=90),
        }
        for i in range(persons)
    ]
    truth = set()
    for j, source in enumerate(rng.sample(range(persons), duplicates)):
        copy = dict(rows[source], external_id=f"d{j}")
        field = rng.choice(("given_name", "family_name", "birth_date"))
        if field == "birth_date":
            copy[field] = _date_error(copy[field], rng)
        else:
            copy[field] = _name_error(copy[field], rng)
        rows.append(copy)
        truth.add(ordered(f"p{source}", f"d{j}"))
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    df["birth_date"] = df.birth_date.map(lambda d: d.isoformat())
    return df, truth


def plain_splink(df: pd.DataFrame, threshold: float) -> set[tuple[str, str]]:
    """Splink as its tutorial builds a names-and-birth-date model (see the module text)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    raw = pd.DataFrame(
        {
            "unique_id": df.external_id,
            "first_name": df.given_name.str.lower(),
            "surname": df.family_name.str.lower(),
            "dob": df.birth_date,
        }
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "surname"),
            block_on("first_name", "dob"),
            block_on("surname", "dob"),
            block_on("substr(first_name, 1, 2)", "substr(surname, 1, 2)", "substr(dob, 1, 4)"),
        ],
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
        ],
    )
    linker = Linker(DuckDBAPI().register(raw), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [
            "l.first_name = r.first_name and levenshtein(r.dob, l.dob) <= 1",
            "l.surname = r.surname and levenshtein(r.dob, l.dob) <= 1",
            "l.first_name = r.first_name and levenshtein(r.surname, l.surname) <= 2",
        ],
        recall=0.7,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    pairs = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    return {
        ordered(str(a), str(b)) for a, b in zip(pairs.unique_id_l, pairs.unique_id_r, strict=True)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--duplicates", type=int, default=1_000)
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    threshold = get_dedupe_settings().threshold
    df, truth = make_base(args.persons, args.duplicates)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "names_dob.csv"
        df.to_csv(path, index=False)
        run = run_product(Path(tmp), [(path, [])], runs=1)
    ours = scores(exported_pairs(run, threshold), truth)
    plain = scores(plain_splink(df, threshold), truth)
    report = run.runs[0]
    out = {
        "machine": machine(),
        "rows": len(df),
        "true_pairs": len(truth),
        "threshold": threshold,
        "rows_rejected": len(run.rejected_ids),
        "closedloop": ours,
        "plain_splink": plain,
        "run": {k: report.get(k) for k in ("persons", "pairs", "merges", "clusters", "training")},
    }
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return
    print(f"{len(df):,} rows, {len(truth):,} true pairs, threshold {threshold} — {machine()}\n")
    print("| configuration | F1 | precision | recall | FP | FN |\n|---|---|---|---|---|---|")
    for name, s in (("closedloop CLI", ours), ("plain Splink", plain)):
        print(
            f"| {name} | {s['f1']:.4f} | {s['precision']:.4f} | {s['recall']:.4f} "
            f"| {s['false_positives']} | {s['false_negatives']} |"
        )


if __name__ == "__main__":
    main()
