"""Which EM sessions train the model (issue 12): the most trusted blocks first, and the
address and email blocks (full of households) only where names or birth dates are missing;
system-issued numbers compare exact only."""

from __future__ import annotations

from closedloop.dedupe.engine.model import em_sessions, identifier_comparison

EVERYTHING = ["given", "family", "dob", "email", "phone", "street", "line2", "place"]
COLUMNS = {"dob", "given_phon", "family_phon", "postcode", "email", "street_number"}


def test_names_and_birth_dates_train_everything_without_the_household_blocks() -> None:
    assert em_sessions(COLUMNS, EVERYTHING) == [
        ("dob",),
        ("given_phon", "family_phon", "postcode"),
    ]
    # No postcode: the names alone train the birth date.
    assert em_sessions(COLUMNS - {"postcode"}, ["given", "family", "dob", "email"]) == [
        ("dob",),
        ("given_phon", "family_phon"),
    ]


def test_without_birth_dates_the_names_need_another_block() -> None:
    columns = COLUMNS - {"dob"}
    names = [c for c in EVERYTHING if c != "dob"]
    in_postcode, alone = ("given_phon", "family_phon", "postcode"), ("given_phon", "family_phon")
    # The names train the rest (the place from the names alone); the email block, the names.
    assert em_sessions(columns, names) == [in_postcode, alone, ("email",)]
    # No email either: the house trains the names.
    assert em_sessions(columns - {"email"}, ["given", "family", "street", "place"]) == [
        in_postcode,
        alone,
        ("postcode", "street_number"),
    ]


def test_customer_numbers_compare_exact_and_national_ids_allow_typos() -> None:
    labels = [
        lv["label_for_charts"] for lv in identifier_comparison("id_customer")["comparison_levels"]
    ]
    assert labels == ["missing", "exact", "different"]
    national = identifier_comparison("id_national")["comparison_levels"]
    assert "one character off" in [lv["label_for_charts"] for lv in national]
