"""The duplicate review pages: queue, side by side with the waterfall, decisions with CSRF,
roles, Plotly served from the package, unmerge."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from types import SimpleNamespace

import plotly
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts_service
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.models import DuplicateCandidate
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending
from closedloop.web.routes.vendor import PLOTLY_URL, plotly_path


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
    assert (
        figure["data"][0]["type"] == "waterfall"
        and figure["data"][0]["x"][0] == "Starting odds (prior)"
    )
    assert f'src="{PLOTLY_URL}"' in page.text and 'data-key="n"' in page.text
    # Plotly's layers are positioned by its inline styles: allowed here, scripts stay 'self'.
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self' 'unsafe-inline'" in csp
    # The decisions come before the chart, outside its box.
    assert page.text.index('id="decision-form"') < page.text.index('id="waterfall"')
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
    link = re.search(r'href="(/merges/(\d+)/unmerge)[^"]*"', merges.text)
    assert link is not None
    unmerge_path = link.group(1)
    # Unmerging asks first: a post without the confirmation changes nothing.
    token = web.csrf_from(merges.text)
    asked = client.post(unmerge_path, data={"csrf_token": token}, follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == unmerge_path
    with unit_of_work(factory) as s:
        assert s.get(Person, merged.id).merged_into_id is not None  # type: ignore[union-attr]
    confirm = client.get(unmerge_path)
    assert confirm.status_code == 200 and "Undo this merge?" in confirm.text
    assert "stays in the duplicate review" in confirm.text
    undone = client.post(
        unmerge_path,
        data={"csrf_token": web.csrf_from(confirm.text), "confirm": "1"},
        follow_redirects=False,
    )
    # The pair opens again, kept apart, with its history and the decisions.
    assert undone.status_code == 303 and undone.headers["location"] == f"/duplicates/{second}"
    pair = client.get(f"/duplicates/{second}").text
    assert "The merge was undone." in pair and "then undone on" in pair
    assert "Kept apart (may be proposed again)" in pair and 'data-key="a"' in pair
    with unit_of_work(factory) as s:
        assert s.get(Person, merged.id).merged_into_id is None  # type: ignore[union-attr]
    rejected = client.get("/duplicates", params={"status": "rejected"}).text
    assert f'href="/duplicates/{second}"' in rejected and "undone" in rejected


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


def test_plotly_is_served_once_from_the_python_package_long_cached_and_compressed(
    client: TestClient,
) -> None:
    """One address for every chart page, named after the version: cached for a year,
    gzip-compressed for browsers that accept it, the same bytes as the package's file."""
    assert f"/vendor/plotly-{plotly.__version__}.min.js" == PLOTLY_URL
    packed = client.get(PLOTLY_URL, headers={"Accept-Encoding": "gzip"})
    assert packed.status_code == 200  # public: no login needed for a library
    assert packed.headers["content-type"].startswith("text/javascript")
    assert packed.headers["content-encoding"] == "gzip"
    assert "immutable" in packed.headers["cache-control"]
    assert "max-age=31536000" in packed.headers["cache-control"]
    assert packed.headers["vary"] == "Accept-Encoding"
    assert int(packed.headers["content-length"]) < plotly_path().stat().st_size / 2
    assert packed.content == plotly_path().read_bytes()  # httpx decoded it
    plain = client.get(PLOTLY_URL, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and "plotly" in plain.text[:2000].lower()
    assert client.get("/vendor/plotly-0.0.1.min.js").status_code == 404
    assert client.get("/static/dedupe.js").status_code == 200


def test_an_edit_that_makes_a_duplicate_warns_with_links(
    logged_in: Callable[..., TestClient], factory: sessionmaker[Session], web: SimpleNamespace
) -> None:
    with unit_of_work(factory) as s:
        jean = contacts_service.create_person(s, PersonCreate.model_validate(
            {"given_name": "Jean", "family_name": "Dupont", "birth_date": "1971-03-14",
             "emails": [{"address": "jean.dupont@example.com"}]})).id  # fmt: skip
        namesake = {"given_name": "Jean", "family_name": "Dupond", "birth_date": "1950-01-01"}
        other = contacts_service.create_person(s, PersonCreate.model_validate(namesake)).id
    client = logged_in("agent")
    card = client.get(f"/persons/{other}")
    assert 'id="possible-duplicates"' not in card.text  # a namesake born 21 years apart
    data = web.edit_form(client, other)
    data.update(birth_date="1971-03-14", email="jean.dupont@example.com")
    saved = client.post(f"/persons/{other}/edit", data=data, follow_redirects=True)
    assert saved.status_code == 200
    assert "This person may be a duplicate" in saved.text
    warning = re.search(r'id="possible-duplicates".*?</div>', saved.text, re.S)
    assert warning is not None, saved.text
    assert f'href="/persons/{jean}"' in warning.group(0) and "Jean Dupont" in warning.group(0)
    with unit_of_work(factory) as s:
        pair = s.scalars(select(DuplicateCandidate)).one()
    assert f'href="/duplicates/{pair.id}"' in warning.group(0)
    review = client.get(f"/duplicates/{pair.id}")
    assert review.status_code == 200
    # Once decided, the warning is gone.
    token = web.csrf_from(review.text)
    client.post(f"/duplicates/{pair.id}/decide",
                data={"decision": "not_duplicate", "csrf_token": token})  # fmt: skip
    assert 'id="possible-duplicates"' not in client.get(f"/persons/{other}").text


def test_the_run_button_queues_a_job_and_the_page_follows_it(
    logged_in: Callable[..., TestClient],
    factory: sessionmaker[Session],
    engine: Engine,
    web: SimpleNamespace,
) -> None:
    _pairs(factory)
    client = logged_in("agent")
    page = client.get("/duplicates")
    assert 'action="/duplicates/run"' in page.text and "http-equiv" not in page.text
    assert client.post("/duplicates/run", data={}).status_code == 403  # no CSRF token
    token = web.csrf_from(page.text)
    started = client.post("/duplicates/run", data={"csrf_token": token}, follow_redirects=True)
    assert started.status_code == 200
    assert "The duplicate search was started" in started.text
    # Queued, not run in the request: the page refreshes itself and offers no second run.
    assert '<meta http-equiv="refresh"' in started.text
    assert 'action="/duplicates/run"' not in started.text
    with unit_of_work(factory) as s:
        job = s.scalars(select(Job).where(Job.kind == "dedupe.run")).one()
        assert job.status == "queued" and job.created_by == "agent"
        assert s.scalar(select(DuplicateCandidate).where(
            DuplicateCandidate.origin == "batch")) is None  # fmt: skip
    assert run_pending(engine) >= 1
    done = client.get("/duplicates?status=auto_merged")
    assert "http-equiv" not in done.text
    status = re.search(r'id="dedupe-run-status">(.*?)</p>', done.text, re.S)
    assert status is not None and "is finished" in status.group(1)
    assert re.search(r"\d+ merges, \d+ pairs to review", status.group(1))
    with unit_of_work(factory) as s:
        ran = s.get(Job, job.id)
        assert ran is not None and ran.status == "done" and ran.result is not None
        assert ran.result["persons"] == 4 and ran.result["merges"] == 2


def test_an_analyst_cannot_start_a_run(
    logged_in: Callable[..., TestClient], factory: sessionmaker[Session], web: SimpleNamespace
) -> None:
    client = logged_in("analyst")
    page = client.get("/duplicates")
    assert 'action="/duplicates/run"' not in page.text
    token = web.csrf_from(page.text)
    assert client.post("/duplicates/run", data={"csrf_token": token}).status_code == 403
    with unit_of_work(factory) as s:
        assert s.scalars(select(Job)).all() == []
