"""The coordination invariants, checked by property-based tests over random bases, rules and
campaigns, and under two extractions running at the same time (threads on real connections):

* no message is ever queued for a person without a granted consent for its channel and the
  campaign's purpose, nor for a suppressed person;
* no pressure rule is ever exceeded: in no window of a rule's period does a person get more
  (weighted) messages than it allows, and no two are closer than its minimum gap.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.base import T0, Spec, base, campaign, tiers

from closedloop.campaigns.coordination_models import CampaignTargeting, PressureRule
from closedloop.campaigns.extraction import extract_wave
from closedloop.campaigns.models import Communication, Wave
from closedloop.campaigns.pressure import save_rule
from closedloop.consent.models import ConsentCurrent, Suppression
from closedloop.db.base import as_utc
from closedloop.db.uow import unit_of_work
from closedloop.vocab import Channel

CHANNELS = (Channel.EMAIL, Channel.SMS)

persons = st.lists(
    st.builds(
        Spec,
        consent=st.dictionaries(
            st.sampled_from(CHANNELS), st.sampled_from(["granted", "withdrawn"]), max_size=2
        ),
        suppressed=st.booleans(),
        email=st.booleans(),
        phone=st.booleans(),
    ),
    min_size=1,
    max_size=6,
)
rules = st.lists(
    st.fixed_dictionaries({
        "channel": st.sampled_from([None, "email", "sms"]),
        "max_messages": st.integers(0, 3),
        "period_days": st.integers(1, 10),
        "min_gap_hours": st.sampled_from([0.0, 12.0, 50.0]),
        "tier": st.sampled_from([None, "A"]),
    }),
    max_size=3,
)  # fmt: skip
campaigns = st.lists(
    st.fixed_dictionaries({
        "channel": st.sampled_from(["email", "sms"]),
        "control": st.booleans(),
        "priority": st.integers(1, 3),
        "weight": st.integers(0, 2),
        "day": st.integers(0, 12),
        "hour": st.sampled_from([0, 9, 20]),
    }),
    min_size=1,
    max_size=4,
)  # fmt: skip


def _build(session: Session, specs: list[Spec], rule_list: list[dict[str, object]],
           plan: list[dict[str, object]], tier_of: list[bool]) -> list[int]:  # fmt: skip
    ids = base(session, specs)
    tiers(session, {pid: ("A" if a else "C", 1.0) for pid, a in zip(ids, tier_of, strict=False)})
    for n, rule in enumerate(rule_list):
        save_rule(session, f"r{n}", **rule)  # type: ignore[arg-type]
    waves = []
    for n, c in enumerate(plan):
        cells: Sequence[tuple[str, str | None, float]] = [("T", str(c["channel"]), 0.7)]
        if c["control"]:
            cells = [*cells, ("CTL", None, 0.3)]
        at = T0 + timedelta(days=int(c["day"]), hours=int(c["hour"]))  # type: ignore[call-overload]
        made = campaign(session, f"K{n}", ids, cells=cells, priority=int(c["priority"]),  # type: ignore[call-overload]
                        at=at, weight=int(c["weight"]))  # type: ignore[call-overload]  # fmt: skip
        waves.append(made.wave_id)
    return waves


def check_invariants(session: Session) -> None:
    """Assert both invariants on everything queued in the store."""
    rows = session.execute(
        select(Communication.person_id, Communication.channel, Wave.scheduled_at,
               CampaignTargeting.weight)
        .join(Wave, Wave.id == Communication.wave_id)
        .join(CampaignTargeting, CampaignTargeting.campaign_id == Communication.campaign_id)
    ).all()  # fmt: skip
    granted = {(p, ch) for p, ch, state in session.execute(
        select(ConsentCurrent.person_id, ConsentCurrent.channel, ConsentCurrent.state)
        .where(ConsentCurrent.purpose == "marketing")) if state == "granted"}  # fmt: skip
    suppressed = set(session.scalars(select(Suppression.person_id)))
    for pid, channel, _at, _w in rows:
        assert (pid, channel) in granted, f"person {pid} got {channel} without consent"
        assert pid not in suppressed, f"suppressed person {pid} got {channel}"
    from closedloop.scoring.models import PersonScore

    tier_of = dict(session.execute(select(PersonScore.person_id, PersonScore.tier)).all())
    for rule in session.scalars(select(PressureRule)):
        by_person: dict[int, list[tuple[datetime, int]]] = {}
        for pid, channel, at, weight in rows:
            if rule.channel not in (None, channel) or rule.tier not in (None, tier_of.get(pid)):
                continue
            by_person.setdefault(pid, []).append((as_utc(at), weight))
        period, gap = timedelta(days=rule.period_days), timedelta(hours=rule.min_gap_hours)
        for pid, msgs in by_person.items():
            msgs.sort()
            for i, (start, _) in enumerate(msgs):
                load = sum(w for t, w in msgs[i:] if t < start + period)
                assert load <= rule.max_messages, f"rule {rule.name} exceeded for person {pid}"
                if i and gap:
                    assert start - msgs[i - 1][0] >= gap, f"rule {rule.name} gap for {pid}"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=persons, rule_list=rules, plan=campaigns, order=st.randoms(use_true_random=False),
       tier_of=st.lists(st.booleans(), min_size=6, max_size=6))  # fmt: skip
def test_random_campaigns_never_break_consent_or_pressure(
    factory: sessionmaker[Session], specs: list[Spec], rule_list: list[dict[str, object]],
    plan: list[dict[str, object]], order: object, tier_of: list[bool],
) -> None:  # fmt: skip
    session = factory()
    try:
        waves = _build(session, specs, rule_list, plan, tier_of)
        order.shuffle(waves)  # type: ignore[attr-defined]
        for wave_id in waves:
            extract_wave(session, wave_id)
        session.flush()
        check_invariants(session)
    finally:
        session.rollback()
        session.close()


def test_two_waves_extracted_at_once_never_exceed_a_rule(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        ids = base(session, [Spec(consent={Channel.EMAIL: "granted"}) for _ in range(30)])
        save_rule(session, "one-a-week", max_messages=1, period_days=7)
        waves = [campaign(session, f"W{n}", ids, at=T0 + timedelta(days=2 * n)).wave_id
                 for n in range(4)]  # fmt: skip
    errors: list[BaseException] = []
    start = threading.Barrier(len(waves))

    def run(wave_id: int) -> None:
        try:
            start.wait()
            with unit_of_work(factory) as s:
                extract_wave(s, wave_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in waves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with unit_of_work(factory) as session:
        check_invariants(session)
        per_person = session.execute(select(Communication.person_id)).scalars().all()
        assert sorted(per_person) == sorted(ids)  # each person exactly one message
