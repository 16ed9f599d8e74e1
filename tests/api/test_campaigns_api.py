"""``/api/v1/campaigns``: create, approve by another marketer, launch, pause, resume, send,
status, edit while running (a new version), cancel, the calendar; bad input and roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import email_template, person

from closedloop.campaigns.models import Offer
from closedloop.db.uow import unit_of_work
from closedloop.jobs.models import Job
from closedloop.segments import freeze_members
from closedloop.settings import get_settings

URL = "/api/v1/campaigns"


@pytest.fixture()
def four_eyes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CLOSEDLOOP_CAMPAIGN_APPROVAL_BY_OTHER", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _campaign(factory: sessionmaker[Session]) -> dict[str, Any]:
    with unit_of_work(factory) as s:
        email_template(s, code="api-mail")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
        segment = freeze_members(s, "Readers", [person(s, i) for i in range(2)], {"k": "t"})
    return {
        "code": "API",
        "name": "Through the API",
        "segment_id": segment.id,
        "starts_on": "2027-06-01",
        "waves": [{"name": "Now", "expected_volume": 2}],
        "cells": [{"code": "A", "name": "Mail", "channel": "email", "template": "api-mail",
                   "offer": "CLUB"}],
    }  # fmt: skip


def test_the_life_of_a_campaign(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    factory: sessionmaker[Session],
    four_eyes: None,
) -> None:
    alice, bob = auth("marketer", "alice"), auth("marketer", "bob")
    created = client.post(URL, json=_campaign(factory), headers=alice)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert created.json()["created_by"] == "alice"
    own = client.post(f"{URL}/{cid}/approve", headers=alice)
    assert own.status_code == 409 and "other than its author" in own.json()["detail"]
    approved = client.post(f"{URL}/{cid}/approve", headers=bob)
    assert approved.json()["approved_by"] == "bob"
    launched = client.post(f"{URL}/{cid}/launch", headers=bob).json()
    assert launched["status"] == "running" and launched["started"][0]["queued"] == 2
    assert client.post(f"{URL}/{cid}/pause", headers=bob).json()["status"] == "paused"
    assert client.post(f"{URL}/{cid}/send", headers=bob).status_code == 409
    assert client.post(f"{URL}/{cid}/resume", headers=bob).json()["status"] == "running"
    sent = client.post(f"{URL}/{cid}/send", headers=bob)
    assert sent.status_code == 202
    [job_id] = sent.json()["jobs"].values()
    with factory() as s:
        assert s.get(Job, job_id) is not None
        assert len(s.scalars(select(Job).where(Job.kind == "campaigns.send")).all()) == 3
    status = client.get(f"{URL}/{cid}/status", headers=bob).json()
    assert status["waves"][0]["messages"] == {"queued": 2} and status["waves"][0]["done"] == 0
    edited = client.patch(f"{URL}/{cid}", json={"objective": "More"}, headers=alice).json()
    assert edited["new_version"] and edited["version"] == 2 and edited["id"] != cid
    assert client.get(f"{URL}/{cid}", headers=bob).json()["objective"] is None
    cancelled = client.post(f"{URL}/{cid}/cancel", headers=bob).json()
    assert cancelled == {"campaign_id": cid, "status": "cancelled", "skipped": 2}
    listed = client.get(URL, params={"status": "draft"}, headers=bob).json()
    assert [(c["code"], c["version"]) for c in listed] == [("API", 2)]
    plan = client.get(f"{URL}/calendar", params={"start": "2027-06-01", "days": 7}, headers=bob)
    # version 2 has no wave: the only one had started (it stays with version 1, cancelled)
    assert [(w["version"], w["wave_status"]) for w in plan.json()["waves"]] == [(1, "cancelled")]


def test_bad_input_names_the_field(
    client: TestClient, auth: Callable[..., dict[str, str]], factory: sessionmaker[Session]
) -> None:
    headers = auth("marketer")
    doc = _campaign(factory)
    bad = client.post(URL, json={**doc, "cells": [{**doc["cells"][0], "template": "nope"}]},
                      headers=headers)  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cells[0].template"
    wrong = client.post(URL, json={**doc, "ends_on": "2027-01-01"}, headers=headers)
    assert wrong.status_code == 422 and "ends_on is before starts_on" in wrong.text
    assert client.get(f"{URL}/999999", headers=headers).status_code == 404


def test_an_analyst_reads_but_does_not_write_or_send(
    client: TestClient, auth: Callable[..., dict[str, str]], factory: sessionmaker[Session]
) -> None:
    cid = client.post(URL, json=_campaign(factory), headers=auth("marketer")).json()["id"]
    analyst = auth("analyst")
    assert client.get(f"{URL}/{cid}", headers=analyst).status_code == 200
    assert client.post(f"{URL}/{cid}/approve", headers=analyst).status_code == 403
    assert client.post(f"{URL}/{cid}/launch", headers=analyst).status_code == 403
    assert client.get(URL, headers=auth("agent")).status_code == 403


def test_a_planned_volume_beyond_the_column_is_refused(
    client: TestClient, auth: Callable[..., dict[str, str]], factory: sessionmaker[Session]
) -> None:
    """Found by schemathesis on PostgreSQL: 23,509,837,859 planned messages gave a 500."""
    body = _campaign(factory)
    body["waves"][0]["expected_volume"] = 2**31
    response = client.post(URL, json=body, headers=auth("marketer", "alice"))
    assert response.status_code == 422 and "expected_volume" in response.text
