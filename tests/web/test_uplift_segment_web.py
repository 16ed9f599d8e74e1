"""The uplift page's "Save as segment": after an uplift analysis the best share of the
campaign's members by predicted uplift becomes a snapshot segment in one click; a bad share
is refused with its reason; a role without campaigns:manage sees no button."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.targeting.test_uplift import _campaign

from closedloop.jobs.service import run_pending
from closedloop.segments.models import Segment, SegmentMember


def test_uplift_page_saves_the_best_share_as_a_segment(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace,
    engine: Engine, factory: sessionmaker[Session],
) -> None:  # fmt: skip
    groups = _campaign(factory)
    logged_in("marketer")
    token = web.page_token(client, "/targeting/uplift")
    started = client.post("/targeting/uplift", data={"csrf_token": token, "campaign": "SUMMER"},
                          follow_redirects=False)  # fmt: skip
    assert started.status_code == 303
    assert "Save as segment" not in client.get("/targeting/uplift").text  # still running
    assert run_pending(engine, kinds=["targeting.uplift"]) == 1
    page = unescape(client.get("/targeting/uplift").text)
    assert "Qini coefficient" in page and "Save as segment" in page
    action = re.search(r'action="(/targeting/uplift/\d+/segments)"', page)
    assert action is not None
    bad = client.post(action.group(1), data={"csrf_token": token, "percent": "0", "name": "x"})
    assert "must be 1 to 100 percent" in unescape(bad.text)
    saved = client.post(action.group(1),
                        data={"csrf_token": token, "percent": "30", "name": "Moved by summer"},
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"].startswith("/segments/")
    assert "Moved by summer" in client.get(saved.headers["location"]).text
    with factory() as s:
        seg = s.scalars(select(Segment).where(Segment.name == "Moved by summer")).one()
        members = set(s.scalars(select(SegmentMember.person_id)
                                .where(SegmentMember.segment_id == seg.id)))  # fmt: skip
        assert seg.kind == "snapshot" and seg.origin["source"] == "uplift"
    assert len(members) == 27 and members <= set(groups["persuadable"])
    twice = {"csrf_token": token, "percent": "30", "name": "Moved by summer"}
    again = client.post(action.group(1), data=twice)
    assert "exists already" in unescape(again.text)
    # A name with a per cent sign and markup, taken already: the error is shown, escaped.
    odd = {"csrf_token": token, "percent": "10", "name": "10% <b>movers</b>"}
    assert client.post(action.group(1), data=odd, follow_redirects=False).status_code == 303
    taken = client.post(action.group(1), data=odd)
    assert taken.status_code == 200 and "exists already" in taken.text
    assert "&lt;b&gt;movers&lt;/b&gt;" in taken.text and "<b>movers</b>" not in taken.text
    client.cookies.clear()

    logged_in("analyst")
    page = client.get("/targeting/uplift").text
    assert "Qini coefficient" in page and "Save as segment" not in page
    other = {
        "csrf_token": web.page_token(client, "/targeting/uplift"),
        "percent": "30",
        "name": "y",
    }
    assert client.post(action.group(1), data=other).status_code == 403
