"""Abuse limits: heavy jobs one at a time, a per-user rate of job creation in the API, and
the "send me a fresh link" form throttled per address and per client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from closedloop.consent.tokens import TokenPurpose, make_token
from closedloop.contacts import service as contacts
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict
from closedloop.jobs import guards
from closedloop.jobs.models import Job
from closedloop.jobs.service import cancel, enqueue, requeue
from closedloop.settings import get_settings

RUNS = "/api/v1/dedupe/runs"


def _jobs(factory: sessionmaker[Session], kind: str) -> list[Job]:
    with factory() as s:
        return list(s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def test_a_second_dedupe_run_is_refused_while_one_is_queued(
    client: TestClient, auth: Callable[..., dict[str, str]], factory: sessionmaker[Session]
) -> None:
    agent = auth("agent")
    first = client.post(RUNS, headers=agent, json={})
    assert first.status_code == 202, first.text
    for _ in range(3):
        again = client.post(RUNS, headers=agent, json={})
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert f"already queued (job {first.json()['job_id']})" in again.json()["detail"]
    assert len(_jobs(factory, "dedupe.run")) == 1
    with unit_of_work(factory) as s:  # once it is cancelled, a new one may be queued
        cancel(s, first.json()["job_id"])
    assert client.post(RUNS, headers=agent, json={}).status_code == 202


@pytest.mark.parametrize("kind", ["dedupe.run", "scoring.run", "ingest.run"])
def test_every_heavy_kind_is_declared_one_at_a_time(
    factory: sessionmaker[Session], kind: str
) -> None:
    assert guards.is_one_at_a_time(kind)
    with unit_of_work(factory) as s:
        enqueue(s, kind, {})
    with unit_of_work(factory) as s, pytest.raises(Conflict, match="already queued"):
        enqueue(s, kind, {})


def test_rerunning_a_failed_heavy_job_waits_for_the_active_one(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        old = enqueue(s, "dedupe.run", {}).id
    with unit_of_work(factory) as s:
        cancel(s, old)
        new = enqueue(s, "dedupe.run", {}).id
    with unit_of_work(factory) as s, pytest.raises(Conflict, match=f"job {new}"):
        requeue(s, old)


def test_the_store_refuses_a_second_active_job_even_without_the_check(
    factory: sessionmaker[Session],
) -> None:
    """Two requests racing past the check: the partial unique index stops the second."""
    with unit_of_work(factory) as s:
        enqueue(s, "dedupe.run", {})
    with factory() as s, pytest.raises(IntegrityError):
        s.add(Job(kind="dedupe.run", status="queued", payload={}, exclusive=True))
        s.flush()


def test_api_job_creation_is_rate_limited_per_user(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOSEDLOOP_JOB_RATE_LIMIT", "3")
    get_settings.cache_clear()
    try:
        marketer, other = auth("marketer"), auth("agent")
        with unit_of_work(factory) as s:
            job_id = enqueue(s, "echo.never", {}).id
            cancel(s, job_id)
        answers = [client.post(f"/api/v1/jobs/{job_id}/retry", headers=marketer) for _ in range(4)]
        # Marketers may not manage jobs: refused, and counted all the same.
        assert [a.status_code for a in answers[:3]] == [403, 403, 403]
        limited = answers[3]
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["Retry-After"]) <= 600
        body = limited.json()
        assert body["type"] == "/api/v1/problems/too-many-requests"
        assert "at most 3 per 10 minute(s)" in body["detail"]
        # Another user is not affected.
        assert client.post(RUNS, headers=other, json={}).status_code == 202
    finally:
        get_settings.cache_clear()


def _ask(client: TestClient, email: str) -> Any:
    ticket = make_token(TokenPurpose.FORM_TICKET, {"f": 0})
    return client.post("/preferences-link", data={"ticket": ticket, "email": email})


def test_the_fresh_link_form_cannot_flood_an_inbox(
    client: TestClient, engine: Engine, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        contacts.create_person(
            s, PersonCreate.model_validate({"emails": [{"address": "lea@example.org"}]})
        )
    per_address = get_settings().fresh_link_per_address
    known = [_ask(client, "lea@example.org") for _ in range(per_address + 2)]
    unknown = [_ask(client, "nobody@example.org") for _ in range(per_address + 2)]
    # Every answer is the same page, throttled or not, known address or not.
    assert {(a.status_code, a.text) for a in known + unknown} == {(200, known[0].text)}
    with factory() as s:
        queued = s.scalars(select(Job.payload).where(Job.kind == "signup.fresh_link")).all()
    emails = [p["email"] for p in queued]
    assert emails.count("lea@example.org") == emails.count("nobody@example.org") == per_address


def test_one_client_asking_too_often_is_told_to_wait(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    per_client = get_settings().fresh_link_per_client
    answers = [_ask(client, f"someone{i}@example.org") for i in range(per_client + 1)]
    assert {a.status_code for a in answers[:per_client]} == {200}
    assert answers[-1].status_code == 429
    assert "Too many links were asked for" in answers[-1].text
    assert int(answers[-1].headers["Retry-After"]) > 0
    with factory() as s:
        count = s.scalar(
            select(func.count()).select_from(Job).where(Job.kind == "signup.fresh_link")
        )
    assert count == per_client
