"""The household guard: records that are different people whatever else they share."""

from __future__ import annotations

from typing import Any

from closedloop.dedupe.engine.conflict import identity_conflict
from closedloop.dedupe.engine.prepare import gender_key
from closedloop.dedupe.keys import prepare_one

HOUSE = {"street": "Strada Dalia Ionescu nr. 5", "postal_code": "300077",
         "locality": "Timișoara", "family_name": "Cristea"}  # fmt: skip


def _p(**fields: Any) -> dict[str, Any]:
    return prepare_one({"record_id": "1", **HOUSE, **fields})


def test_gender_words_and_letters() -> None:
    assert [gender_key(v) for v in ("female", "F", " Femme ", "w", "male", "M", "homme")] == [
        "f", "f", "f", "f", "m", "m", "m"]  # fmt: skip
    assert [gender_key(v) for v in ("other", "unknown", "", None, "x")] == [None] * 5


def test_a_brother_and_sister_at_one_address_are_two_people() -> None:
    # The demo's false pair: one birth date missing, so the birth-date rule could not tell.
    florian = _p(given_name="Florian", gender="male", birth_date="1991-06-08")
    florenta = _p(given_name="Florența", gender="female")
    assert identity_conflict(florian, florenta) and identity_conflict(florenta, florian)


def test_gender_tells_nothing_when_names_agree_or_a_gender_is_unknown() -> None:
    jean = _p(given_name="Jean", gender="male", birth_date="1971-03-14")
    assert not identity_conflict(jean, _p(given_name="Jean", gender="female"))  # a typing slip
    assert not identity_conflict(jean, _p(given_name="J.", gender="female"))  # an initial
    assert not identity_conflict(jean, _p(given_name="Jeanne"))  # gender not recorded
    assert not identity_conflict(jean, _p(given_name="Jeanne", gender="other"))
    bill = _p(given_name="Bill", gender="male")
    assert not identity_conflict(bill, _p(given_name="William", gender="female"))  # nickname
    # A shared identifier outweighs everything.
    assert not identity_conflict(_p(given_name="Florian", gender="male", customer_number="C1"),
                                 _p(given_name="Florența", gender="female",
                                    customer_number="C1"))  # fmt: skip
