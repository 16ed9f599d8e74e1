"""A campaign's evaluation on real rows: planted effects found within their intervals, no
effect reported as none, attribution rules and windows, the A/B winner."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, CampaignMember, Cell, Communication, Wave
from closedloop.contacts.models import Person
from closedloop.errors import NotFound, ValidationFailed
from closedloop.evaluation.attribution import Rule
from closedloop.evaluation.report import NO_CONTROL, NO_EFFECT, report_dict
from closedloop.evaluation.service import evaluate, parse_rule
from closedloop.responses.models import Response
from closedloop.transactions.models import Order

from .plant import SENT_AT, Arm, plant

LATER = SENT_AT + timedelta(days=90)


def test_planted_effect_is_found_within_its_interval(session: Session) -> None:
    planted = plant(
        session,
        [
            Arm("A", 3000, 0.14, open_rate=0.4, click_rate=0.1),
            Arm("CTL", 3000, 0.08, is_control=True),
        ],
    )
    # a mail-privacy proxy "opens" every message: a machine's reaction, not the person's
    machine_opens = [
        {
            "person_id": p,
            "campaign_id": planted.campaign_id,
            "kind": "open",
            "occurred_at": SENT_AT,
            "machine": "apple-mpp",
        }
        for p in planted.members["A"]
    ]
    session.execute(insert(Response), machine_opens)
    report = evaluate(session, planted.campaign_id, now=LATER)
    cell = next(c for c in report.cells if c.cell_id == planted.cells["A"])
    # every in-window purchase is found, the old order and the late one are not
    assert cell.converted == len(planted.buyers["A"])
    assert cell.revenue == pytest.approx(50.0 * len(planted.buyers["A"]))
    assert report.control is not None
    assert report.control.converted == len(planted.buyers["CTL"])
    assert cell.members == cell.contacted == cell.delivered == 3000
    assert 0.35 < cell.opened / 3000 < 0.45 and 0.07 < cell.clicked / 3000 < 0.13
    assert cell.cost == pytest.approx(1500.0)
    lift = report.total.lift
    assert lift is not None and lift.conversion.significant
    assert lift.conversion.ci_low < 0.06 < lift.conversion.ci_high  # the planted 6 points
    low, high = lift.incremental_revenue_ci
    assert low < 0.06 * 50 * 3000 < high
    assert lift.roi is not None and lift.roi > 0
    assert report.final and report.verdict.startswith("the campaign worked")
    assert report.rule == "last-touch" and "last-touch" in report.notes[0]


def test_no_planted_effect_is_reported_as_none(session: Session) -> None:
    planted = plant(session, [Arm("A", 2000, 0.10), Arm("CTL", 2000, 0.10, is_control=True)])
    report = evaluate(session, planted.campaign_id, now=LATER)
    assert report.total.lift is not None and not report.total.lift.significant
    assert report.verdict == NO_EFFECT == "no measurable effect: direct marketing failed here"
    as_json = report_dict(report)
    assert as_json["verdict"] == NO_EFFECT
    assert as_json["cells"][0]["lift"]["conversion"]["significant"] is False


def test_ab_winner_is_named_with_its_correction(session: Session) -> None:
    planted = plant(
        session,
        [
            Arm("A", 2500, 0.16),
            Arm("B", 2500, 0.09),
            Arm("C", 2500, 0.09),
            Arm("CTL", 2500, 0.09, is_control=True),
        ],
    )
    report = evaluate(session, planted.campaign_id, now=LATER)
    assert report.winner is not None
    assert report.winner.best_cell_id == planted.cells["A"] and report.winner.significant
    assert "Holm" in report.winner.correction and "Holm" in report.correction
    adjusted = [c.lift.p_adjusted for c in report.cells if c.lift]
    raw = [c.lift.conversion.p_value for c in report.cells if c.lift]
    assert all(
        a is not None and r is not None and a >= r for a, r in zip(adjusted, raw, strict=True)
    )


def test_while_running_the_interval_is_said_not_final(session: Session) -> None:
    planted = plant(
        session, [Arm("A", 500, 0.2), Arm("CTL", 500, 0.1, is_control=True)], status="running"
    )
    report = evaluate(session, planted.campaign_id, now=SENT_AT + timedelta(days=3))
    assert not report.final
    assert report.notes[0].startswith("not final") and "not final" in report.verdict


def test_without_control_group_no_lift_is_claimed(session: Session) -> None:
    planted = plant(session, [Arm("A", 300, 0.2)])
    report = evaluate(session, planted.campaign_id, now=LATER)
    assert report.verdict == NO_CONTROL and report.total.lift is None


def test_attribution_rules_credit_the_waves(session: Session) -> None:
    """One person reached by two waves (day 0 and day 10) buys on day 12 for 90.00."""
    campaign = Campaign(code="TWO", name="Two waves", status="completed", response_window_days=30)
    session.add(campaign)
    session.flush()
    w1 = Wave(campaign_id=campaign.id, name="first")
    w2 = Wave(campaign_id=campaign.id, name="second")
    cell = Cell(campaign_id=campaign.id, code="A", name="A")
    ctl = Cell(campaign_id=campaign.id, code="CTL", name="control", is_control=True)
    buyer, other, held_out = Person(given_name="B"), Person(given_name="O"), Person(given_name="H")
    session.add_all([w1, w2, cell, ctl, buyer, other, held_out])
    session.flush()
    for p, c in ((buyer, cell), (other, cell), (held_out, ctl)):
        session.add(CampaignMember(campaign_id=campaign.id, cell_id=c.id, person_id=p.id))
    rows = [
        {
            "person_id": p.id,
            "campaign_id": campaign.id,
            "wave_id": w.id,
            "cell_id": cell.id,
            "channel": "email",
            "status": "sent",
            "sent_at": SENT_AT + timedelta(days=d),
        }
        for p in (buyer, other)
        for w, d in ((w1, 0), (w2, 10))
    ]
    session.execute(insert(Communication), rows)
    session.add_all(
        [
            Order(
                person_id=buyer.id,
                ordered_at=SENT_AT + timedelta(days=12),
                total_amount=Decimal("90"),
            ),
            Order(
                person_id=held_out.id,
                ordered_at=SENT_AT + timedelta(days=5),
                total_amount=Decimal("40"),
            ),
        ]
    )
    session.flush()

    def credited(rule: Rule) -> dict[str, tuple[int, float]]:
        r = evaluate(session, campaign.id, rule=rule, now=LATER)
        return {w["name"]: (w["total"].converted, w["total"].revenue) for w in r.waves}

    assert credited(Rule.LAST_TOUCH) == {"first": (0, 0.0), "second": (1, 90.0)}
    assert credited(Rule.FIRST_TOUCH) == {"first": (1, 90.0), "second": (0, 0.0)}
    assert credited(Rule.LINEAR) == {"first": (1, 45.0), "second": (1, 45.0)}
    report = evaluate(session, campaign.id, now=LATER)
    # the held-out member's purchase 5 days after the first wave is the control baseline
    assert report.control is not None and report.control.converted == 1
    waves = {w["name"]: w for w in report.waves}
    assert waves["first"]["control_converted"] == 1 and waves["second"]["control_converted"] == 0
    assert report.cells[0].contacted == 2 and report.cells[0].converted == 1


def test_bad_input_is_named(session: Session) -> None:
    with pytest.raises(ValidationFailed, match="Unknown attribution rule 'u-shaped'"):
        parse_rule("u-shaped")
    assert parse_rule(None) is Rule.LAST_TOUCH
    with pytest.raises(NotFound, match="Campaign 999999 does not exist"):
        evaluate(session, 999999)
