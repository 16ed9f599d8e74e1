"""Pressure and arbitration decided once per situation give, person for person, what the
person-by-person decision gives (the function extraction used for every person before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop.campaigns import arbitration as arb
from closedloop.campaigns.pressure import Past, Rule
from closedloop.campaigns.situations import Entry, decide_all

AT = datetime(2026, 12, 10, 9, tzinfo=UTC)
CAMPAIGNS = {1: ("A", arb.Rank(1, 0.0)), 2: ("B", arb.Rank(2, 5.0)), 3: ("C", arb.Rank(3, 0.0)),
             4: ("D", arb.Rank(2, 0.0))}  # fmt: skip

rules = st.lists(
    st.builds(
        Rule,
        id=st.integers(1, 9),
        name=st.sampled_from(["r1", "r2"]),
        channel=st.sampled_from([None, "email", "sms"]),
        max_messages=st.integers(0, 3),
        period_days=st.integers(1, 8),
        min_gap_hours=st.sampled_from([0.0, 12.0, 30.0]),
        tier=st.sampled_from([None, "A"]),
    ),
    max_size=3,
)
message = st.tuples(
    st.integers(-6, 6),  # days from the new message
    st.sampled_from([0, 9]),  # hour
    st.sampled_from(["email", "sms"]),
    st.integers(0, 2),  # weight
    st.sampled_from([None, 1, 2, 3, 4]),  # the competing campaign's wave, or not competing
)
person = st.tuples(st.sampled_from([None, "A"]), st.sampled_from(["email", "sms"]),
                   st.lists(message, max_size=4, unique_by=lambda m: m[4] or -id(m)))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(rule_list=rules, people=st.lists(person, min_size=1, max_size=12),
       mine=st.sampled_from(list(CAMPAIGNS.values())), weight=st.integers(0, 2))  # fmt: skip
def test_one_decision_per_situation_is_each_persons_decision(
    rule_list: list[Rule], people: list[tuple[str | None, str, list[tuple]]],  # type: ignore[type-arg]
    mine: tuple[str, arb.Rank], weight: int,
) -> None:  # fmt: skip
    tiers: dict[int, str | None] = {}
    channels: dict[int, str] = {}
    around: dict[int, list[tuple[Entry, int]]] = {}
    next_id = 100
    for pid, (tier, channel, messages) in enumerate(people, start=1):
        tiers[pid], channels[pid] = tier, channel
        for days, hour, ch, w, wave in messages:
            t = AT + timedelta(days=days, hours=hour - 9)
            rival = (wave, *CAMPAIGNS[wave]) if wave else None
            around.setdefault(pid, []).append(((t, ch, w, rival), next_id))  # type: ignore[arg-type]
            next_id += 1
    persons = sorted(tiers)
    out, beats = decide_all(rule_list, persons, tiers, channels, around, mine[1], AT, weight)
    for pid in persons:
        rows = around.get(pid, [])  # in the order decide_all left them (a row order)
        history = [Past(e[0], e[1], e[2], cid) for e, cid in rows]
        rivals = [arb.Rival(cid, e[3][0], e[3][1], e[3][2], e[0]) for e, cid in rows if e[3]]
        d = arb.decide(rule_list, tiers[pid], history, rivals, mine[1], channels[pid], AT, weight)
        if d.stage:
            assert out[pid] == (d.stage, d.reason)
            assert pid not in beats
        else:
            assert pid not in out
            assert beats.get(pid, []) == list(d.beaten)
