"""The web entry points of a person apply the validation of every other entry point (issue 13
item 6): the edit form and the public sign-up form refuse control characters, naming the
field; the edit form refuses to leave a person who names nobody."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import tests.web.test_signup_public as public
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.consent.models import SignupRequest
from closedloop.contacts.models import Person
from closedloop.jobs.models import Job

inbox = public.inbox  # the sibling module's fixtures: a real SMTP server, a form
form_id = public.form_id


def test_web_edit_refuses_control_characters_and_nobody(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    logged_in("agent")
    pid = people["Dupont"]
    data = web.edit_form(client, pid)
    data.update(given_name="Je\u0000an")
    refused = client.post(f"/persons/{pid}/edit", data=data)
    assert refused.status_code == 422
    assert 'href="#f-given_name"' in refused.text
    data = web.edit_form(client, pid)
    data.update(given_name="", family_name="", email="", phone="")
    emptied = client.post(f"/persons/{pid}/edit", data=data)
    assert emptied.status_code == 422
    assert 'href="#f-family_name"' in emptied.text
    with factory() as s:
        person = s.get(Person, pid)
        assert person is not None and person.given_name == "Jean"


def test_signup_refuses_control_characters_naming_the_field(
    client: TestClient, inbox: Any, form_id: int, factory: sessionmaker[Session]
) -> None:
    refused = public.sign_up(client, given_name="L\u0000éa", family_name="Du\u001bval")
    assert refused.status_code == 422
    assert 'id="f-given_name"' in refused.text or "given_name" in refused.text
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0
        assert s.scalar(select(func.count()).select_from(SignupRequest)) == 0
        assert s.scalar(select(func.count()).select_from(Person)) == 0
    assert public.sign_up(client).status_code == 200
