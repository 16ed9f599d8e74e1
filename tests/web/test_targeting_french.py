"""The targeting pages in French: headings, forms, charts' titles and a running job's
progress message are written in the reader's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from html import unescape
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.targeting.test_propensity import _biggest_category

from closedloop.db.uow import unit_of_work
from closedloop.demo.seed import seed_demo
from closedloop.jobs.models import Job
from closedloop.jobs.service import run_pending
from closedloop.targeting import jobs, said


def _french(client: TestClient, web: SimpleNamespace) -> None:
    token = web.page_token(client, "/targeting")
    client.post("/locale", data={"locale": "fr", "next": "/targeting", "csrf_token": token})


def test_targeting_pages_speak_french(
    client: TestClient, logged_in: Callable[..., TestClient], web: SimpleNamespace,
    engine: Engine, factory: sessionmaker[Session],
) -> None:  # fmt: skip
    seed_demo(engine, 300, 5, today=date(2026, 11, 22))
    with factory() as s:
        category = _biggest_category(s)
    logged_in("marketer")
    _french(client, web)
    home = unescape(client.get("/targeting").text)
    for text in ("Ciblage", "Appétence", "Groupes", "Recommandations", "Marchés"):
        assert text in home
    with unit_of_work(factory) as s:
        job = jobs.queue_clusters(s, 3)
        job_id = job.id
    with unit_of_work(factory) as s:
        running = s.get(Job, job_id)
        assert running is not None
        running.status, running.message, running.progress = "running", said.TRYING(k=3), 0.4
    page = unescape(client.get("/targeting/clusters").text)
    assert "Essai avec 3 groupes" in page and "Trying 3 clusters" not in page
    with unit_of_work(factory) as s:
        again = s.get(Job, job_id)
        assert again is not None
        again.status = "queued"
    assert run_pending(engine, kinds=["targeting.clusters"]) == 1
    done = unescape(client.get("/targeting/clusters").text)
    assert "Trouver les groupes" in done and "Enregistrer comme segment" in done
    assert "Groupes : récence et dépense (bulle : acheteurs)" in done
    markets = unescape(client.get(f"/targeting/markets?category={category}").text)
    for text in ("Classer les marchés", "Taux d’achat", "Deux segments côte à côte", "E-mail"):
        assert text in markets, text
    for url, text in (
        ("/targeting/propensity", "Entraîner le modèle"),
        ("/targeting/uplift", "Apprendre l’uplift"),
        ("/targeting/recommendations", "Justesse des recommandations"),
    ):
        assert text in unescape(client.get(url).text), url
