"""Fixtures of the web page tests: logged-in clients and persons in several scripts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from html import unescape
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from closedloop.consent import service as consent_service
from closedloop.consent.models import Suppression
from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import (
    AttributeChoice,
    AttributeDefinition,
    AttributeValue,
    Household,
    Relationship,
)
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.transactions.models import Order, OrderLine, Product
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    found = _CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def page_token(client: TestClient, path: str = "/login") -> str:
    """The session's CSRF token, read from a page's form."""
    return csrf_from(client.get(path).text)


def login(
    client: TestClient, username: str, password: str | None = None, next_url: str = "/"
) -> Response:
    """Log in through the login form; returns the response (not followed)."""
    token = page_token(client, "/login")
    response: Response = client.post(
        "/login",
        data={
            "username": username,
            "password": password if password is not None else f"{username}-password1",
            "next": next_url,
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    return response


_INPUT = re.compile(r'<input id="f-[^"]+" name="([^"]+)" type="[^"]+" value="([^"]*)"')


def edit_form(client: TestClient, pid: int) -> dict[str, str]:
    """The person's edit form as the browser would send it back unchanged: every field, the
    chosen option of each list, the version and the CSRF token."""
    page = client.get(f"/persons/{pid}/edit").text
    data = {name: unescape(value) for name, value in _INPUT.findall(page)}
    for name in ("gender", "lifecycle_status", "preferred_channel"):
        block = re.search(rf'name="{name}".*?</select>', page, re.S)
        assert block, f"no {name} list in the edit form"
        chosen = re.search(r'<option value="([^"]*)" selected', block.group(0))
        data[name] = chosen.group(1) if chosen else ""
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version is not None, "no version in the edit form"
    data["version"] = version.group(1)
    data["csrf_token"] = csrf_from(page)
    return data


@pytest.fixture()
def web() -> SimpleNamespace:
    """The helpers above for the tests: ``web.login``, ``web.page_token``, ``web.csrf_from``,
    ``web.edit_form``."""
    return SimpleNamespace(
        login=login, page_token=page_token, csrf_from=csrf_from, edit_form=edit_form
    )


@pytest.fixture()
def logged_in(client: TestClient, make_user: Callable[..., str]) -> Callable[..., TestClient]:
    """Create a user with a role and log the test client in as them."""

    def make(role: str = "admin", username: str | None = None, **kw: Any) -> TestClient:
        name = make_user(username or role, role, **kw)
        response = login(client, name)
        assert response.status_code == 303, response.text
        return client

    return make


@pytest.fixture()
def people(factory: sessionmaker[Session]) -> dict[str, int]:
    """Three persons in three scripts, with contact points; ids by family name."""
    specs: list[dict[str, Any]] = [
        {
            "given_name": "Jean",
            "family_name": "Dupont",
            "lifecycle_status": "customer",
            "emails": [{"address": "jean.dupont@example.com"}],
            "phones": [{"number": "06 12 34 56 78"}],
            "addresses": [
                {
                    "line1": "12 rue de la Roquette",
                    "postal_code": "75011",
                    "locality": "Paris",
                    "country": "FR",
                    "latitude": 48.8553,
                    "longitude": 2.3729,
                }
            ],
            "source_system": "erp",
            "external_id": "C-1001",
        },
        {
            "given_name": "Ana",
            "family_name": "Ștefănescu",
            "emails": [{"address": "ana.stef@example.ro"}],
            "phones": [{"number": "+40721234567"}],
            "addresses": [{"postal_code": "010011", "locality": "București", "country": "RO"}],
        },
        {
            "given_name": "伟",
            "family_name": "王",
            "emails": [{"address": "wang.wei@example.cn"}],
            "addresses": [{"locality": "北京", "postal_code": "100000", "country": "CN"}],
        },
    ]
    ids: dict[str, int] = {}
    with unit_of_work(factory) as s:
        for spec in specs:
            person = contacts_service.create_person(s, PersonCreate.model_validate(spec))
            ids[spec["family_name"]] = person.id
    return ids


@pytest.fixture()
def rich_card(factory: sessionmaker[Session], people: dict[str, int]) -> int:
    """Dupont with a household, a relationship, attributes, consents, a suppression and orders."""
    pid, ana = people["Dupont"], people["Ștefănescu"]
    with unit_of_work(factory) as s:
        household = Household(name="Foyer Dupont")
        s.add(household)
        s.flush()
        s.add_all(
            [
                Relationship(person_id=pid, kind="household_member", household_id=household.id),
                Relationship(person_id=pid, kind="referred_by", related_person_id=ana),
            ]
        )
        hobbies = AttributeDefinition(
            code="hobbies",
            labels={"en": "Hobbies", "fr": "Loisirs"},
            group="interests",
            type="multi_choice",
        )
        hobbies.choices = [
            AttributeChoice(code="books", labels={"en": "Books", "fr": "Livres"}, position=1),
            AttributeChoice(code="hiking", labels={"en": "Hiking", "fr": "Randonnée"}, position=2),
        ]
        children = AttributeDefinition(
            code="children",
            labels={"en": "Children", "fr": "Enfants"},
            group="demographic",
            type="number",
        )
        s.add_all([hobbies, children])
        s.flush()
        s.add_all(
            [
                AttributeValue(definition_id=hobbies.id, person_id=pid, choice_id=c.id)
                for c in hobbies.choices
            ]
        )
        s.add(AttributeValue(definition_id=children.id, person_id=pid, value_number=Decimal(2)))
        consent_service.record_consent(
            s,
            pid,
            Channel.EMAIL,
            Purpose.MARKETING,
            ConsentState.GRANTED,
            method=ConsentMethod.WEB_FORM,
            proof_text="J'accepte de recevoir les offres par e-mail.",
            proof_version="v3",
            source_system="webshop",
            occurred_at=datetime(2024, 3, 5, 10, 30, tzinfo=UTC),
        )
        consent_service.record_consent(
            s,
            pid,
            Channel.EMAIL,
            Purpose.MARKETING,
            ConsentState.WITHDRAWN,
            method=ConsentMethod.UNSUBSCRIBE_LINK,
            source_system="mailer",
            occurred_at=datetime(2025, 1, 20, 8, 0, tzinfo=UTC),
        )
        consent_service.record_consent(
            s,
            pid,
            Channel.SMS,
            Purpose.NEWSLETTER,
            ConsentState.GRANTED,
            method=ConsentMethod.PAPER,
            proof_text="Bulletin d'adhésion signé",
            proof_version="2023-01",
            occurred_at=datetime(2024, 6, 1, 12, 0, tzinfo=UTC),
        )
        s.add(Suppression(person_id=pid, channel="letter", reason="bounced", note="NPAI"))
        book = Product(sku="BK-001", name="Le Petit Prince", unit_price=Decimal("12.25"))
        lamp = Product(sku="LP-7", name="Lampe de bureau", unit_price=Decimal("1210.00"))
        s.add_all([book, lamp])
        s.flush()
        order = Order(
            person_id=pid,
            ordered_at=datetime(2024, 3, 5, 11, 0, tzinfo=UTC),
            channel="webshop",
            currency="EUR",
            total_amount=Decimal("1234.50"),
            external_id="WEB-42",
            source_system="webshop",
        )
        order.lines = [
            OrderLine(
                line_no=1,
                product_id=book.id,
                quantity=Decimal(2),
                unit_price=Decimal("12.25"),
                amount=Decimal("24.50"),
            ),
            OrderLine(
                line_no=2,
                product_id=lamp.id,
                quantity=Decimal(1),
                unit_price=Decimal("1210.00"),
                amount=Decimal("1210.00"),
            ),
        ]
        s.add(order)
    return pid
