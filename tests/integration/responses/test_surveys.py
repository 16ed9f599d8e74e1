"""Surveys end to end: created through the API, answered on the public page reached by a
signed link (a refused answer says why), during a call through the API; answers fill
catalogue attributes; the report (API and page with its chart) and the card's NPS."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns import tracking
from closedloop.contacts.models import AttributeChoice, AttributeDefinition, AttributeValue
from closedloop.db.uow import unit_of_work
from closedloop.responses.models import Answer, Response

SURVEY = {
    "code": "SAT-2026",
    "title": "How did we do?",
    "intro": "Two minutes, five questions.",
    "questions": [
        {
            "code": "nps",
            "text": "Would you recommend us?",
            "kind": "nps",
            "required": True,
            "attribute_code": "nps_score",
        },
        {
            "code": "csat",
            "text": "How satisfied are you?",
            "kind": "scale",
            "min_value": 1,
            "max_value": 5,
        },
        {
            "code": "genre",
            "text": "Your favourite genre?",
            "kind": "single",
            "choices": ["novel", "poetry", "comics"],
            "attribute_code": "favourite_genre",
        },
        {
            "code": "channels",
            "text": "Where do you buy?",
            "kind": "multiple",
            "choices": ["shop", "web", "market"],
        },
        {"code": "why", "text": "Why?", "kind": "text"},
    ],
}


@pytest.fixture()
def catalogue(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        s.add(AttributeDefinition(code="nps_score", group="psychographic", type="number"))
        genre = AttributeDefinition(code="favourite_genre", group="interests", type="choice")
        s.add(genre)
        s.flush()
        for i, code in enumerate(("novel", "poetry", "comics")):
            s.add(AttributeChoice(definition_id=genre.id, code=code, position=i))


def test_a_survey_from_creation_to_report(
    client: TestClient,
    make_token: Callable[..., str],
    factory: sessionmaker[Session],
    sent_wave: Callable[..., tuple],
    catalogue: None,
    logged_in: Callable[..., TestClient],
) -> None:
    setup, comms = sent_wave(2)
    auth = {"Authorization": f"Bearer {make_token('mk', 'marketer')}"}
    bad = dict(
        SURVEY,
        questions=[{"code": "x", "text": "?", "kind": "scale", "min_value": 5, "max_value": 1}],
    )
    assert client.post("/api/v1/surveys", json=bad, headers=auth).status_code == 422
    ctl = dict(SURVEY, questions=[{**SURVEY["questions"][2], "choices": ["novel", "po\x01etry"]}])
    refused_ctl = client.post("/api/v1/surveys", json=ctl, headers=auth)
    assert refused_ctl.status_code == 422, refused_ctl.text
    assert refused_ctl.json()["errors"][0]["field"] == "questions[0].choices[1]"
    assert "control character (U+0001)" in refused_ctl.json()["errors"][0]["message"]
    orphan = dict(SURVEY, campaign_id=setup.campaign_id + 999)
    refused_campaign = client.post("/api/v1/surveys", json=orphan, headers=auth)
    assert refused_campaign.status_code == 422, refused_campaign.text
    assert refused_campaign.json()["errors"][0]["field"] == "campaign_id"
    created = client.post("/api/v1/surveys", json=SURVEY, headers=auth)
    assert created.status_code == 201, created.text
    survey_id = created.json()["id"]
    assert [q["max_value"] for q in created.json()["questions"]][:2] == [10, 5]
    assert client.post("/api/v1/surveys", json=SURVEY, headers=auth).status_code == 409

    # In a mailing: the message's signed link leads to the page.
    link = urlsplit(tracking.survey_url("SAT-2026", communication_id=comms[0])).path
    page = client.get(link)
    assert page.status_code == 200 and "Would you recommend us?" in page.text
    refused = client.post(
        link, data={"nps": "11", "csat": "4", "genre": "jazz"}, follow_redirects=False
    )
    assert refused.status_code == 422
    assert "11 is outside the scale 0–10" in refused.text
    assert "&#39;jazz&#39; is not one of the choices" in refused.text
    with factory() as s:
        assert s.scalars(select(Answer)).all() == []  # nothing half-stored
    for nps in ("3", "9"):  # answered twice: the second replaces the first
        done = client.post(
            link,
            data={
                "nps": nps,
                "csat": "4",
                "genre": "poetry",
                "channels": ["shop", "web"],
                "why": "Quick delivery",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303
    assert "your answers are saved" in client.get(done.headers["location"]).text
    forged = client.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    assert forged.status_code == 404 and "Would you recommend" not in forged.text

    # During a call: the agent records the second person's answers.
    agent = {"Authorization": f"Bearer {make_token('desk', 'agent')}"}
    wrong = client.post(
        f"/api/v1/surveys/{survey_id}/answers",
        json={"person_id": setup.person_ids[1], "answers": {"csat": 0}},
        headers=agent,
    )
    assert wrong.status_code == 422
    fields = {e["field"]: e["message"] for e in wrong.json()["errors"]}
    assert fields == {
        "answers.nps": "an answer is required",
        "answers.csat": "0 is outside the scale 1–5 (whole numbers)",
    }
    by_call = client.post(
        f"/api/v1/surveys/{survey_id}/answers",
        json={"person_id": setup.person_ids[1], "answers": {"nps": 5, "csat": 2, "genre": "novel"}},
        headers=agent,
    )
    assert by_call.status_code == 201, by_call.text

    with factory() as s:
        responses = s.scalars(
            select(Response).where(Response.kind == "survey").order_by(Response.person_id)
        ).all()
        assert [(r.person_id, r.hits) for r in responses] == [
            (setup.person_ids[0], 2),
            (setup.person_ids[1], 1),
        ]
        assert (responses[0].communication_id, responses[0].wave_id, responses[0].cell_id) == (
            comms[0],
            setup.wave_id,
            setup.cell_id,
        )
        values = s.execute(
            select(
                AttributeValue.person_id,
                AttributeDefinition.code,
                AttributeValue.value_number,
                AttributeChoice.code,
            )
            .join(AttributeDefinition, AttributeDefinition.id == AttributeValue.definition_id)
            .outerjoin(AttributeChoice, AttributeChoice.id == AttributeValue.choice_id)
            .where(AttributeValue.person_id == setup.person_ids[0])
            .order_by(AttributeDefinition.code)
        ).all()
        assert [(c, n, ch) for _, c, n, ch in values] == [
            ("favourite_genre", None, "poetry"),
            ("nps_score", Decimal("9"), None),
        ]

    report = client.get(
        f"/api/v1/surveys/{survey_id}/report",
        headers={"Authorization": f"Bearer {make_token('an', 'analyst')}"},
    ).json()
    by_code = {q["code"]: q for q in report["questions"]}
    assert report["respondents"] == 2
    assert by_code["nps"]["nps"] == 0.0  # one promoter (9), one detractor (5)
    assert by_code["csat"]["mean"] == 3.0
    assert dict(map(tuple, by_code["genre"]["counts"])) == {"novel": 1, "poetry": 1, "comics": 0}
    assert dict(map(tuple, by_code["channels"]["counts"]))["web"] == 1
    assert by_code["why"]["texts"] == ["Quick delivery"]

    logged_in("analyst", "analyst-web")
    html = client.get(f"/surveys/{survey_id}").text
    assert "NPS +0" in html and '<svg class="bars"' in html and "Quick delivery" in html
    assert "SAT-2026" in client.get("/surveys").text
    card = client.get(f"/persons/{setup.person_ids[0]}").text
    assert 'id="satisfaction"' in card and "<strong>9</strong>/10" in card and "Promoter" in card


def test_survey_url_in_an_email_template_is_signed_for_the_message(
    factory: sessionmaker[Session], client: TestClient
) -> None:
    from datetime import UTC, datetime

    from tests.integration.campaigns.waves import email_template, wave

    from closedloop.campaigns.compose import compose, load_plan, tracked
    from closedloop.campaigns.ledger import due_rows

    body = (
        "<p>Hello</p><p><a href=\"{{ survey_url('SAT-2026') }}\">Tell us</a></p>"
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    )
    with unit_of_work(factory) as s:
        setup = wave(s, 1, template_id=email_template(s, body=body, code="t-survey"))
        plan = load_plan(s, setup.wave_id)
        rows = due_rows(s, setup.wave_id, after_id=0, limit=10, now=datetime.now(UTC))
        ready, settled = compose(s, plan, rows)
    assert not settled
    html = tracked(ready[0]).body or ""
    expected = tracking.survey_url("SAT-2026", communication_id=rows[0].id)
    assert f'href="{expected}"' in html  # signed for this message, not wrapped as a click
    assert tracking.read_survey(urlsplit(expected).path[3:]).communication_id == rows[0].id
