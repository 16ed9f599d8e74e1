"""The call desk's pages: an agent takes the next call, sees the card, script and survey,
records an outcome with answers; bad forms are refused naming the field; other roles."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.responses.calls import phone_wave

from closedloop.campaigns.models import Communication
from closedloop.db.uow import unit_of_work
from closedloop.responses.models import Answer, Response


def _text(html: str) -> str:
    """The page's words as the agent reads them (tags dropped, entities decoded)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _take(client: TestClient, web: SimpleNamespace) -> str:
    token = web.page_token(client, "/desk")
    got = client.post("/desk/next", data={"csrf_token": token}, follow_redirects=False)
    assert got.status_code == 303
    return str(got.headers["location"])


def test_agent_works_a_call_with_its_survey(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    with unit_of_work(factory) as s:
        setup = phone_wave(s, 2, survey=True)
    logged_in("agent", "ann")
    desk = _text(client.get("/desk").text)
    assert "Calls done today 0 / 80" in desk and "Waiting to be called 2" in desk
    where = _take(client, web)
    assert re.fullmatch(r"/desk/calls/\d+", where)
    call_id = int(where.rsplit("/", 1)[1])
    page = client.get(where)
    assert page.status_code == 200
    text = _text(page.text)
    assert "Hello Ann, this is the book club: Book club for you." in text
    assert "+33 6 12 34 00 00" in text and "Would you recommend us?" in text
    assert "reader0@example.org" not in page.text  # the desk shows no email address
    token = web.csrf_from(page.text)
    # An NPS of 11 is refused, naming the question; nothing is stored.
    bad = client.post(where, data={"csrf_token": token, "outcome": "interested", "nps": "11"})
    assert bad.status_code == 422 and "outside the scale" in bad.text
    assert 'id="err-nps"' in bad.text
    # A call back without a time, and a made-up outcome.
    assert (
        "call_back_at-error"
        in client.post(where, data={"csrf_token": token, "outcome": "call_back"}).text
    )
    assert client.post(where, data={"csrf_token": token, "outcome": "maybe"}).status_code == 422
    with factory() as s:
        assert s.scalar(select(Response.id)) is None
    done = client.post(
        where,
        data={
            "csrf_token": token,
            "outcome": "interested",
            "nps": "9",
            "genre": "Poetry",
            "note": "wants the catalogue",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/desk"
    assert "The call's outcome is recorded." in _text(client.get("/desk").text)
    assert "Calls done today 1 / 80" in _text(client.get("/desk").text)
    with factory() as s:
        kinds = sorted((r.kind, r.communication_id) for r in s.scalars(select(Response)).all())
        assert kinds == [("call", call_id), ("survey", call_id)]
        assert sorted(
            (a.answer_number is not None, a.answer_choice) for a in s.scalars(select(Answer)).all()
        ) == [(False, "Poetry"), (True, None)]
        assert s.scalar(select(Communication.status).where(Communication.id == call_id)) == "sent"
    # The card of the person shows the call on the timeline (for any reader of persons).
    card = client.get(f"/persons/{setup.person_ids[0]}").text
    assert "wants the catalogue" in card or "Call" in card


def test_call_back_from_the_page_and_roles(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    factory: sessionmaker[Session],
    web: SimpleNamespace,
) -> None:
    with unit_of_work(factory) as s:
        phone_wave(s, 1)
    logged_in("agent", "ann")
    where = _take(client, web)
    token = web.page_token(client, where)
    soon = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    late = client.post(
        where,
        data={"csrf_token": token, "outcome": "call_back", "call_back_at": "2099-01-05T14:30"},
    )
    assert late.status_code == 422 and "not in the next 90 days" in late.text
    done = client.post(
        where,
        data={"csrf_token": token, "outcome": "call_back", "call_back_at": soon},
    )
    assert "The person is due again later." in done.text
    # Nobody else to call now.
    _take(client, web)
    assert "Nobody is waiting to be called." in client.get("/desk").text
    assert client.get("/desk/calls/999999").status_code == 404
    client.cookies.clear()
    logged_in("analyst", "carl")
    assert client.get("/desk").status_code == 403
