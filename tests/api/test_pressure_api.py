"""``/api/v1/pressure-rules`` and ``/api/v1/waves/{id}/funnel``: what a marketer sees."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.base import Spec, base, campaign

from closedloop.campaigns.extraction import extract_wave
from closedloop.vocab import Channel

URL = "/api/v1/pressure-rules"


def test_rules_are_created_replaced_listed_and_deleted(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    headers = auth("marketer")
    rule = {"name": "weekly", "max_messages": 2, "period_days": 7, "channel": "email"}
    created = client.post(URL, json=rule, headers=headers)
    assert created.status_code == 201, created.text
    replaced = client.post(
        URL, json=rule | {"max_messages": 3, "min_gap_hours": 24}, headers=headers
    )
    assert replaced.json()["id"] == created.json()["id"] and replaced.json()["max_messages"] == 3
    assert [(r["name"], r["min_gap_hours"]) for r in client.get(URL, headers=headers).json()] == [
        ("weekly", 24.0)
    ]
    bad = client.post(URL, json=rule | {"period_days": 0, "channel": "pigeon"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["detail"] == "2 fields are not valid: period_days, channel."
    assert client.delete(f"{URL}/{created.json()['id']}", headers=headers).status_code == 204
    assert client.delete(f"{URL}/{created.json()['id']}", headers=headers).status_code == 404
    assert client.get(URL, headers=auth("analyst")).status_code == 403


def test_funnel_shows_each_stage_and_the_persons_left_out(
    client: TestClient, auth: Callable[..., dict[str, str]], factory: sessionmaker[Session]
) -> None:
    with factory() as session:
        ids = base(
            session, [Spec(), Spec(consent={Channel.EMAIL: "withdrawn"}), Spec(suppressed=True)]
        )
        made = campaign(session, "FUN", ids)
        extract_wave(session, made.wave_id)
        session.commit()
    headers = auth("marketer")
    body = client.get(f"/api/v1/waves/{made.wave_id}/funnel?stage=consent", headers=headers).json()
    steps = {s["stage"]: (s["excluded"], s["remaining"]) for s in body["steps"]}
    assert body["target"] == 3 and body["queued"] == 1 and body["ledger"] == {"queued": 1}
    assert steps["consent"] == (1, 2) and steps["suppression"] == (1, 1)
    assert body["persons"] == [
        {"person_id": ids[1], "stage": "consent", "reason": "email: consent withdrawn"}
    ]
    assert client.get("/api/v1/waves/999999/funnel", headers=headers).status_code == 404
    as_analyst = client.get(f"/api/v1/waves/{made.wave_id}/funnel", headers=auth("analyst"))
    assert as_analyst.status_code == 200 and as_analyst.json()["queued"] == 1  # campaigns:read
    assert (
        client.get(f"/api/v1/waves/{made.wave_id}/funnel", headers=auth("agent")).status_code == 403
    )
