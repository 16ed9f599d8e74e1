"""The evaluation page: verdict, charts and tables of a planted campaign; the one-click
segment of its responders; roles; unknown campaigns."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.evaluation.plant import Arm, plant

from closedloop.segments import Segment


def _campaign(factory: sessionmaker[Session], *, effect: bool = True) -> int:
    with factory() as session:
        arms = [
            Arm("A", 600, 0.3 if effect else 0.1, click_rate=0.2),
            Arm("CTL", 600, 0.1, is_control=True),
        ]
        planted = plant(session, arms)
        session.commit()
        return planted.campaign_id


def test_page_shows_verdict_charts_and_tables(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    campaign_id = _campaign(factory)
    logged_in("analyst")
    campaign_page = client.get(f"/campaigns/{campaign_id}").text
    assert f'href="/campaigns/{campaign_id}/report" id="evaluation-link"' in campaign_page
    page = client.get(f"/campaigns/{campaign_id}/report")
    assert page.status_code == 200, page.text
    assert "the campaign worked" in page.text
    figures = [
        json.loads(html.unescape(f)) for f in re.findall(r'data-figure="([^"]*)"', page.text)
    ]
    assert len(figures) == 3
    funnel = figures[0]["data"][0]
    assert funnel["name"] == "A Cell A" and funnel["y"][0] == 600  # contacted
    assert "Cell A" in page.text and "control" in page.text and "last-touch" in page.text
    assert "Make a segment" not in page.text  # analysts read; marketers make segments
    linear = client.get(f"/campaigns/{campaign_id}/report?rule=linear")
    assert linear.status_code == 200 and "attribution: linear" in linear.text
    assert client.get(f"/campaigns/{campaign_id}/report?rule=u-shaped").status_code == 400
    assert client.get("/campaigns/987654/report").status_code == 404


def test_no_effect_page_says_so(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    campaign_id = _campaign(factory, effect=False)
    logged_in("analyst")
    page = client.get(f"/campaigns/{campaign_id}/report")
    assert "no measurable effect: direct marketing failed here" in page.text


def test_responders_become_a_segment_in_one_click(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    web: SimpleNamespace,
    factory: sessionmaker[Session],
) -> None:
    campaign_id = _campaign(factory)
    logged_in("marketer")
    url = f"/campaigns/{campaign_id}/report"
    token = web.page_token(client, url)
    form = {"group": "responders", "name": "Spring responders", "cell": "", "csrf_token": token}
    made = client.post(f"{url}/segments", data=form, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == url
    page = client.get(url).text
    assert "Segment Spring responders made" in page
    with factory() as session:
        segment = session.scalars(select(Segment).where(Segment.name == "Spring responders")).one()
        assert segment.frozen_count and segment.frozen_count > 100
        assert segment.origin == {
            "source": "evaluation",
            "campaign_id": campaign_id,
            "campaign": "SPRING",
            "group": "responders",
        }
    again = client.post(f"{url}/segments", data=form, follow_redirects=False)
    assert again.status_code == 303
    assert "exists already" in client.get(url).text


def test_agents_may_not_see_evaluations(
    client: TestClient, logged_in: Callable[..., TestClient], factory: sessionmaker[Session]
) -> None:
    campaign_id = _campaign(factory)
    logged_in("agent")
    assert client.get(f"/campaigns/{campaign_id}/report").status_code == 403
