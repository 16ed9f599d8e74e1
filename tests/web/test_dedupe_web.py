"""The duplicate review pages: queue, side by side with the waterfall, decisions with CSRF,
roles, Plotly served from the package, unmerge."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.quality.models import DuplicateCandidate


def _pairs(factory: sessionmaker[Session]) -> list[int]:
    specs = [
        ("Jean", "Dupont", "jean.dupont@example.com"),
        ("Jean", "Dupond", "jean.dupont@example.com"),
        ("Ana", "Pop", "ana@example.ro"),
        ("Ana", "Popp", "ana@example.ro"),
    ]
    with unit_of_work(factory) as s:
        for given, family, email in specs:
            contacts_service.create_person(s, PersonCreate.model_validate(
                {"given_name": given, "family_name": family, "birth_date": "1980-01-01",
                 "emails": [{"address": email}]}))  # fmt: skip
    with unit_of_work(factory) as s:
        return list(s.scalars(select(DuplicateCandidate.id).order_by(DuplicateCandidate.id)))


def test_queue_pair_page_and_decisions_with_csrf(
    logged_in: Callable[..., TestClient],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    first, second = _pairs(factory)
    client = logged_in("agent")
    queue = client.get("/duplicates")
    assert queue.status_code == 200 and f'href="/duplicates/{first}"' in queue.text
    page = client.get(f"/duplicates/{first}")
    assert page.status_code == 200
    assert "<mark>Dupont</mark>" in page.text and "<mark>Dupond</mark>" in page.text
    data = re.search(r'id="waterfall"[^>]*data-figure="([^"]*)"', page.text)
    assert data is not None
    figure = json.loads(html.unescape(data.group(1)))
    assert figure["data"][0]["type"] == "waterfall" and figure["data"][0]["x"][0] == "prior"
    assert 'src="/vendor/plotly.min.js"' in page.text and 'data-key="n"' in page.text
    # no CSRF token: refused, nothing changed
    refused = client.post(f"/duplicates/{first}/decide", data={"decision": "accept"})
    assert refused.status_code == 403
    token = web.csrf_from(page.text)
    done = client.post(f"/duplicates/{first}/decide",
                       data={"decision": "not_duplicate", "csrf_token": token},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"/duplicates/{second}"
    accepted = client.post(f"/duplicates/{second}/decide",
                           data={"decision": "accept", "csrf_token": token},
                           follow_redirects=False)  # fmt: skip
    assert accepted.headers["location"] == "/duplicates"
    with unit_of_work(factory) as s:
        statuses = [r.status for r in s.scalars(select(DuplicateCandidate)
                                                .order_by(DuplicateCandidate.id))]  # fmt: skip
        merged = s.scalars(select(Person).where(Person.merged_into_id.is_not(None))).one()
    assert statuses == ["not_duplicate", "accepted"]
    card = client.get(f"/persons/{merged.merged_into_id}")
    assert 'id="merges-panel"' in card.text and "Unmerge" in card.text
    merges = client.get(f"/persons/{merged.merged_into_id}/merges")
    assert "Unmerge" in merges.text
    token = web.csrf_from(merges.text)
    form = re.search(r'action="(/merges/\d+/unmerge)"', merges.text)
    assert form is not None
    undone = client.post(form.group(1), data={"csrf_token": token}, follow_redirects=True)
    assert undone.status_code == 200 and "undone" in undone.text
    with unit_of_work(factory) as s:
        assert s.get(Person, merged.id).merged_into_id is None  # type: ignore[union-attr]


def test_analyst_sees_the_queue_but_cannot_decide(
    logged_in: Callable[..., TestClient], factory: sessionmaker[Session], web: SimpleNamespace
) -> None:
    first, _ = _pairs(factory)
    client = logged_in("analyst")
    page = client.get(f"/duplicates/{first}")
    assert page.status_code == 200 and 'data-key="a"' not in page.text
    token = web.csrf_from(page.text)
    response = client.post(f"/duplicates/{first}/decide",
                           data={"decision": "accept", "csrf_token": token})  # fmt: skip
    assert response.status_code == 403


def test_plotly_is_served_from_the_python_package(logged_in: Callable[..., TestClient]) -> None:
    client = logged_in("agent")
    response = client.get("/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "plotly" in response.text[:2000].lower()
    assert client.get("/static/dedupe.js").status_code == 200
