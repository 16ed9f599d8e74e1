"""A base that holds only names and birth dates (issue 12): the default configuration adapts
to those columns, and the prior estimated from the blocked pairs lets duplicates with one
typo each reach the automatic-merge threshold (the deterministic rules, all three fields
equal, see none of them)."""

from __future__ import annotations

import random
from datetime import date

import pandas as pd
import pytest
from faker import Faker

from closedloop.dedupe.engine import evaluate as ev
from closedloop.dedupe.engine.batch import run_batch

pytestmark = pytest.mark.slow


def _typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(text) - 1)
    if rng.random() < 0.5:  # two neighbouring letters swapped
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeioulnrst".replace(text[i], "")) + text[i + 1 :]


def _base(persons: int, duplicates: int) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    fake = Faker(["en_GB", "fr_FR", "de_DE"])
    fake.seed_instance(5)
    rng = random.Random(5)
    rows = [
        {"record_id": f"p{i}", "given_name": fake.first_name(), "family_name": fake.last_name(),
         "birth_date": fake.date_of_birth(minimum_age=18, maximum_age=90)}
        for i in range(persons)
    ]  # fmt: skip
    truth = set()
    for j, source in enumerate(rng.sample(range(persons), duplicates)):
        copy = dict(rows[source], record_id=f"d{j}")
        field = rng.choice(("given_name", "family_name", "birth_date"))
        if field == "birth_date":
            born: date = copy[field]  # the day mistyped by one
            copy[field] = born.replace(day=born.day + 1 if born.day < 28 else born.day - 1)
        else:
            copy[field] = _typo(str(copy[field]), rng)
        rows.append(copy)
        truth.add(tuple(sorted((f"p{source}", f"d{j}"))))
    df = pd.DataFrame(rows)
    df["birth_date"] = df.birth_date.map(date.isoformat)
    return df, truth  # type: ignore[return-value]


def test_one_typo_duplicates_are_found_at_the_merge_threshold() -> None:
    df, truth = _base(4000, 400)
    result = run_batch(df)  # the automatic-merge threshold, 0.9
    training = result.model.training
    # The rules see (almost) none of the 400 pairs; the estimate finds about 400 among 9.7M.
    expected = training.probability_two_random_records_match * len(df) * (len(df) - 1) / 2
    assert 340 <= expected <= 460, expected
    assert training.warnings == []
    found = ev.pair_metrics(ev.pair_set(result.pairs.unique_id_l, result.pairs.unique_id_r), truth)
    assert found.precision >= 0.98 and found.recall >= 0.95, found
    # The model stored with the run carries the estimated prior (the online check uses it).
    assert result.model.to_json()["splink_settings"]["probability_two_random_records_match"] == (
        training.probability_two_random_records_match
    )
