"""The check at entry looks a new person up by every key the batch blocks on: a person the
batch would compare with a stored one (names both mistyped on the same birth date, the two
address lines swapped, ...) is found when it is typed in."""

from __future__ import annotations

from itertools import combinations

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts_service
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.engine.batch import add_blocking_columns
from closedloop.dedupe.engine.blocking import BLOCKING_KEYS
from closedloop.dedupe.engine.prepare import prepare_persons
from closedloop.dedupe.keys import prepare_one
from closedloop.dedupe.online import lookup, record_of

PEOPLE = [
    # both names mistyped (no sound, no prefix in common), the same birth date
    {"given_name": "Alexandra", "family_name": "Horvath", "birth_date": "1984-06-02"},
    {"given_name": "Alessandra", "family_name": "Hrovat", "birth_date": "1984-06-02"},
    # the two address lines swapped, both names changed a little, another locality spelling
    {"given_name": "Margaret", "family_name": "Lowe",
     "addresses": [{"line1": "Rose Cottage", "line2": "Mill Lane", "locality": "Ashford",
                    "country": "GB"}]},
    {"given_name": "Maggie", "family_name": "Low",
     "addresses": [{"line1": "Mill Lane", "line2": "Rose Cottage", "locality": "Ashfrod",
                    "country": "GB"}]},
    # unrelated
    {"given_name": "Otto", "family_name": "Brandt", "birth_date": "1950-01-01"},
]  # fmt: skip


def _batch_pairs(people: list[PersonCreate]) -> dict[tuple[int, int], set[str]]:
    """The pairs of ``people`` (by position) that the batch's blocking keys put up."""
    frame = pd.DataFrame([{**record_of(p), "record_id": str(i)} for i, p in enumerate(people)])
    prepared = prepare_persons(frame.astype(object))
    blocked, _ = add_blocking_columns(prepared, list(BLOCKING_KEYS), max_block_size=50)
    out: dict[tuple[int, int], set[str]] = {}
    for key in BLOCKING_KEYS:
        values = blocked[f"bk_{key.name}"].tolist()
        for a, b in combinations(range(len(values)), 2):
            if values[a] is not None and values[a] == values[b]:
                out.setdefault((a, b), set()).add(key.name)
    return out


def test_the_check_at_entry_finds_every_pair_the_batch_blocks(
    factory: sessionmaker[Session],
) -> None:
    people = [PersonCreate.model_validate(p) for p in PEOPLE]
    batch = _batch_pairs(people)
    assert batch[(0, 1)] == {"dob_initials"}  # what only the initials-pair key finds
    assert batch[(2, 3)] == {"address_lines"}  # what only the address-pair key finds
    with unit_of_work(factory) as s:
        ids = [contacts_service.create_person(s, p).id for p in people]
    with unit_of_work(factory) as s:
        for (a, b), kinds in batch.items():
            # the person typed in second is looked up among the stored ones
            found = lookup(s, prepare_one(record_of(people[b])), cap=50)
            assert set(found.get(ids[a], [])) >= kinds, (a, b)
        # and nothing the batch would not compare
        unrelated = lookup(s, prepare_one(record_of(people[4])), cap=50)
        assert set(unrelated) == {ids[4]}
