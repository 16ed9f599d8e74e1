"""The campaign pages: a marketer creates a campaign with the form, another approves and
launches it; the page shows the mix, the funnel and the sending progress; the calendar shows
the wave and its feed opens with an API token; errors name their field."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import email_template, person

from closedloop.campaigns.models import Offer
from closedloop.db.uow import unit_of_work
from closedloop.segments import freeze_members


def _base(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as s:
        email_template(s, code="web-mail")
        s.add(Offer(code="CLUB", name="Book club", price=Decimal("19.90")))
        return freeze_members(s, "Readers", [person(s, i) for i in range(3)], {"k": "t"}).id


FORM = {"code": "WEB", "name": "From the browser", "objective": "Grow the club", "offer": "CLUB",
        "budget": "120", "cost_per_contact": "0.04", "starts_on": "2027-09-01",
        "ends_on": "2027-09-30", "priority": "100",
        "waves-0-name": "Wave 1", "waves-0-scheduled_at": "", "waves-0-expected_volume": "3",
        "cells-0-code": "A", "cells-0-name": "Email A", "cells-0-kind": "treatment",
        "cells-0-channel": "email", "cells-0-template": "web-mail", "cells-0-price": "15",
        "cells-0-share": "90",
        "cells-1-code": "CONTROL", "cells-1-name": "Control group", "cells-1-kind": "control",
        "cells-1-channel": "email", "cells-1-share": "10"}  # fmt: skip


def test_create_approve_launch_and_follow(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    segment = _base(factory)
    client = logged_in("marketer")
    assert 'href="/campaigns"' in client.get("/").text
    token = web.page_token(client, "/campaigns/new")
    made = client.post("/campaigns/new", data=FORM | {"segment_id": str(segment),
                       "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert made.status_code == 303, made.text
    page_url = made.headers["location"]
    page = client.get(page_url).text
    assert "Grow the club" in page and "web-mail v1" in page and "control group" in page
    assert "The campaign is created as a draft." in page
    approved = client.post(f"{page_url}/approve", data={"csrf_token": token})
    assert "The campaign is approved." in approved.text
    launched = client.post(f"{page_url}/launch", data={"csrf_token": token})
    assert "The campaign is launched." in launched.text
    assert 'id="funnel-' in launched.text and "<progress" in launched.text
    assert "of 3 settled" in launched.text or "of 2 settled" in launched.text
    assert '<meta http-equiv="refresh"' in launched.text  # progress refreshes while running
    listed = client.get("/campaigns?status=running").text
    assert "WEB" in listed and '<option value="completed"' in listed
    again = client.post(f"{page_url}/launch", data={"csrf_token": token})
    assert "is running: it cannot be launched" in again.text  # refused, said on the page


def test_the_form_names_bad_fields(
    logged_in: Callable[..., TestClient], web: Any, factory: sessionmaker[Session]
) -> None:
    _base(factory)
    client = logged_in("marketer")
    token = web.page_token(client, "/campaigns/new")
    bad = client.post("/campaigns/new", data=FORM | {"csrf_token": token, "budget": "lots",
                      "code": "bad code"})  # fmt: skip
    assert bad.status_code == 422
    assert 'id="budget-error"' in bad.text and "Enter a number." in bad.text
    wrong = client.post("/campaigns/new", data=FORM | {"csrf_token": token, "offer": "NOPE"})
    assert wrong.status_code == 422 and "no offer with code" in wrong.text


def test_the_calendar_and_its_feed(
    logged_in: Callable[..., TestClient],
    web: Any,
    factory: sessionmaker[Session],
    make_token: Callable[..., str],
    client: TestClient,
) -> None:
    _base(factory)
    browser = logged_in("analyst")
    assert browser.get("/campaigns/new").status_code == 403
    marketer = logged_in("marketer", "maria")
    token = web.page_token(marketer, "/campaigns/new")
    data = FORM | {"csrf_token": token, "waves-0-scheduled_at": "2027-09-02T10:00"}
    assert marketer.post("/campaigns/new", data=data, follow_redirects=False).status_code == 303
    month = marketer.get("/campaigns/calendar?month=2027-09").text
    assert 'id="day-2027-09-02"' in month and "WEB" in month and "Email 3" in month
    week = marketer.get("/campaigns/calendar?week=2027-09-02").text
    assert "2027-08-30" in week and "WEB" in week
    marketer.cookies.clear()
    feed = marketer.get("/campaigns/calendar.ics", params={"token": make_token("cal", "analyst"),
                                                            "days": 400})  # fmt: skip
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert "SUMMARY:WEB: Wave 1 (draft)" in feed.text
    refused = marketer.get("/campaigns/calendar.ics", params={"token": "nope"},
                           follow_redirects=False)  # fmt: skip
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    agent = marketer.get("/campaigns/calendar.ics", params={"token": make_token("ag", "agent")})
    assert agent.status_code == 403
