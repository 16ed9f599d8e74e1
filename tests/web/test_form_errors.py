"""Validation errors of the web forms in the page's language, not pydantic's English."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from enum import Enum
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError

from closedloop import i18n
from closedloop.errors import ValidationFailed
from closedloop.web.form_errors import field_errors, pydantic_message

from .conftest import csrf_from

FR = i18n.get_translations("fr").gettext
#: Words of pydantic's own messages: none may reach a page.
ENGLISH = ("String should", "Input should", "List should", "Value error", "Field required")


def _errors_of(html: str, name: str) -> str:
    block = re.search(rf'<ul class="field-errors" id="{name}-error">(.*?)</ul>', html, re.S)
    assert block, f"no errors shown for {name}"
    return block.group(1)


def test_french_admin_page_shows_french_validation_messages(
    logged_in: Callable[..., TestClient],
) -> None:
    client = logged_in("marketer")
    token = csrf_from(client.get("/signup-forms/new").text)
    chosen = client.post(
        "/locale",
        data={"locale": "fr", "next": "/signup-forms/new", "csrf_token": token},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    response = client.post(
        "/signup-forms/new",
        data={
            "csrf_token": token,
            "slug": "Pas un nom",
            "title": "",
            "intro": "",
            "topics": "météo: Pluie",
            "channels": ["pigeon"],
            "proof_text": "court",
            "proof_version": "v1",
            "confirm_subject": "x" * 201,
            "confirm_body": "Bonjour {prenom}",
            "redirect_url": "ftp://example.com",
        },
    )
    assert response.status_code == 422
    html = response.text
    assert "Veuillez corriger les champs signalés." in html
    expected = {
        "slug": "Cette valeur n’a pas la forme attendue.",
        "title": "Ce champ est obligatoire.",
        "topics": "Ligne 1 : écrivez une finalité, deux-points et un libellé.",
        "channels": "Choisissez une valeur de la liste.",
        "proof_text": "Saisissez au moins 10 caractère(s).",
        "confirm_subject": "Saisissez au plus 200 caractère(s).",
        "confirm_body": "N’utilisez que les variables indiquées ; le texte doit contenir {link}.",
        "redirect_url": "Saisissez une adresse web qui commence par http:// ou https://.",
    }
    for name, message in expected.items():
        assert message in _errors_of(html, name), name
    # No topic line was valid, so no topic is given at all either.
    assert "Choisissez ou saisissez au moins une valeur." in _errors_of(html, "topics")
    for words in ENGLISH:
        assert words not in html


def test_taken_slug_is_explained_in_french(logged_in: Callable[..., TestClient]) -> None:
    client = logged_in("marketer")
    token = csrf_from(client.get("/signup-forms/new").text)
    client.post("/locale", data={"locale": "fr", "next": "/", "csrf_token": token})
    data = {
        "csrf_token": token,
        "slug": "club",
        "title": "Club",
        "topics": "newsletter: Lettre",
        "channels": ["email"],
        "proof_text": "J’accepte de recevoir la lettre du club.",
        "proof_version": "v1",
        "confirm_subject": "Confirmez",
        "confirm_body": "{link}",
    }
    assert client.post("/signup-forms/new", data=data, follow_redirects=False).status_code == 303
    again = client.post("/signup-forms/new", data=data)
    assert again.status_code == 422
    assert "Un formulaire d’inscription porte déjà ce nom." in _errors_of(again.text, "slug")


class Colour(Enum):
    RED = "red"


class Sample(BaseModel):
    """A model with a field of every common kind, to produce each error type."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3, max_length=5)
    count: int = Field(ge=1, le=10)
    ratio: float = Field(gt=0, lt=1)
    day: date
    site: AnyHttpUrl
    colour: Colour
    size: Literal["S", "M"]
    tags: list[str] = Field(min_length=2, max_length=3)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": "ab"}, "Saisissez au moins 3 caractère(s)."),
        ({"name": "abcdef"}, "Saisissez au plus 5 caractère(s)."),
        ({"count": 0}, "Saisissez un nombre supérieur ou égal à 1."),
        ({"count": 11}, "Saisissez un nombre inférieur ou égal à 10."),
        ({"count": "douze"}, "Saisissez un nombre entier."),
        ({"ratio": 0}, "Saisissez un nombre supérieur à 0."),
        ({"ratio": 1}, "Saisissez un nombre inférieur à 1."),
        ({"ratio": "moitié"}, "Saisissez un nombre."),
        ({"day": "31/02/2026"}, "Saisissez une date valide (année-mois-jour)."),
        ({"site": "pas une adresse"}, "Saisissez une adresse web qui commence par http://"),
        ({"colour": "blue"}, "Choisissez une valeur de la liste."),
        ({"size": "XL"}, "Choisissez une valeur de la liste."),
        ({"tags": ["a"]}, "Indiquez au moins 2 valeur(s)."),
        ({"tags": ["a", "b", "c", "d"]}, "Indiquez au plus 3 valeur(s)."),
        ({"unknown": 1}, "Ce champ n’est pas attendu ici."),
        ({"name": None, "drop": "name"}, "Ce champ est obligatoire."),
    ],
)
def test_each_common_pydantic_error_type_has_a_french_message(
    values: dict[str, Any], message: str
) -> None:
    good: dict[str, Any] = {
        "name": "abcd",
        "count": 5,
        "ratio": 0.5,
        "day": "2026-02-03",
        "site": "https://example.com",
        "colour": "red",
        "size": "S",
        "tags": ["a", "b"],
    }
    drop = values.pop("drop", None)
    data = {**good, **values}
    if drop:
        del data[drop]
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(data)
    (error,) = caught.value.errors()
    assert pydantic_message(FR, error).startswith(message)


def test_errors_are_found_through_the_domain_error_and_named_by_field() -> None:
    try:
        try:
            Sample.model_validate({})
        except ValidationError as exc:
            raise ValidationFailed("Not valid.", errors=[]) from exc
    except ValidationFailed as failed:
        errors = field_errors(failed, FR)
    assert set(errors) == set(Sample.model_fields)
    assert all(messages == ["Ce champ est obligatoire."] for messages in errors.values())
    # A domain error that pydantic did not raise keeps its own (translatable) message.
    plain = ValidationFailed("Bad.", errors=[{"field": "email", "message": "Enter a number."}])
    assert field_errors(plain, FR) == {"email": ["Saisissez un nombre."]}
