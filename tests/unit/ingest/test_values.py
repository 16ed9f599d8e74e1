"""Validators of single values: dates, amounts, names, emails, phones, countries."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop.contacts.normalize import normalize_email, normalize_phone, phone_line_type
from closedloop.ingest.service.safe import spreadsheet_safe
from closedloop.ingest.validate.emails import check_email
from closedloop.ingest.validate.names import case_name, split_full_name
from closedloop.ingest.validate.phones import parse_phone
from closedloop.ingest.validate.values import (
    parse_amount,
    parse_birth_date,
    parse_bool,
    parse_country,
    parse_date,
    parse_datetime,
    parse_gender,
    parse_language,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("05/03/2024", date(2024, 3, 5)),
        ("5.3.2024", date(2024, 3, 5)),
        ("05-03-2024", date(2024, 3, 5)),
        ("20240305", date(2024, 3, 5)),
        ("2024/03/05", date(2024, 3, 5)),
        ("5 mars 2024", date(2024, 3, 5)),
        ("3. März 2024", date(2024, 3, 3)),
        ("7 de julio de 1985", date(1985, 7, 7)),
        ("12 ianuarie 1990", date(1990, 1, 12)),
        ("March 5, 2024", date(2024, 3, 5)),
        ("2024-03-05T10:00:00", date(2024, 3, 5)),
        ("29/02/2024", date(2024, 2, 29)),
    ],
)
def test_dates_in_common_formats(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("31/02/2024", "February 2024 has 29 days"),
        ("29/02/2023", "February 2023 has 28 days"),
        ("31/04/2024", "April 2024 has 30 days"),
        ("13/25/2024", "no month 25"),
        ("yesterday", "not a date"),
        ("03/15/2024", "US month-first"),
    ],
)
def test_impossible_or_ambiguous_dates_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_date(text)


def test_us_dates_only_when_asked() -> None:
    assert parse_date("03/05/2024") == date(2024, 5, 3)
    assert parse_date("03/05/2024", "mdy") == date(2024, 3, 5)
    assert parse_date("03/15/2024", "mdy") == date(2024, 3, 15)


def test_birth_dates_are_in_the_past_and_after_1900() -> None:
    assert parse_birth_date("01/01/80") == date(1980, 1, 1)
    with pytest.raises(ValueError, match="future"):
        parse_birth_date("2099-01-01")
    with pytest.raises(ValueError, match="before 1900"):
        parse_birth_date("1867-11-07")


def test_datetimes_are_utc() -> None:
    assert parse_datetime("2024-03-05 10:30") == datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
    assert parse_datetime("05/03/2024 10:30") == datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
    assert parse_datetime("2024-03-05T10:30:00+02:00") == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert parse_datetime("2024-03-05") == datetime(2024, 3, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 234,56", "1234.56"),
        ("1.234,56 €", "1234.56"),
        ("1,234.56", "1234.56"),
        ("12,5", "12.5"),
        ("-3,00", "-3.00"),
        ("(12,50)", "-12.50"),
        ("1'234.50", "1234.50"),
        ("1,234,567", "1234567"),
        ("99", "99"),
    ],
)
def test_amounts_with_decimal_comma(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


def test_bad_amount() -> None:
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount("twelve")


@pytest.mark.parametrize(
    ("text", "family", "expected"),
    [
        ("DUPONT", True, "Dupont"),
        ("dupont", True, "Dupont"),
        ("jean-pierre", False, "Jean-Pierre"),
        ("McDonald", True, "McDonald"),
        ("MCDONALD", True, "McDonald"),
        ("VAN DER BERG", True, "van der Berg"),
        ("van der Berg", True, "van der Berg"),
        ("DE LA FONTAINE", True, "de la Fontaine"),
        ("O'BRIEN", True, "O'Brien"),
        ("D'ARTAGNAN", True, "d'Artagnan"),
        ("ȘTEFĂNESCU", True, "Ștefănescu"),
        ("MÜLLER", True, "Müller"),
        ("王", True, "王"),
        ("DeVito", True, "DeVito"),
    ],
)
def test_names_are_cased(text: str, family: bool, expected: str) -> None:
    assert case_name(text, family) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jean Dupont", (None, "Jean", "Dupont")),
        ("DUPONT Jean", (None, "Jean", "Dupont")),
        ("Dupont, Jean", (None, "Jean", "Dupont")),
        ("M. Jean-Pierre de la Fontaine", ("M.", "Jean-Pierre", "de la Fontaine")),
        ("Ludwig van Beethoven", (None, "Ludwig", "van Beethoven")),
        ("Mme Marie CURIE", ("Mme", "Marie", "Curie")),
        ("王伟", (None, "伟", "王")),
        ("欧阳娜娜", (None, "娜娜", "欧阳")),
        ("Ana Maria Popescu", (None, "Ana Maria", "Popescu")),
    ],
)
def test_full_names_are_split(text: str, expected: tuple[str | None, ...]) -> None:
    assert split_full_name(text) == expected


@pytest.mark.parametrize(
    ("address", "suggestion"),
    [
        ("jean@gmial.com", "jean@gmail.com"),
        ("jean@hotmial.com", "jean@hotmail.com"),
        ("jean@yaho.fr", "jean@yahoo.fr"),
        ("jean@gmail.con", "jean@gmail.com"),
        ("jean@gnail.com", "jean@gmail.com"),
    ],
)
def test_mistyped_mail_domains_are_refused_with_a_suggestion(address: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match=f"did you mean {suggestion}"):
        check_email(address)


def test_real_domains_pass_offline() -> None:
    for address in ("a@gmail.com", "b@free.fr", "c@web.de", "d@yahoo.ro", "e@bücher.de"):
        assert check_email(address)[0] == address
    assert check_email("Jean.Dupont@Example.COM") == (
        "Jean.Dupont@example.com",
        "jean.dupont@example.com",
    )
    with pytest.raises(ValueError):
        check_email("not an address")


@settings(max_examples=1500, deadline=None)
@given(
    st.from_regex(
        r"[A-Za-z0-9_%+\-]{1,12}(\.[A-Za-z0-9_%+\-]{1,8}){0,2}@([A-Za-z0-9\-]{1,12}\.){1,3}[A-Za-z0-9]{2,6}",
        fullmatch=True,
    )
)
def test_the_fast_email_path_agrees_with_email_validator(address: str) -> None:
    try:
        expected = normalize_email(address)
    except ValueError:
        expected = None
    try:
        got = check_email(address)
    except ValueError as exc:
        assert expected is None or "did you mean" in str(exc)
        return
    assert got == expected


def _reference(raw: str, country: str | None) -> tuple[str, str] | None:
    try:
        e164 = normalize_phone(raw, country)
    except ValueError:
        return None
    return e164, phone_line_type(e164)


def test_the_fast_phone_path_agrees_with_libphonenumber() -> None:
    rnd = random.Random(11)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    examples = []
    for region in regions:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                examples.append((region, number))
    valid = 0
    for _ in range(20_000):
        region, number = rnd.choice(examples)
        nsn = phonenumbers.national_significant_number(number)
        cut = rnd.randint(0, 4)
        nsn = nsn[: len(nsn) - cut] + "".join(rnd.choice("0123456789") for _ in range(cut))
        style = rnd.random()
        if style < 0.3:
            raw = f"+{number.country_code}{nsn}"
        elif style < 0.6:
            prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix
            raw = (prefix or "") + nsn
        elif style < 0.8:
            raw = f"{nsn[:2]} {nsn[2:5]}-{nsn[5:]}"
        else:
            raw = f"00{number.country_code} {nsn}"
        country = region if rnd.random() < 0.8 else rnd.choice(regions)
        expected = _reference(raw, country)
        try:
            got: tuple[str, str] | None = parse_phone(raw, country)
        except ValueError:
            got = None
        assert got == expected, (raw, country)
        valid += expected is not None
    assert valid > 5000


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("33612345678", "FR"), ("3361234567", "FR"), ("2125550123", "US"),
        ("12125550123", "US"), ("011442079460000", "US"), ("8613659139937", "CN"),
        ("13659139937", "CN"), ("34689686414", "ES"), ("689686414", "ES"),
        ("4930123456", "DE"), ("447911123456", "GB"), ("40721234567", "RO"),
    ],
)  # fmt: skip
def test_numbers_without_a_trunk_prefix_read_as_libphonenumber_reads_them(
    raw: str, country: str
) -> None:
    """Digits that may begin with the region's calling code or an international prefix."""
    try:
        got: tuple[str, str] | None = parse_phone(raw, country)
    except ValueError:
        got = None
    assert got == _reference(raw, country)


def test_phones_to_e164() -> None:
    assert parse_phone("06 12 34 56 78", "FR") == ("+33612345678", "mobile")
    assert parse_phone("+40 721 234 567", None) == ("+40721234567", "mobile")
    assert parse_phone("(212) 555-0123", "US")[0] == "+12125550123"
    with pytest.raises(ValueError):
        parse_phone("12345", "FR")


def test_countries_languages_genders_booleans() -> None:
    for text in ("France", "FR", "fra", "Frankreich", "Franța", "Francia"):
        assert parse_country(text) == "FR"
    assert parse_country("Deutschland") == "DE"
    assert parse_country("România") == "RO"
    assert parse_country("UK") == "GB"
    assert parse_country("中国") == "CN"
    with pytest.raises(ValueError, match="unknown country"):
        parse_country("Atlantis")
    assert parse_language("français") == "fr"
    assert parse_language("fr_fr") == "fr-FR"
    assert parse_gender("Mme") == "female"
    assert parse_gender("H") == "male"
    assert parse_bool("oui") is True and parse_bool("nein") is False


def test_formula_injection_is_neutralised() -> None:
    for value in ("=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx", "+1+2", "-2+3", "+1\n", "+"):
        assert spreadsheet_safe(value) == "'" + value
    assert spreadsheet_safe("Dupont") == "Dupont"
    assert spreadsheet_safe("+33557159639") == "+33557159639"  # a phone, not a formula
    assert spreadsheet_safe(-2) == -2


@given(st.text(alphabet=st.sampled_from(["P", "1", " ", "\t", "\u00a0", "\u2003", "é", "\x1f"])))
def test_the_quick_key_test_agrees_with_clean_text(text: str) -> None:
    from closedloop.contacts.normalize import clean_text
    from closedloop.ingest.write.persons.importer import _clean

    if _clean(text):
        assert clean_text(text) == text
    assert _clean("P00000001") and not _clean(" P1") and not _clean("P  1")
