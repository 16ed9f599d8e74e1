"""Extraction of a wave: the funnel from target to queued messages, read back per stage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.integration.campaigns.base import T0, Spec, base, campaign, tiers

from closedloop.campaigns.assignment import draw_cells, set_global_holdout, unit_hash
from closedloop.campaigns.coordination_models import ChannelCapacity, Exclusion
from closedloop.campaigns.extraction import extract_wave
from closedloop.campaigns.models import CampaignMember, Cell, Communication
from closedloop.campaigns.pressure import save_rule
from closedloop.errors import Conflict
from closedloop.vocab import Channel


def _queued(session: Session, wave_id: int) -> set[int]:
    return set(session.scalars(select(Communication.person_id).where(
        Communication.wave_id == wave_id, Communication.status == "queued")))  # fmt: skip


def _reasons(session: Session, wave_id: int) -> dict[int, tuple[str, str]]:
    rows = session.execute(select(Exclusion.person_id, Exclusion.stage, Exclusion.reason)
                           .where(Exclusion.wave_id == wave_id))  # fmt: skip
    return {pid: (stage, reason) for pid, stage, reason in rows}


def test_consent_and_suppression_are_applied_and_logged(session: Session) -> None:
    ids = base(session, [
        Spec(),
        Spec(consent={}),
        Spec(consent={Channel.EMAIL: "withdrawn"}),
        Spec(suppressed=True),
        Spec(consent={Channel.SMS: "granted"}),
        Spec(email=False),
    ])  # fmt: skip
    made = campaign(session, "SPRING", ids)
    result = extract_wave(session, made.wave_id)
    assert _queued(session, made.wave_id) == {ids[0]}
    why = _reasons(session, made.wave_id)
    assert why[ids[1]] == ("consent", "email: no consent for this channel and purpose")
    assert why[ids[2]] == ("consent", "email: consent withdrawn")
    assert why[ids[3]] == ("suppression", "email: suppressed (complaint)")
    assert why[ids[4]][0] == "consent"
    assert why[ids[5]] == ("no_address", "no valid address for email")
    assert result.target == 6 and result.queued == 1
    assert result.excluded == {"consent": 3, "suppression": 1, "no_address": 1}


def test_extracting_again_never_queues_twice(session: Session) -> None:
    ids = base(session, [Spec() for _ in range(4)])
    made = campaign(session, "TWICE", ids)
    assert extract_wave(session, made.wave_id).queued == 4
    again = extract_wave(session, made.wave_id)
    assert again.queued == 0 and again.already_queued == 4
    rows = session.scalars(select(Communication.person_id).where(
        Communication.wave_id == made.wave_id)).all()  # fmt: skip
    assert sorted(rows) == sorted(ids)


def test_no_target_segment_is_a_clear_conflict(session: Session) -> None:
    ids = base(session, [Spec()])
    made = campaign(session, "NOSEG", ids)
    from closedloop.campaigns.coordination_models import CampaignTargeting

    session.get(CampaignTargeting, made.campaign_id).segment_id = None  # type: ignore[union-attr]
    session.flush()
    with pytest.raises(Conflict, match="Campaign NOSEG has no target segment"):
        extract_wave(session, made.wave_id)


def test_control_group_and_ab_cells_are_reproducible_and_stored(session: Session) -> None:
    ids = base(session, [Spec() for _ in range(60)])
    made = campaign(session, "AB", ids, cells=(("CTL", None, 0.2), ("A", "email", 0.4),
                                               ("B", "email", 0.4)))  # fmt: skip
    result = extract_wave(session, made.wave_id)
    members = dict(
        session.execute(
            select(CampaignMember.person_id, CampaignMember.cell_id).where(
                CampaignMember.campaign_id == made.campaign_id
            )
        ).all()
    )
    assert set(members) == set(ids)
    control = {pid for pid, cid in members.items() if cid == made.cells["CTL"]}
    assert control and not control & _queued(session, made.wave_id)
    assert result.excluded["control"] == len(control)
    assert result.queued + len(control) == 60
    # the same seeded hash gives the same cells whatever the order of the persons
    cells = list(session.scalars(select(Cell).where(Cell.campaign_id == made.campaign_id)))
    again = draw_cells(made.campaign_id, cells, list(reversed(ids)))
    assert {pid: c.id for pid, c in again.items()} == members
    # control is the persons whose hash is below the control share
    assert control == {pid for pid in ids if unit_hash(f"campaign:{made.campaign_id}", pid) < 0.2}


def test_stratified_assignment_splits_every_tier(session: Session) -> None:
    ids = base(session, [Spec() for _ in range(40)])
    tiers(session, {pid: ("A" if i < 20 else "C", 100.0 - i) for i, pid in enumerate(ids)})
    made = campaign(session, "STRAT", ids, cells=(("CTL", None, 0.5), ("A", "email", 0.5)),
                    stratify_by_tier=True)  # fmt: skip
    extract_wave(session, made.wave_id)
    queued = _queued(session, made.wave_id)
    assert len(queued & set(ids[:20])) == 10 and len(queued & set(ids[20:])) == 10


def test_global_holdout_is_persistent(session: Session) -> None:
    ids = base(session, [Spec() for _ in range(50)])
    set_global_holdout(session, 20)
    first = campaign(session, "H1", ids)
    extract_wave(session, first.wave_id)
    held = {pid for pid, (stage, _) in _reasons(session, first.wave_id).items()
            if stage == "holdout"}  # fmt: skip
    assert 0 < len(held) < 25
    second = campaign(session, "H2", ids, at=T0 + timedelta(days=30))
    extract_wave(session, second.wave_id)
    assert {
        pid for pid, (s, _) in _reasons(session, second.wave_id).items() if s == "holdout"
    } == held
    assert not held & (_queued(session, first.wave_id) | _queued(session, second.wave_id))


def test_one_person_per_household_keeps_the_most_valuable(session: Session) -> None:
    ids = base(session, [Spec(household=1), Spec(household=1), Spec(household=2), Spec()])
    tiers(session, {ids[0]: ("B", 10.0), ids[1]: ("A", 500.0)})
    made = campaign(session, "HOME", ids, one_per_household=True)
    extract_wave(session, made.wave_id)
    assert _queued(session, made.wave_id) == {ids[1], ids[2], ids[3]}
    assert _reasons(session, made.wave_id)[ids[0]] == (
        "household",
        f"one per household: person {ids[1]} is addressed",
    )


def test_pressure_rule_limits_messages_per_period_and_gap(session: Session) -> None:
    ids = base(session, [Spec() for _ in range(3)])
    save_rule(session, "two-a-week", max_messages=2, period_days=7, channel="email")
    waves = [campaign(session, f"P{i}", ids, at=T0 + timedelta(days=i * 2)) for i in range(3)]
    for w in waves[:2]:
        assert extract_wave(session, w.wave_id).queued == 3
    third = extract_wave(session, waves[2].wave_id)
    assert third.queued == 0 and third.excluded == {"pressure": 3}
    assert (
        "rule two-a-week: 2 of 2 already on email within 7 days"
        in _reasons(session, waves[2].wave_id)[ids[0]][1]
    )
    save_rule(session, "gap", max_messages=99, period_days=1, min_gap_hours=72)
    late = campaign(session, "LATE", ids, at=T0 + timedelta(days=30))
    near = campaign(session, "NEAR", ids, at=T0 + timedelta(days=31))
    assert extract_wave(session, late.wave_id).queued == 3
    assert extract_wave(session, near.wave_id).excluded == {"pressure": 3}


def test_weights_and_tier_thresholds(session: Session) -> None:
    ids = base(session, [Spec(), Spec()])
    tiers(session, {ids[0]: ("A", 900.0), ids[1]: ("C", 5.0)})
    save_rule(session, "tier-c", max_messages=2, period_days=30, tier="C")
    heavy = campaign(session, "HEAVY", ids, weight=2)
    extract_wave(session, heavy.wave_id)
    light = campaign(session, "LIGHT", ids, at=T0 + timedelta(days=3))
    extract_wave(session, light.wave_id)
    assert _queued(session, light.wave_id) == {ids[0]}  # tier A has no rule; tier C is full


def test_arbitration_gives_the_person_to_the_higher_priority_in_any_order(session: Session) -> None:
    ids = base(session, [Spec() for _ in range(4)])
    low = campaign(session, "LOW", ids, priority=10)
    high = campaign(session, "HIGH", ids[:2], priority=90, at=T0 + timedelta(hours=5))
    extract_wave(session, low.wave_id)
    result = extract_wave(session, high.wave_id)  # the higher one comes second: it still wins
    assert result.withdrawn_from_other_waves == 2
    assert _queued(session, high.wave_id) == set(ids[:2])
    assert _queued(session, low.wave_id) == set(ids[2:])
    assert _reasons(session, low.wave_id)[ids[0]] == (
        "arbitration",
        "lost to campaign HIGH (higher priority or expected value)",
    )
    other = campaign(session, "OTHER", ids, priority=50, at=T0 + timedelta(hours=8))
    extract_wave(session, other.wave_id)
    assert _queued(session, other.wave_id) == set(ids[2:])
    assert _reasons(session, other.wave_id)[ids[0]] == (
        "arbitration",
        "kept by campaign HIGH (priority 90)",
    )


def test_capacity_per_channel_keeps_the_most_valuable(session: Session) -> None:
    ids = base(session, [Spec(phone=True, consent={Channel.PHONE: "granted"}) for _ in range(5)])
    tiers(session, {pid: ("A", float(i)) for i, pid in enumerate(ids)})
    session.add(ChannelCapacity(channel="phone", max_messages=3, period_days=1))
    made = campaign(session, "CALLS", ids, cells=(("A", "phone", 1.0),))
    result = extract_wave(session, made.wave_id)
    assert _queued(session, made.wave_id) == set(ids[2:])
    assert result.excluded == {"capacity": 2}
    assert _reasons(session, made.wave_id)[ids[0]][1].startswith("phone capacity of 2026-12-01")


def test_a_weekly_capacity_is_an_iso_week_from_monday(session: Session) -> None:
    ids = base(session, [Spec(consent={Channel.EMAIL: "granted"}) for _ in range(3)])
    session.add(ChannelCapacity(channel="email", max_messages=2, period_days=7))
    sunday = T0 + timedelta(days=5)  # 2026-12-06, the last day of its ISO week
    assert sunday.isoweekday() == 7
    first = campaign(session, "SUN", ids, at=sunday)
    assert extract_wave(session, first.wave_id).excluded == {"capacity": 1}
    [(_pid, (_stage, reason))] = _reasons(session, first.wave_id).items()
    assert reason == "email capacity of 2026-11-30 to 2026-12-07 is used up"
    monday = campaign(session, "MON", ids, at=sunday + timedelta(days=1, hours=3))
    assert extract_wave(session, monday.wave_id).queued == 2  # a new week: room for two more


def test_each_cell_treats_its_own_segment(session: Session) -> None:
    ids = base(session, [Spec(consent={Channel.EMAIL: "granted", Channel.SMS: "granted"},
                              phone=True) for _ in range(6)])  # fmt: skip
    made = campaign(session, "MIX", ids, cells=(("MAIL", "email", 1.0), ("TEXT", "sms", 1.0)))
    from closedloop.segments import freeze_members

    mail = freeze_members(session, "mail people", ids[:2], {"source": "test"})
    text = freeze_members(session, "text people", ids[2:4], {"source": "test"})
    cells = {
        c.code: c for c in session.scalars(select(Cell).where(Cell.campaign_id == made.campaign_id))
    }
    cells["MAIL"].segment_id, cells["TEXT"].segment_id = mail.id, text.id
    session.flush()
    result = extract_wave(session, made.wave_id)
    assert result.by_cell == {"MAIL": 2, "TEXT": 2} and result.excluded == {"no_cell": 2}
    rows = dict(session.execute(select(Communication.person_id, Communication.channel)).all())
    assert rows == {ids[0]: "email", ids[1]: "email", ids[2]: "sms", ids[3]: "sms"}
