"""The reports pages: runs and the "Run scoring" button, value and demand charts, the card."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending
from closedloop.scoring import service
from closedloop.scoring.models import PersonScore, ReportSnapshot
from closedloop.scoring.schemas import ScoreParams
from closedloop.transactions.models import Order, OrderLine, Product, ProductCategory
from closedloop.web.routes.vendor import PLOTLY_URL

AS_OF = date(2026, 11, 22)
FIGURE = re.compile(r'data-figure="([^"]*)"')


@pytest.fixture()
def shop_data(factory: sessionmaker[Session]) -> list[int]:
    """150 buyers of two categories over three years (seeded); returns their ids."""
    rng = np.random.default_rng(9)
    ids: list[int] = []
    with unit_of_work(factory) as s:
        books = ProductCategory(code="books", name="Books")
        music = ProductCategory(code="music", name="Music")
        s.add_all([books, music])
        s.flush()
        fiction = ProductCategory(code="books/fiction", name="Fiction", parent_id=books.id)
        s.add(fiction)
        s.flush()
        products = [
            Product(sku="B1", name="Novel", category_id=fiction.id, unit_price=Decimal(15)),
            Product(sku="M1", name="Album", category_id=music.id, unit_price=Decimal(12)),
        ]
        s.add_all(products)
        s.flush()
        for i in range(150):
            person = Person(given_name=f"Client {i}", family_name="Test")
            s.add(person)
            s.flush()
            ids.append(person.id)
            ago = int(rng.integers(30, 1090))
            while ago > 0:
                day = AS_OF - timedelta(days=ago)
                amount = Decimal(str(round(float(rng.gamma(4.0, 12.0)) + 1, 2)))
                order = Order(
                    person_id=person.id,
                    ordered_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                    total_amount=amount,
                    currency="EUR",
                )
                order.lines = [
                    OrderLine(
                        line_no=1,
                        product_id=products[i % 2].id,
                        quantity=Decimal(1),
                        unit_price=amount,
                        amount=amount,
                    )
                ]
                s.add(order)
                if rng.random() < 0.25:
                    break
                ago -= 1 + int(rng.exponential(rng.gamma(1.0, 80.0)))
    return ids


def _wait_done(client: TestClient) -> str:
    for _ in range(300):
        html = client.get("/reports").text
        if "data-refresh-seconds" not in html:
            return html
        time.sleep(0.1)
    raise AssertionError("the run did not finish")


def test_reports_are_for_analytics_roles(
    client: TestClient, logged_in: Callable[..., TestClient]
) -> None:
    logged_in("agent")
    assert client.get("/reports").status_code == 403
    assert 'href="/reports"' not in client.get("/persons").text
    assert 'href="/reports"' not in client.get("/").text
    client.cookies.clear()
    logged_in("analyst")
    assert '<h2><a href="/reports">' in client.get("/").text
    page = client.get("/reports")
    assert page.status_code == 200
    assert 'href="/reports" aria-current="page"' in page.text
    assert "No scoring run yet." in page.text


def test_run_scoring_button_runs_in_the_background(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    web: SimpleNamespace,
    engine: Engine,
    shop_data: list[int],
) -> None:
    logged_in("marketer")
    refused = client.post("/reports/runs", data={"as_of": "2026-11-22"}, follow_redirects=False)
    assert refused.status_code == 403
    token = web.page_token(client, "/reports")
    started = client.post(
        "/reports/runs",
        data={"as_of": "2026-11-22", "csrf_token": token},
        follow_redirects=False,
    )
    assert started.status_code == 303 and started.headers["location"] == "/reports"
    # The button queued a job (no thread of the web process runs it): the page says so.
    queued = client.get("/reports").text
    assert "data-refresh-seconds" in queued
    with Session(engine) as s:
        jobs = s.scalars(select(Job).order_by(Job.id)).all()
        assert [(j.kind, j.status) for j in jobs] == [("scoring.run", "queued")]
    # The worker runs it, then the demand snapshot job it queues.
    assert run_pending(engine) == 2
    html = _wait_done(client)
    assert "Latest run:" in html and "Pareto/NBD" in html and "BG/NBD" in html
    assert "/reports/value?run=" in html
    with Session(engine) as s:
        jobs = s.scalars(select(Job).order_by(Job.id)).all()
        assert [(j.kind, j.status) for j in jobs] == [
            ("scoring.run", "done"),
            ("reports.refresh_demand", "done"),
        ]
        assert jobs[0].progress == 1.0
        snapshot = s.scalars(select(ReportSnapshot)).first()
    assert snapshot is not None and snapshot.kind == "demand" and snapshot.run_id is not None
    assert "Computed" in client.get("/reports/demand").text


def test_value_page_draws_every_chart(
    client: TestClient, logged_in: Callable[..., TestClient], engine: Engine, shop_data: list[int]
) -> None:
    service.run_scoring(engine, ScoreParams(as_of=AS_OF))
    logged_in("analyst")
    page = client.get("/reports/value")
    assert page.status_code == 200
    # Plotly positions its layers with inline styles; scripts stay 'self' only.
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self' 'unsafe-inline'" in csp
    assert "unsafe-inline" not in client.get("/reports").headers["content-security-policy"]
    html = page.text
    assert f'<script src="{PLOTLY_URL}" defer></script>' in html
    figures = [json.loads(unescape(raw)) for raw in FIGURE.findall(html)]
    assert len(figures) == 5
    kinds = sorted(trace["type"] for f in figures for trace in f["data"])
    assert "heatmap" in kinds and "bar" in kinds and "scatter" in kinds
    heat = next(f for f in figures if f["data"][0]["type"] == "heatmap")
    assert sum(map(sum, heat["data"][0]["z"])) == 150
    for name in ("Champions", "Lifecycle stages", "Value tiers", "Tier"):
        assert name in html
    # The CLV is named for its horizon, and every figure is explained on the page.
    assert "Lifetime value" not in html and "Value, next 12 months (discounted)" in html
    explained = html[html.index('id="value-explained"') :]
    for figure in ("Revenue last year", "Expected next year", "Change", "P(alive)"):
        assert f"<dt>{figure}</dt>" in explained
    assert "discounted at 10.0 % a year" in explained
    assert client.get("/reports/value?run=999").status_code == 404


def test_demand_page_and_plotly_bundle(
    client: TestClient, logged_in: Callable[..., TestClient], shop_data: list[int]
) -> None:
    logged_in("analyst")
    page = client.get("/reports/demand")
    assert page.status_code == 200
    figures = [json.loads(unescape(raw)) for raw in FIGURE.findall(page.text)]
    assert len(figures) == 3
    names = {trace.get("name") for f in figures for trace in f["data"]}
    assert {"Books", "Music"} <= names
    assert "Categories ranked by change" in page.text
    assert f'<script src="{PLOTLY_URL}" defer></script>' in page.text
    assert client.get("/static/reports.js").status_code == 200


def test_person_card_shows_scores_and_value_history(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    engine: Engine,
    shop_data: list[int],
    web: SimpleNamespace,
) -> None:
    service.run_scoring(engine, ScoreParams(as_of=AS_OF - timedelta(days=180)))
    service.run_scoring(engine, ScoreParams(as_of=AS_OF))
    with Session(engine) as s:
        pid = s.scalars(
            select(PersonScore.person_id)
            .where(PersonScore.clv.is_not(None))
            .group_by(PersonScore.person_id)
            .having(func.count() == 2)
            .order_by(PersonScore.person_id)
        ).first()
    assert pid is not None
    logged_in("agent")
    html = client.get(f"/persons/{pid}").text
    scores = html[html.index('id="scores"') : html.index('id="tasks"')]
    assert "Lifetime value" in scores and "Lifecycle stage" in scores
    assert '<svg class="sparkline"' in scores and "<polyline" in scores
    assert scores.count("<tr>") == 3  # header and two runs
    web_fr = client.post(
        "/locale",
        data={"locale": "fr", "next": "/", "csrf_token": web.page_token(client, "/")},
        follow_redirects=False,
    )
    assert web_fr.status_code == 303
    html = client.get(f"/persons/{pid}").text
    assert "Valeur vie client" in html or "Étape du cycle de vie" in html


def test_person_card_with_no_run_one_run_and_many_runs(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    engine: Engine,
    shop_data: list[int],
) -> None:
    logged_in("agent")

    def scores_section(pid: int) -> str:
        page = client.get(f"/persons/{pid}")
        assert page.status_code == 200
        return page.text[page.text.index('id="scores"') : page.text.index('id="tasks"')]

    assert "No score computed yet." in scores_section(shop_data[0])
    service.run_scoring(engine, ScoreParams(as_of=AS_OF - timedelta(days=360)))
    with Session(engine) as s:
        pid = s.scalars(
            select(PersonScore.person_id)
            .where(PersonScore.clv.is_not(None))
            .order_by(PersonScore.person_id)
        ).first()
    assert pid is not None
    one = scores_section(pid)
    assert "Lifetime value" in one and one.count("<tr>") == 2
    assert "sparkline" not in one  # one point is no line
    for days in (270, 180, 90, 0):
        service.run_scoring(engine, ScoreParams(as_of=AS_OF - timedelta(days=days)))
    many = scores_section(pid)
    assert many.count("<tr>") == 6 and '<svg class="sparkline"' in many
    # Newest first in the table.
    dates = re.findall(r'<td class="nowrap">([^<]+)</td>', many)
    assert len(dates) == 5 and dates[0] != dates[-1]
