"""SMS provider callbacks over real HTTP (uvicorn), and the agents' desk through the API."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns.models import Communication
from closedloop.consent.models import ConsentCurrent
from closedloop.db.uow import unit_of_work
from closedloop.responses.models import Response
from closedloop.vocab import Channel

SECRET = "cb-secret-7f3a"


def post(url: str, data: dict[str, str], form: bool = False) -> tuple[int, dict]:
    body = (urllib.parse.urlencode(data) if form else json.dumps(data)).encode()
    kind = "application/x-www-form-urlencoded" if form else "application/json"
    request = urllib.request.Request(url, body, {"Content-Type": kind}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture()
def texted(
    factory: sessionmaker[Session],
    sent_wave: Callable[..., tuple],
    settings_env: Callable[..., None],
) -> tuple[object, list[int]]:
    settings_env(sms_callback_token=SECRET)
    setup, comms = sent_wave(3, channel=Channel.SMS, phone=True, email=False)
    with unit_of_work(factory) as s:
        for i, comm in enumerate(comms):
            s.execute(
                update(Communication)
                .where(Communication.id == comm)
                .values(external_ref=f"prov-{i}", recipient=f"+3361234{i:04d}")
            )
    return setup, comms


def test_delivery_reports_and_stop_replies_over_http(
    server: str, factory: sessionmaker[Session], texted: tuple
) -> None:
    setup, comms = texted
    hook = f"{server}/api/v1/responses/sms/{SECRET}"
    assert post(hook, {"message_id": "prov-0", "status": "delivered"}) == (
        200,
        {"kind": "delivery", "status": "delivered", "withdrawn": 0, "applied": 1},
    )
    assert post(hook, {"MessageSid": "prov-1", "MessageStatus": "undelivered"}, form=True)[0] == 200
    # A report before the send recorded the provider's id: kept, applied when it is.
    assert post(hook, {"id": "prov-late", "status": "DELIVRD"})[1]["applied"] == 0
    with unit_of_work(factory) as s:
        s.execute(
            update(Communication)
            .where(Communication.id == comms[2])
            .values(external_ref="prov-late")
        )
    assert post(hook, {"id": "prov-0", "status": "delivered"})[1]["applied"] == 1
    # STOP from the first person's phone (Twilio-style form), another reply from the second.
    assert post(hook, {"From": "+33612340000", "Body": "stop"}, form=True)[1]["kind"] == "stop"
    assert post(hook, {"from": "33612340001", "text": "Is it in blue?"})[1]["kind"] == "reply"
    # Refused: a wrong secret (404 without a word), a body that is neither.
    assert post(f"{server}/api/v1/responses/sms/wrong", {"id": "prov-0", "status": "ok"})[0] == 404
    status, problem = post(hook, {"hello": "world"})
    assert status == 422 and problem["errors"][0]["field"] == "reference"
    with factory() as s:
        statuses = dict(s.execute(select(Communication.id, Communication.status)).all())
        assert [statuses[c] for c in comms] == ["delivered", "failed", "delivered"]
        rows = s.scalars(select(Response).order_by(Response.id)).all()
        kinds = [(r.kind, r.communication_id, r.hits) for r in rows]
        assert ("delivery", comms[0], 2) in kinds and ("delivery", comms[2], 1) in kinds
        assert ("unsubscribe", comms[0], 1) in kinds and ("reply", comms[1], 1) in kinds
        sms = dict(
            s.execute(
                select(ConsentCurrent.person_id, ConsentCurrent.state).where(
                    ConsentCurrent.channel == "sms"
                )
            ).all()
        )
        assert sms[setup.person_ids[0]] == "withdrawn"
        assert sms[setup.person_ids[1]] == "granted"


def test_call_outcomes_and_rsvps_from_the_desk(
    client: TestClient,
    make_token: Callable[..., str],
    factory: sessionmaker[Session],
    sent_wave: Callable[..., tuple],
) -> None:
    setup, comms = sent_wave(2, channel=Channel.PHONE, phone=True)
    auth = {"Authorization": f"Bearer {make_token('desk', 'agent')}"}
    pid = setup.person_ids[0]
    answer = client.post(
        "/api/v1/responses/calls",
        json={
            "person_id": pid,
            "campaign_id": setup.campaign_id,
            "outcome": "sale",
            "amount": "49.90",
            "note": "wants the blue one",
        },
        headers=auth,
    )
    assert answer.status_code == 201, answer.text
    call = answer.json()
    assert (call["kind"], call["communication_id"], call["wave_id"]) == (
        "call",
        comms[0],
        setup.wave_id,
    )
    assert call["amount"] == "49.90" and call["detail"]["agent"] == "desk"
    dnc = client.post(
        "/api/v1/responses/calls",
        json={"person_id": setup.person_ids[1], "outcome": "do_not_call"},
        headers=auth,
    )
    assert dnc.status_code == 201
    wrong = client.post(
        "/api/v1/responses/calls",
        json={"person_id": pid, "communication_id": comms[1], "outcome": "reached"},
        headers=auth,
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "communication_id"
    bad = client.post(
        "/api/v1/responses/calls", json={"person_id": pid, "outcome": "maybe"}, headers=auth
    )
    assert bad.status_code == 422
    for path, extra in (("calls", {"outcome": "refused"}), ("rsvps", {"answer": "yes"})):
        unknown = client.post(
            f"/api/v1/responses/{path}",
            json={"person_id": pid, "campaign_id": setup.campaign_id + 999, **extra},
            headers=auth,
        )
        assert unknown.status_code == 422, unknown.text
        assert unknown.json()["errors"][0]["field"] == "campaign_id"
    for answer_ in ("yes", "attended"):
        got = client.post(
            "/api/v1/responses/rsvps",
            json={"person_id": pid, "campaign_id": setup.campaign_id, "answer": answer_},
            headers=auth,
        )
        assert got.status_code == 201
    listed = client.get(f"/api/v1/responses?person_id={pid}", headers=auth).json()
    assert sorted(i["kind"] for i in listed["items"]) == ["attendance", "call", "rsvp"]
    with factory() as s:
        phone = s.scalar(
            select(ConsentCurrent.state).where(
                ConsentCurrent.person_id == setup.person_ids[1], ConsentCurrent.channel == "phone"
            )
        )
        assert phone == "withdrawn"
