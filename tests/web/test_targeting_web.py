"""The targeting pages: "Find clusters" queues a job whose result is drawn and whose clusters
become segments in one click; propensity with its charts; recommendations; markets and the
comparison of two segments; who may see what."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from html import unescape
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.targeting.test_propensity import _biggest_category

from closedloop.demo.seed import seed_demo
from closedloop.jobs.service import run_pending
from closedloop.segments.models import Segment
from closedloop.transactions.models import Order

FIGURE = re.compile(r'data-figure="([^"]*)"')


def _figures(html: str) -> list[dict[str, object]]:
    return [json.loads(unescape(m)) for m in FIGURE.findall(html)]


def test_targeting_pages_end_to_end(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace,
    engine: Engine, factory: sessionmaker[Session],
) -> None:  # fmt: skip
    seed_demo(engine, 500, 5, today=date(2026, 11, 22))
    with factory() as s:
        category = _biggest_category(s)
        buyer = s.scalars(select(Order.person_id).limit(1)).one()

    logged_in("agent")
    assert client.get("/targeting/clusters").status_code == 403
    assert 'href="/targeting"' not in client.get("/persons").text
    client.cookies.clear()

    logged_in("marketer")
    page = client.get("/targeting/clusters")
    assert page.status_code == 200 and "No clustering has finished yet." in page.text
    assert "script-src" in page.headers["Content-Security-Policy"]
    token = web.page_token(client, "/targeting/clusters")
    started = client.post("/targeting/clusters", data={"csrf_token": token},
                          follow_redirects=False)  # fmt: skip
    assert started.status_code == 303
    running = client.get("/targeting/clusters").text
    assert "data-refresh-seconds" in running and "Find clusters" not in running
    assert run_pending(engine, kinds=["targeting.clusters"]) == 1
    done = client.get("/targeting/clusters").text
    assert "Find clusters" in done and "data-refresh-seconds" not in done
    (bubbles,) = _figures(done)
    names = bubbles["data"][0]["text"]  # type: ignore[index]
    assert len(names) >= 2 and all(n.endswith("buyers") for n in names)
    job_id = re.search(r'action="/targeting/clusters/(\d+)/segments"', done).group(1)  # type: ignore[union-attr]
    saved = client.post(f"/targeting/clusters/{job_id}/segments",
                        data={"csrf_token": token, "cluster": "1", "name": "Best cluster"},
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"].startswith("/segments/")
    with factory() as s:
        seg = s.scalars(select(Segment).where(Segment.name == "Best cluster")).one()
        assert seg.kind == "snapshot" and seg.frozen_count and seg.frozen_count > 0

    form = {"csrf_token": token, "category": category, "horizon": "180", "top": "30",
            "segment": "Likely buyers"}  # fmt: skip
    assert (
        client.post("/targeting/propensity", data=form, follow_redirects=False).status_code == 303
    )
    assert run_pending(engine, kinds=["targeting.propensity"]) == 1
    html = client.get("/targeting/propensity").text
    assert "AUC out of time" in html and "Likely buyers" in html
    lift, calibration = _figures(html)
    assert len(lift["data"][0]["y"]) == 10  # type: ignore[index]
    assert calibration["layout"]["title"]["text"].startswith("Calibration")  # type: ignore[index]
    bad = client.post("/targeting/propensity", data={"csrf_token": token, "category": "nope"})
    assert "Unknown category" in unescape(bad.text)

    recs = client.get(f"/targeting/recommendations?person={buyer}").text
    assert f"For person {buyer}" in recs and recs.count("<li>") >= 5
    assert "does not exist" in client.get("/targeting/recommendations?person=99999999").text

    markets = client.get(f"/targeting/markets?category={category}").text
    assert "Score per market" in markets and len(_figures(markets)) == 1
    compared = client.get(f"/targeting/markets?first={seg.id}&second=Likely+buyers").text
    assert "Cohen" in compared and "Best cluster" in compared
    client.cookies.clear()

    logged_in("analyst")
    page = client.get("/targeting/clusters").text
    assert "Find clusters" in page and "Save as segment" not in page
    assert 'id="f-segment"' not in client.get("/targeting/propensity").text
