"""A person's catalogue attributes edited and removed from the card (issue 14, item 16):
saved and shown, a refused value named next to its field with nothing stored, and a role
that may not edit persons refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import AttributeChoice, AttributeDefinition, AttributeValue
from closedloop.db.uow import unit_of_work
from closedloop.users.models import AuditEvent


def _stored(factory: sessionmaker[Session], pid: int, code: str) -> list[object]:
    with factory() as s:
        rows = s.execute(
            select(AttributeValue, AttributeChoice.code)
            .join(AttributeDefinition, AttributeValue.definition_id == AttributeDefinition.id)
            .outerjoin(AttributeChoice, AttributeValue.choice_id == AttributeChoice.id)
            .where(AttributeValue.person_id == pid, AttributeDefinition.code == code)
        ).all()
        return sorted(
            (
                choice or v.value_number or v.value_date or v.value_bool or v.value_text
                for v, choice in rows
            ),
            key=str,
        )


def _catalogue_extra(factory: sessionmaker[Session]) -> None:
    """A single choice, a yes-or-no and a date beside the fixture's hobbies and children."""
    with unit_of_work(factory) as s:
        housing = AttributeDefinition(
            code="housing",
            labels={"en": "Housing", "fr": "Logement"},
            group="demographic",
            type="choice",
        )
        housing.choices = [
            AttributeChoice(code="owner", labels={"en": "Owner", "fr": "Propriétaire"}, position=1),
            AttributeChoice(code="tenant", labels={"en": "Tenant", "fr": "Locataire"}, position=2),
        ]
        s.add_all(
            [
                housing,
                AttributeDefinition(
                    code="has_pet", labels={"en": "Has a pet"}, group="demographic", type="boolean"
                ),
                AttributeDefinition(
                    code="member_since",
                    labels={"en": "Member since"},
                    group="demographic",
                    type="date",
                ),
            ]
        )


def test_attributes_are_edited_and_removed_from_the_card(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    rich_card: int,
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    _catalogue_extra(factory)
    pid = rich_card
    logged_in("agent")
    card = client.get(f"/persons/{pid}").text
    assert f'href="/persons/{pid}/attributes"' in card
    page = client.get(f"/persons/{pid}/attributes").text
    # The stored values fill the form: two hobbies ticked, two children.
    assert re.search(r'name="a-hobbies" value="books" checked', page)
    assert re.search(r'name="a-hobbies" value="hiking" checked', page)
    assert re.search(
        r'id="a-children" name="a-children" type="text" inputmode="decimal" value="2"', page
    )
    response = client.post(
        f"/persons/{pid}/attributes",
        data={
            "csrf_token": web.csrf_from(page),
            "attrs": ["hobbies", "children", "housing", "has_pet", "member_since"],
            "a-hobbies": ["hiking"],
            "a-children": "3",
            "a-housing": "tenant",
            "a-has_pet": "1",
            "a-member_since": "2019-04-01",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert _stored(factory, pid, "hobbies") == ["hiking"]
    assert _stored(factory, pid, "children") == [Decimal(3)]
    assert _stored(factory, pid, "housing") == ["tenant"]
    assert _stored(factory, pid, "has_pet") == [True]
    assert str(_stored(factory, pid, "member_since")) == "[datetime.date(2019, 4, 1)]"
    card = client.get(f"/persons/{pid}").text
    assert "The attributes were saved." in card
    assert "Tenant" in card and "Hiking" in card and "Books" not in card
    # A blank field removes the value; the card's Remove button removes another.
    client.post(
        f"/persons/{pid}/attributes",
        data={"csrf_token": web.csrf_from(card), "attrs": ["children"], "a-children": ""},
    )
    assert _stored(factory, pid, "children") == []
    assert _stored(factory, pid, "housing") == ["tenant"]  # not in the form: untouched
    card = client.get(f"/persons/{pid}").text
    assert f'action="/persons/{pid}/attributes/housing/remove"' in card
    removed = client.post(
        f"/persons/{pid}/attributes/housing/remove",
        data={"csrf_token": web.csrf_from(card)},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert _stored(factory, pid, "housing") == []
    with factory() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(pid))))
    assert "attributes_changed" in actions and "attribute_removed" in actions


def test_a_refused_value_is_named_and_nothing_is_stored(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    rich_card: int,
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    _catalogue_extra(factory)
    pid = rich_card
    logged_in("marketer")
    token = web.page_token(client, f"/persons/{pid}/attributes")
    response = client.post(
        f"/persons/{pid}/attributes",
        data={
            "csrf_token": token,
            "attrs": ["children", "hobbies", "housing", "member_since", "has_pet"],
            "a-children": "two",  # not a number
            "a-hobbies": ["books", "knitting"],  # not one of its choices
            "a-housing": "castle",
            "a-member_since": "31/02/2020",
            "a-has_pet": "perhaps",
        },
    )
    assert response.status_code == 422
    html = response.text
    assert 'id="children-error">Enter a number, such as 3 or 2.5.' in html
    assert 'id="hobbies-error">Choose a value from the list.' in html
    assert 'id="housing-error">Choose a value from the list.' in html
    assert 'id="member_since-error">Enter a valid date (year-month-day).' in html
    assert 'id="has_pet-error">Choose yes or no.' in html
    assert 'value="two"' in html  # what was typed is kept for correction
    assert _stored(factory, pid, "children") == [Decimal(2)]
    assert _stored(factory, pid, "hobbies") == ["books", "hiking"]
    # An attribute that is not in the catalogue is named too, in French as well.
    client.post("/locale", data={"locale": "fr", "next": "/", "csrf_token": token})
    french = client.post(
        f"/persons/{pid}/attributes",
        data={"csrf_token": token, "attrs": ["shoe_size", "children"], "a-children": "2,5x"},
    )
    assert french.status_code == 422
    assert 'id="shoe_size-error">Cet attribut n\'est pas dans le catalogue.' in french.text
    assert 'id="children-error">Saisissez un nombre' in french.text


def test_a_role_that_may_not_edit_persons_is_refused(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    rich_card: int,
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    pid = rich_card
    logged_in("analyst")
    card = client.get(f"/persons/{pid}").text
    assert "/attributes" not in card and "Edit attributes" not in card
    token = web.csrf_from(card) if "csrf_token" in card else web.page_token(client, "/")
    assert client.get(f"/persons/{pid}/attributes").status_code == 403
    saved = client.post(
        f"/persons/{pid}/attributes",
        data={"csrf_token": token, "attrs": ["children"], "a-children": "9"},
    )
    assert saved.status_code == 403
    removed = client.post(f"/persons/{pid}/attributes/children/remove", data={"csrf_token": token})
    assert removed.status_code == 403
    assert _stored(factory, pid, "children") == [Decimal(2)]
