"""Uplift of a past campaign with a control group, through the service, the CLI and the API:
members who buy only when addressed rank above those who buy anyway; the Qini curve is
published; a campaign without control group is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.segments.world import category, order, person, product
from typer.testing import CliRunner

from closedloop.campaigns.models import Campaign, CampaignMember, Cell
from closedloop.cli.main import app
from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.jobs.service import run_pending
from closedloop.targeting.uplift import campaign_uplift

START = date(2026, 6, 1)


def _campaign(factory: sessionmaker[Session]) -> dict[str, list[int]]:
    """90 members in three groups seen through their history: persuadables (four past
    orders) buy after the start only when targeted, sure things (one big order) buy anyway,
    lost causes (one small old order) never. Half of each group is in the control cell."""
    groups: dict[str, list[int]] = {"persuadable": [], "sure": [], "lost": []}
    with unit_of_work(factory) as s:
        books = category(s, "books")
        item = product(s, "book", books)
        camp = Campaign(code="SUMMER", name="Summer", starts_on=START, response_window_days=30)
        s.add(camp)
        s.flush()
        mail = Cell(campaign_id=camp.id, code="A", name="Mail")
        control = Cell(campaign_id=camp.id, code="C", name="Control", is_control=True)
        s.add_all([mail, control])
        s.flush()
        for n in range(90):
            kind = ("persuadable", "sure", "lost")[n % 3]
            pid = person(s, given_name=f"{kind}{n}")
            groups[kind].append(pid)
            treated = (n // 3) % 2 == 0
            if kind == "persuadable":
                for k in range(4):
                    order(s, pid, START - timedelta(days=20 + 30 * k), [(item, "15")])
            elif kind == "sure":
                order(s, pid, START - timedelta(days=200), [(item, "300")])
            else:
                order(s, pid, START - timedelta(days=700), [(item, "5")])
            if (kind == "persuadable" and treated) or kind == "sure":
                order(s, pid, START + timedelta(days=5), [(item, "20")])
            cell = mail if treated else control
            s.add(CampaignMember(campaign_id=camp.id, cell_id=cell.id, person_id=pid))
        s.add(Campaign(code="NOCONTROL", name="No control", starts_on=START))
    return groups


def test_uplift_ranks_the_persuadables_first(
    factory: sessionmaker[Session], engine: Engine, client: TestClient,
    make_token: Callable[..., str],
) -> None:  # fmt: skip
    groups = _campaign(factory)
    with factory() as s:
        result = campaign_uplift(s, "SUMMER")
        with pytest.raises(ValidationFailed, match="at least 20 targeted and 20 control"):
            campaign_uplift(s, "NOCONTROL")
    assert (result["treated"], result["control"]) == (45, 45)
    rank = {p: i for i, (p, _) in enumerate(result["ranking"])}
    persuadables = [rank[p] for p in groups["persuadable"]]
    sure = [rank[p] for p in groups["sure"]]
    assert max(persuadables) < min(sure), (persuadables, sure)
    assert result["qini"][-1]["fraction"] == 1.0 and result["qini_coefficient"] > 0

    out = CliRunner().invoke(app, ["targeting", "uplift", "--campaign", "SUMMER", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {t["person_id"] for t in data["top"][:10]} <= set(groups["persuadable"])

    analyst = {"Authorization": f"Bearer {make_token('ana', 'analyst')}"}
    bad = client.post("/api/v1/targeting/uplift", json={"campaign": "NOPE"}, headers=analyst)
    assert bad.status_code == 422 and "no campaign 'NOPE'" in bad.json()["detail"]
    queued = client.post("/api/v1/targeting/uplift", json={"campaign": "SUMMER"}, headers=analyst)
    assert queued.status_code == 202, queued.text
    assert run_pending(engine, kinds=["targeting.uplift"]) == 1
    done = client.get(f"/api/v1/targeting/results/{queued.json()['id']}", headers=analyst).json()
    assert done["status"] == "done", done
    assert (
        len(done["result"]["qini"]) == 21
        and done["result"]["top"][0]["person_id"] in groups["persuadable"]
    )


def test_the_best_share_by_uplift_becomes_a_segment(
    factory: sessionmaker[Session], engine: Engine, client: TestClient,
    make_token: Callable[..., str],
) -> None:  # fmt: skip
    """The top 30 % of SUMMER's members by uplift, saved from the CLI and from a finished
    job through the API, are persuadables only; a bad share, an unfinished or unknown job, a
    taken name and a role without campaigns:manage are refused, naming the reason."""
    groups = _campaign(factory)
    cli = CliRunner().invoke(app, ["targeting", "uplift", "--campaign", "SUMMER", "--top-share",
                                   "0.3", "--segment", "Moved (CLI)", "--json"])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    made = json.loads(cli.stdout)["segment"]
    assert made["members"] == 27  # round(0.3 × 90)
    alone = CliRunner().invoke(app, ["targeting", "uplift", "--campaign", "SUMMER",
                                     "--top-share", "0.3"])  # fmt: skip
    assert alone.exit_code != 0 and "--top-share and --segment go together" in alone.output

    manager = {"Authorization": f"Bearer {make_token('mara', 'marketer')}"}
    analyst = {"Authorization": f"Bearer {make_token('ana', 'analyst')}"}
    queued = client.post("/api/v1/targeting/uplift", json={"campaign": "SUMMER"}, headers=manager)
    job_id = queued.json()["id"]
    url = f"/api/v1/targeting/uplift/{job_id}/segments"
    early = client.post(url, json={"share": 0.3, "name": "Too early"}, headers=manager)
    assert early.status_code == 409 and "wait until it is done" in early.json()["detail"]
    assert run_pending(engine, kinds=["targeting.uplift"]) == 1
    result = client.get(f"/api/v1/targeting/results/{job_id}", headers=manager).json()["result"]
    assert "ranking" not in result and len(result["top"]) == 20
    saved = client.post(url, json={"share": 0.3, "name": "Moved by summer"}, headers=manager)
    assert saved.status_code == 201, saved.text
    assert saved.json()["members"] == 27
    members = client.get(f"/api/v1/segments/{saved.json()['id']}/members", headers=manager)
    assert members.status_code == 200, members.text
    ids = set(members.json()["items"])
    assert len(ids) == 27 and ids <= set(groups["persuadable"])
    for data, code, reason in (
        ({"share": 0, "name": "x"}, 422, "share"),
        ({"share": 1.5, "name": "x"}, 422, "share"),
        ({"share": 0.3, "name": "Moved by summer"}, 409, "exists already"),
    ):
        bad = client.post(url, json=data, headers=manager)
        assert bad.status_code == code and reason in bad.text, bad.text
    unknown = "/api/v1/targeting/uplift/999999/segments"
    nobody = {"share": 0.3, "name": "y"}
    assert client.post(unknown, json=nobody, headers=manager).status_code == 404
    denied = client.post(url, json={"share": 0.3, "name": "z"}, headers=analyst)
    assert denied.status_code == 403
