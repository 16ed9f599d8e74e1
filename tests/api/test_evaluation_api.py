"""The loop through the API: persons and purchases synced in, clicks recorded by the response
service, the campaign's report read from ``/api/v1/campaigns/{id}/report`` finds the planted
effect within its interval, and its responders become a segment."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, CampaignMember, Cell, Communication, Wave
from closedloop.contacts.models import Person
from closedloop.evaluation import rebuild_counters
from closedloop.responses.capture import Reaction, record
from closedloop.segments import SegmentMember

SYNC = "/api/v1/sync"
SENT = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
N = 700  # persons per cell


def _loop(
    client: TestClient, admin: dict[str, str], session: Session, rates: tuple[float, float]
) -> int:
    """A campaign (treated and control cells of N) whose members buy through the sync API at
    ``rates``; a third of the treated click the message (recorded by the response service)."""
    rng = random.Random(11)
    people = [{"external_id": f"P{i}", "family_name": f"Buyer {i}"} for i in range(2 * N)]
    for chunk in range(0, len(people), 500):
        answer = client.post(
            f"{SYNC}/persons?source=shop",
            json={"items": people[chunk : chunk + 500]},
            headers=admin,
        )
        assert answer.status_code == 200, answer.text
    ids = {
        p.external_id: p.id
        for p in session.scalars(select(Person).where(Person.source_system == "shop"))
    }
    campaign = Campaign(code="LOOP", name="Loop", status="completed", response_window_days=21)
    session.add(campaign)
    session.flush()
    wave = Wave(campaign_id=campaign.id, name="May", scheduled_at=SENT)
    treated = Cell(
        campaign_id=campaign.id, code="MAIL", name="Mail", channel="email", unit_cost=0.2
    )
    control = Cell(campaign_id=campaign.id, code="CTL", name="Hold-out", is_control=True)
    session.add_all([wave, treated, control])
    session.flush()
    orders = []
    for i in range(2 * N):
        cell, rate = (treated, rates[0]) if i < N else (control, rates[1])
        person = ids[f"P{i}"]
        session.add(CampaignMember(campaign_id=campaign.id, cell_id=cell.id, person_id=person))
        if rng.random() < rate:
            when = SENT + timedelta(days=rng.uniform(0.5, 20))
            orders.append(
                {
                    "external_id": f"O{i}",
                    "person_external_id": f"P{i}",
                    "ordered_at": when.isoformat(),
                    "total_amount": "40.00",
                }
            )
    session.execute(
        insert(Communication),
        [
            {
                "person_id": ids[f"P{i}"],
                "campaign_id": campaign.id,
                "wave_id": wave.id,
                "cell_id": treated.id,
                "channel": "email",
                "status": "sent",
                "sent_at": SENT,
            }
            for i in range(N)
        ],
    )
    # messages written outside the sender (a bulk load): their counters are rebuilt, as
    # `closedloop evaluation rebuild-counters` does after one
    rebuild_counters(session, campaign.id)
    session.commit()
    comms = list(
        session.scalars(select(Communication.id).where(Communication.campaign_id == campaign.id))
    )
    record(
        session,
        [
            Reaction(
                kind="click",
                occurred_at=SENT + timedelta(hours=2),
                communication_id=c,
                dedupe="https://shop.example/",
            )
            for c in comms[: N // 3]
        ],
    )
    session.commit()
    answer = client.post(f"{SYNC}/orders?source=shop", json={"items": orders}, headers=admin)
    assert answer.status_code == 200, answer.text
    assert {r["status"] for r in answer.json()["items"]} == {"created"}
    return campaign.id


def test_planted_effect_found_through_the_api(
    client: TestClient, auth: Callable[..., dict[str, str]], session: Session
) -> None:
    campaign_id = _loop(client, auth("admin"), session, (0.22, 0.10))
    analyst = auth("analyst")
    answer = client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=analyst)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["final"] is True and report["rule"] == "last-touch"
    mail = next(c for c in report["cells"] if c["label"].startswith("MAIL"))
    assert mail["contacted"] == N and mail["clicked"] == N // 3 and mail["responded"] == N // 3
    assert mail["cost"] == round(0.2 * N, 6)
    conv = mail["lift"]["conversion"]
    assert conv["significant"] and conv["ci_low"] < 0.12 < conv["ci_high"]
    assert report["verdict"].startswith("the campaign worked")

    marketer = auth("marketer")
    made = client.post(
        f"/api/v1/campaigns/{campaign_id}/report/segments",
        json={"group": "responders", "name": "May responders"},
        headers=marketer,
    )
    assert made.status_code == 201, made.text
    segment = made.json()
    members = set(
        session.scalars(
            select(SegmentMember.person_id).where(SegmentMember.segment_id == segment["id"])
        )
    )
    assert len(members) == segment["members"] >= N // 3  # clickers, and buyers of the mail cell
    assert segment["origin"] == {
        "source": "evaluation",
        "campaign_id": campaign_id,
        "campaign": "LOOP",
        "group": "responders",
    }


def test_no_planted_effect_through_the_api(
    client: TestClient, auth: Callable[..., dict[str, str]], session: Session
) -> None:
    admin = auth("admin")
    campaign_id = _loop(client, admin, session, (0.12, 0.12))
    report = client.get(f"/api/v1/campaigns/{campaign_id}/report?rule=linear", headers=admin).json()
    assert report["verdict"] == "no measurable effect: direct marketing failed here"
    assert report["rule"] == "linear"


def test_access_and_bad_input(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    analyst, agent, marketer = auth("analyst"), auth("agent"), auth("marketer")
    assert client.get("/api/v1/campaigns/1/report").status_code == 401
    assert client.get("/api/v1/campaigns/1/report", headers=agent).status_code == 403
    missing = client.get("/api/v1/campaigns/987654/report", headers=analyst)
    assert missing.status_code == 404 and "Campaign 987654 does not exist" in missing.text
    bad = client.get("/api/v1/campaigns/987654/report?rule=u-shaped", headers=analyst)
    assert bad.status_code == 422 and "u-shaped" in bad.text
    refused = client.post(
        "/api/v1/campaigns/1/report/segments",
        json={"group": "responders", "name": "x"},
        headers=analyst,
    )
    assert refused.status_code == 403
    wrong = client.post(
        "/api/v1/campaigns/987654/report/segments",
        json={"group": "fans", "name": "x"},
        headers=marketer,
    )
    assert wrong.status_code == 422 and "Unknown group 'fans'" in wrong.text
