"""From the card: record a consent with its proof, add a task and an appointment."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.automation.models import Appointment, Task
from closedloop.consent.models import ConsentCurrent, ConsentEvent
from closedloop.db.uow import unit_of_work
from closedloop.users.models import AuditEvent


def test_staff_record_a_consent_with_its_proof_from_the_card(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    pid = people["Dupont"]
    logged_in("agent")
    card = client.get(f"/persons/{pid}").text
    assert f'href="/persons/{pid}/consents/new"' in card
    form = client.get(f"/persons/{pid}/consents/new")
    assert form.status_code == 200
    token = web.csrf_from(form.text)
    fields = {
        "csrf_token": token,
        "channel": "sms",
        "purpose": "marketing",
        "state": "granted",
        "method": "agent",
        "proof_text": "",
    }
    refused = client.post(f"/persons/{pid}/consents", data=fields)
    assert refused.status_code == 422 and "A consent needs its proof" in refused.text
    assert 'aria-invalid="true"' in refused.text
    fields["proof_text"] = "I agree to receive offers by SMS; reply STOP to end them."
    done = client.post(f"/persons/{pid}/consents", data=fields, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/persons/{pid}#consents"
    card = client.get(f"/persons/{pid}").text
    assert "The consent was recorded." in card and "reply STOP to end them" in card
    with unit_of_work(factory) as s:
        event = s.scalars(select(ConsentEvent).where(ConsentEvent.person_id == pid)).one()
        recorded = (event.channel, event.state, event.method, event.recorded_by)
        assert recorded == ("sms", "granted", "agent", "agent")
        current = s.get(ConsentCurrent, (pid, "sms", "marketing"))
        assert current is not None and current.state == "granted"
        audited = select(AuditEvent.action).where(AuditEvent.action == "consent_recorded")
        assert s.scalars(audited).one()
    # A withdrawal needs no proof text.
    fields.update(state="withdrawn", proof_text="", method="paper")
    assert client.post(f"/persons/{pid}/consents", data=fields).status_code == 200
    with unit_of_work(factory) as s:
        current = s.get(ConsentCurrent, (pid, "sms", "marketing"))
        assert current is not None and current.state == "withdrawn"


def test_staff_add_a_task_and_an_appointment_from_the_card(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    pid = people["Dupont"]
    logged_in("marketer")
    page = client.get(f"/persons/{pid}/plan")
    token = web.csrf_from(page.text)
    empty = client.post(
        f"/persons/{pid}/tasks", data={"csrf_token": token, "kind": "call", "title": " "}
    )
    assert empty.status_code == 422 and "say what is to be done" in empty.text
    task_fields = {"csrf_token": token, "kind": "call", "title": "Call about the renewal"}
    added = client.post(f"/persons/{pid}/tasks", data={**task_fields, "due": "2026-12-24"})
    assert added.status_code == 200 and "The task was added." in added.text
    assert "Call about the renewal" in added.text
    met = client.post(
        f"/persons/{pid}/appointments",
        data={
            "csrf_token": token,
            "subject": "Visit at the shop",
            "day": "2026-12-28",
            "time": "14:30",
            "location": "Paris 11e",
        },
    )
    assert met.status_code == 200 and "Visit at the shop" in met.text and "Paris 11e" in met.text
    with unit_of_work(factory) as s:
        task = s.scalars(select(Task)).one()
        appointment = s.scalars(select(Appointment)).one()
        assert (task.person_id, task.kind, task.status) == (pid, "call", "open")
        assert appointment.person_id == pid and appointment.starts_at is not None


def test_an_analyst_may_not_record_consents_nor_plan(
    client: TestClient, logged_in: Callable[..., TestClient], people: dict[str, int]
) -> None:
    pid = people["Dupont"]
    logged_in("analyst")
    assert 'id="record-consent"' not in client.get(f"/persons/{pid}").text
    assert client.get(f"/persons/{pid}/consents/new").status_code == 403
    assert client.get(f"/persons/{pid}/plan").status_code == 403
