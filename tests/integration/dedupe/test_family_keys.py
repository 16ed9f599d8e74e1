"""The family-name blocking keys (issue 12): a record whose given name and birth date were
both replaced, and one more field changed, is still compared with its other record.

- ``family3_postcode``: the family name's first three letters and the postal code (street
  and house number changed too);
- ``family_number``: the family name's sound and the house number (postal code, locality
  and street changed or missing too).

Each pair below is put up by that key alone (checked on the keys themselves), so the test
fails if the key is removed or built from other columns. The cases are FEBRL4's
``rec-1053`` and ``rec-61``, with the other fields changed so no other key holds.
"""

from __future__ import annotations

import pandas as pd

from closedloop.dedupe.engine.batch import add_blocking_columns, run_batch
from closedloop.dedupe.engine.model import blocking_keys_for
from closedloop.dedupe.engine.prepare import prepare_persons

ROWS = [
    # source a                                                           # source b
    ("a1", "a", "Jade", "Quast", "4 Hodgkinson Street", "East Ryde", "6210", "1939-01-21"),
    ("b1", "b", "Luke", "Quast", "12 Wattle Road", "Ryde", "6210", "1976-03-28"),
    ("a2", "a", "Matthew", "Sincovich", "95 Grylls Crescent", "Barrack Heights", "4221",
     "1960-07-31"),
    ("b2", "b", "Kynan", "Sincovich", "95 Wentworth Road", "Shellharbour", "4222", "1947-09-22"),
    # others, so the blocks are not the whole base
    ("a3", "a", "Ruby", "Vincent", "68 Bunya Close", "Corrimal", "3806", "1943-08-07"),
    ("b3", "b", "Ruby", "Vincent", "68 Bunya Close", "Corrimal", "3806", "1943-08-07"),
    ("a4", "a", "Dale", "Ottens", "44 Bellchambers Crescent", "Wingham", "5290", "1942-10-10"),
    ("b4", "b", "Dale", "Ottens", "44 Bellchambers Crescent", "Wingham", "5290", None),
]  # fmt: skip
COLUMNS = ["record_id", "source_system", "given_name", "family_name", "street", "locality",
           "postal_code", "birth_date"]  # fmt: skip
ONLY = {("a1", "b1"): "family3_postcode", ("a2", "b2"): "family_number"}


def _frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=COLUMNS)


def test_each_pair_is_put_up_by_its_family_key_alone() -> None:
    prepared = prepare_persons(_frame())
    keys = blocking_keys_for(prepared)
    assert {"family3_postcode", "family_number"} <= {k.name for k in keys}
    blocked, _ = add_blocking_columns(prepared, keys, max_block_size=50)
    row = blocked.set_index("unique_id")
    for (left, right), key in ONLY.items():
        agree = [
            k.name
            for k in keys
            if row.at[left, f"bk_{k.name}"] is not None
            and row.at[left, f"bk_{k.name}"] == row.at[right, f"bk_{k.name}"]
        ]
        assert agree == [key], (left, right, agree)


def test_a_link_only_run_compares_those_pairs() -> None:
    result = run_batch(_frame(), link_only=True, keep_blocked_pairs=True)
    assert result.blocked_pairs is not None
    pairs = result.blocked_pairs
    compared = {tuple(sorted(p)) for p in zip(pairs.unique_id_l, pairs.unique_id_r, strict=True)}
    assert set(ONLY) <= compared
    assert ("a1", "a2") not in compared  # never inside one source
