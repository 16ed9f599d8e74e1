"""The standardised frame the dedupe model compares: names, dates, contacts, addresses."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from closedloop.dedupe.engine.prepare import (
    PREPARED_COLUMNS,
    birth_date_key,
    canonical_given,
    email_key,
    email_user_key,
    identifier_key,
    latin_key,
    locality_key,
    name_key,
    phone_key,
    phonetic,
    prepare_persons,
    split_street,
    street_key,
)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("O'Brien-Smith", "obriensmith"),
        ("Mc Carthy", "mccarthy"),
        ("Ștefănescu", "stefanescu"),  # Romanian comma below
        ("Ştefănescu", "stefanescu"),  # the cedilla variant typed on older keyboards
        ("Müller", "muller"),
        ("王伟", "wangwei"),
        ("Иванов", "ivanov"),
        ("Dr Anna", "anna"),
        ("  ", None),
        (None, None),
        ("nan", None),
    ],
)
def test_name_key(raw: str | None, key: str | None) -> None:
    assert name_key(raw) == key


def test_chinese_names_become_pinyin_words() -> None:
    assert latin_key("欧阳娜娜") == "ouyangnana"
    assert name_key("王") == "wang"
    assert name_key("Wang") == name_key("王")


def test_phonetic_codes_group_spellings() -> None:
    assert phonetic("harley") == phonetic("haryley")
    assert phonetic(None) is None


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("bill", "william"),
        ("guillaume", "william"),
        ("wilhelm", "william"),
        ("ion", "john"),
        ("pepe", "joseph"),
        ("zebulon", "zebulon"),
        (None, None),
    ],
)
def test_nickname_groups(name: str | None, group: str | None) -> None:
    assert canonical_given(name) == group


@pytest.mark.parametrize(
    "raw",
    [
        date(1980, 5, 3),
        pd.Timestamp("1980-05-03"),
        "1980-05-03",
        "03/05/1980",
        "03.05.1980",
        "19800503",
        "1980-05-03T10:00:00",
        "19800503.0",
    ],
)
def test_birth_date_forms(raw: object) -> None:
    assert birth_date_key(raw) == "19800503"


def test_birth_date_typos_are_kept_and_garbage_is_dropped() -> None:
    assert birth_date_key("19801332") == "19801332"
    assert birth_date_key("5/6/85") is None
    assert birth_date_key("") is None
    assert birth_date_key("unknown") is None


def test_email_and_user_part() -> None:
    key = email_key(" J.Smith+shop@Gmail.com ")
    assert key == "j.smith+shop@gmail.com"
    assert email_user_key(key) == "jsmith"
    assert email_key("not an email") is None


def test_phone_key_ignores_country_prefix_and_layout() -> None:
    assert phone_key("+33 6 12 34 56 78") == phone_key("06.12.34.56.78") == "612345678"
    assert phone_key("12") is None


def test_identifier_key() -> None:
    assert identifier_key(" 180-497 4 ") == "1804974"
    assert identifier_key(1804974.0) == "1804974"


@pytest.mark.parametrize(
    ("raw", "number", "words"),
    [
        ("12 bis rue de la Paix", "12", "rue de la paix"),
        ("Hauptstr. 5", "5", "hauptstr"),
        ("7 Wallaby Place", "7", "wallaby place"),
        ("Strada Ștefan cel Mare nr. 10", "10", "strada stefan cel mare"),
        ("wallaby place", None, "wallaby place"),
        # The street left empty, the number alone on the line (FEBRL4's "95", issue 12).
        ("95", "95", None),
        ("12 bis", "12", None),
        ("nr. 10", "10", None),
    ],
)
def test_split_street(raw: str, number: str | None, words: str | None) -> None:
    assert split_street(raw) == (number, words)


def test_street_and_locality_keys_expand_abbreviations_and_drop_spaces() -> None:
    assert street_key("hartley st") == street_key("hartleystreet") == "hartleystreet"
    assert locality_key("Mt Colah") == locality_key("mount colah")


def test_prepare_persons_reads_aliases_and_builds_helpers() -> None:
    raw = pd.DataFrame(
        {
            "rec_id": ["a", "b", "c"],
            "first_name": ["Bill", "Smith", None],
            "surname": ["Smith", "William", None],
            "dob": ["1980-05-03", "03/05/1980", None],
            "address_1": ["12 High St", "12 high street", None],
            "suburb": ["Surry Hills", "surry hills", None],
            "postcode": ["2010", "2010", None],
            "soc_sec_id": ["1804974", "1809474", None],
            "email": ["b.smith@example.org", None, None],
        }
    )
    prepared = prepare_persons(raw)
    assert list(prepared.unique_id) == ["a", "b", "c"]
    for column in PREPARED_COLUMNS:
        assert column in prepared.columns
    a, b, c = (prepared.iloc[i] for i in range(3))
    assert a.given_canon == "william"
    assert a.street_number == b.street_number == "12"
    assert a.street == b.street == "highstreet"
    assert a.dob == b.dob == "19800503"
    # Given and family names swapped on b: the name-pair key does not care.
    assert prepared.loc[1, "name_pair_phon"] is not None
    # Digits transposed in the id: the sorted key still agrees.
    assert a.id_national != b.id_national
    assert a.id_national_sorted == b.id_national_sorted
    assert a.email_user == "bsmith"
    # The all-empty row is all missing, not the string "None" or NaN.
    assert all(c[col] is None for col in prepared.columns if col != "unique_id")


def test_swapped_names_share_the_name_pair_key() -> None:
    prepared = prepare_persons(
        pd.DataFrame({"given_name": ["Anika", "Spicer"], "family_name": ["Spicer", "Anika"]})
    )
    assert prepared.name_pair_phon[0] == prepared.name_pair_phon[1]
    assert list(prepared.unique_id) == ["0", "1"]  # no record_id: the row position


def test_repeated_record_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="'x' appears more than once"):
        prepare_persons(pd.DataFrame({"record_id": ["x", "x"], "given_name": ["a", "b"]}))
