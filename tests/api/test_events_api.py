"""``/api/v1/events``: create (bad input named), list, read with counts, answers and
check-ins by role, the attendance list filtered."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import wave
from tests.integration.events.setup import invited

from closedloop.db.uow import unit_of_work

EVENTS = "/api/v1/events"
Auth = Callable[..., dict[str, str]]


def test_create_list_and_read(
    client: TestClient, admin: dict[str, str], factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 1, code="FAIR")
    body = {
        "code": "FAIR27", "name": "Book fair", "campaign_id": setup.campaign_id,
        "starts_at": "2027-01-20T10:00", "ends_at": "2027-01-20T18:00",
        "timezone": "Europe/Paris", "online_url": "https://meet.example.com/fair",
        "capacity": 100,
    }  # fmt: skip
    made = client.post(EVENTS, json=body, headers=admin)
    assert made.status_code == 201, made.text
    doc = made.json()
    assert (
        doc["starts_at"] == "2027-01-20T09:00:00+00:00" and doc["counts"]["invited"] == 0
    )  # queued, not sent
    again = client.post(EVENTS, json=body, headers=admin)
    assert again.status_code == 409
    bad = client.post(EVENTS, json={**body, "code": "X", "ends_at": "2027-01-19T10:00"},
                      headers=admin)  # fmt: skip
    assert bad.status_code == 422 and "end after it starts" in bad.text
    assert [e["code"] for e in client.get(EVENTS, headers=admin).json()] == ["FAIR27"]
    assert client.get(f"{EVENTS}/{doc['id']}", headers=admin).json()["capacity"] == 100
    assert client.get(f"{EVENTS}/999999", headers=admin).status_code == 404


def test_answers_check_ins_and_attendees_by_role(
    client: TestClient, auth: Auth, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        made = invited(s, 3)
    agent, analyst, marketer = auth("agent"), auth("analyst"), auth("marketer")
    url = f"{EVENTS}/{made.event_id}"
    m = made.messages
    said = [
        client.post(f"{url}/answers", json={"communication_id": c, "answer": "yes"}, headers=agent)
        for c in m
    ]
    assert [r.json()["answer"] for r in said] == ["yes", "yes", "waitlist"]
    wrong = client.post(f"{url}/answers", json={"communication_id": m[0], "answer": "attended"},
                        headers=agent)  # fmt: skip
    assert wrong.status_code == 422
    assert client.post(f"{url}/checkins", json={"person_id": made.person_ids[0]},
                       headers=analyst).status_code == 403  # fmt: skip
    first = client.post(f"{url}/checkins", json={"communication_id": m[0]}, headers=agent)
    twice = client.post(f"{url}/checkins", json={"person_id": made.person_ids[0]}, headers=agent)
    assert first.json() == {"person_id": made.person_ids[0], "already": False}
    assert twice.json() == {"person_id": made.person_ids[0], "already": True}
    empty = client.post(f"{url}/checkins", json={}, headers=agent)
    assert empty.status_code == 422
    seen = client.get(f"{url}/attendees", headers=analyst).json()
    assert seen["counts"]["yes"] == 2 and seen["counts"]["attended"] == 1
    assert seen["seats_taken"] == 2 and seen["capacity"] == 2
    came = client.get(f"{url}/attendees", params={"state": "attended"}, headers=marketer).json()
    assert [r["person_id"] for r in came["rows"]] == [made.person_ids[0]]
    assert client.get(f"{url}/attendees", headers=agent).status_code == 200  # persons:read
    assert client.post(EVENTS, json={}, headers=agent).status_code == 403  # campaigns:write
