"""The loop: what an evaluation calls a response is what the next segmentation can select
("responded" / "did not respond" to a campaign), and its groups become snapshot segments."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from closedloop.evaluation import (
    Source,
    buyer_ids,
    non_responder_ids,
    responder_ids,
    segment_from_evaluation,
)
from closedloop.responses.models import Response
from closedloop.segments import SegmentMember
from closedloop.segments.evaluate import rule_member_ids

from .plant import SENT_AT, Arm, plant


def test_segment_rules_and_the_evaluation_agree_on_who_responded(session: Session) -> None:
    planted = plant(
        session,
        [Arm("A", 400, 0.15, open_rate=0.5, click_rate=0.2), Arm("CTL", 400, 0.1, is_control=True)],
    )
    treated = planted.members["A"]
    # machine reactions (a privacy proxy's opens, a scanner's clicks), a bounce and an
    # unsubscribe are not a person's interest
    noise = [
        {
            "person_id": p,
            "campaign_id": planted.campaign_id,
            "kind": kind,
            "occurred_at": SENT_AT,
            "machine": machine,
        }
        for p in treated[:100]
        for kind, machine in (("open", "apple-mpp"), ("click", "scanner"))
    ] + [
        {
            "person_id": treated[-1],
            "campaign_id": planted.campaign_id,
            "kind": k,
            "occurred_at": SENT_AT,
        }
        for k in ("bounce", "unsubscribe")
    ]
    session.execute(insert(Response), noise)
    session.flush()
    clickers = set(
        session.scalars(
            select(Response.person_id).where(
                Response.campaign_id == planted.campaign_id,
                Response.kind == "click",
                Response.machine.is_(None),
            )
        )
    )
    assert clickers
    rule = {"campaign": {"code": "SPRING", "responded": True}}
    assert set(rule_member_ids(session, rule)) == clickers
    silent = {"campaign": {"code": "SPRING", "received": True, "responded": False}}
    assert set(rule_member_ids(session, silent)) == set(treated) - clickers

    buyers = buyer_ids(session, planted.campaign_id)
    assert buyers == planted.buyers["A"] | planted.buyers["CTL"]
    responders = responder_ids(session, planted.campaign_id)
    assert responders == clickers | planted.buyers["A"]
    assert non_responder_ids(session, planted.campaign_id) == set(treated) - responders


def test_a_cell_becomes_a_segment(session: Session) -> None:
    planted = plant(session, [Arm("A", 50, 0.2), Arm("CTL", 50, 0.1, is_control=True)])
    made = segment_from_evaluation(
        session, planted.campaign_id, Source.CELL, "Spring hold-out", cell="CTL"
    )
    members = set(
        session.scalars(select(SegmentMember.person_id).where(SegmentMember.segment_id == made.id))
    )
    assert members == set(planted.members["CTL"])
    assert made.origin == {
        "source": "evaluation",
        "campaign_id": planted.campaign_id,
        "campaign": "SPRING",
        "group": "cell",
        "cell": "CTL",
    }
