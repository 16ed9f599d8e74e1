"""Pressure and arbitration for a whole audience at once: one read, one decision per situation.

A person's *situation* is what :func:`closedloop.campaigns.arbitration.decide` looks at: the
counted messages around the new one (time, channel, weight) and, among them, the queued
messages of other campaigns that compete (their wave, campaign and rank), plus the person's
value tier and the new message's channel. Thousands of persons share one situation (the same
earlier waves, the same rules), so the decision is taken once per distinct situation and
applied to every person in it: the result is the one :func:`decide` gives person by person
(the same function is called), at a cost that grows with the number of situations, not of
persons.

The history and the competitors come from one query (the counted messages within the
horizon), where the two used to be read apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from closedloop.campaigns import arbitration as arb
from closedloop.campaigns.bulk import rows as rows_of
from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.models import Campaign, Communication, Wave
from closedloop.campaigns.pressure import COUNTED, Past, Rule, message_time
from closedloop.db.base import as_utc
from closedloop.vocab import CommunicationStatus as St

#: One counted message as a situation holds it: time, channel, weight, and for a competitor
#: (wave id, campaign code, rank); None for a message that does not compete.
Entry = tuple[datetime, str, int, tuple[int, str, arb.Rank] | None]


def read(
    session: Session,
    person_filter: ColumnElement[bool],
    campaign_id: int,
    at: datetime,
    span: timedelta,
    into: dict[int, list[tuple[Entry, int]]],
) -> None:
    """Add to ``into`` the counted messages within ``span`` of ``at`` of the persons
    ``person_filter`` selects (competitors marked: queued, of another campaign's wave)."""
    when = message_time()
    stmt = (
        select(
            Communication.person_id,
            when,
            Communication.channel,
            func.coalesce(CampaignTargeting.weight, 1),
            Communication.id,
            Communication.status,
            Communication.campaign_id,
            Wave.id,
            Campaign.code,
            Campaign.priority,
            func.coalesce(CampaignTargeting.expected_value, 0.0),
        )
        .outerjoin(Wave, Wave.id == Communication.wave_id)
        .outerjoin(Campaign, Campaign.id == Communication.campaign_id)
        .outerjoin(CampaignTargeting, CampaignTargeting.campaign_id == Communication.campaign_id)
        .where(person_filter, Communication.status.in_(COUNTED))
        .where(when > at - span, when < at + span)
    )
    queued = St.QUEUED.value
    times: dict[object, datetime] = {}  # most messages share a few times: convert each once
    ranks: dict[tuple[int, str, Any, Any], tuple[int, str, arb.Rank]] = {}
    for pid, t, channel, weight, cid, status, camp, wid, code, priority, value in rows_of(
        session, stmt
    ):
        at_ = times.get(t)
        if at_ is None:
            at_ = times[t] = as_utc(t if isinstance(t, datetime) else datetime.fromisoformat(t))
        rival = None
        if status == queued and wid is not None and camp is not None and camp != campaign_id:
            key = (wid, code, priority, value)
            rival = ranks.get(key)
            if rival is None:
                rank = arb.Rank(int(priority or 0), float(value or 0.0))
                rival = ranks[key] = (int(wid), code, rank)
        entry: Entry = (at_, channel, int(weight), rival)
        found = into.get(pid)
        if found is None:
            into[pid] = [(entry, cid)]
        else:
            found.append((entry, cid))


@dataclass(frozen=True)
class Outcome:
    """The decision for one situation: excluded at ``stage`` with ``reason``, or kept after
    withdrawing the competitors at positions ``beaten`` of the situation's sorted entries."""

    stage: str | None
    reason: str
    beaten: tuple[int, ...]


def _decide(
    rules: Sequence[Rule],
    tier: str | None,
    situation: tuple[Entry, ...],
    mine: arb.Rank,
    channel: str,
    at: datetime,
    weight: int,
) -> Outcome:
    """:func:`arb.decide` on a situation (positions stand for the messages' ids)."""
    history = [Past(t, ch, w, n) for n, (t, ch, w, _r) in enumerate(situation)]
    competitors = [
        arb.Rival(n, r[0], r[1], r[2], t) for n, (t, _ch, _w, r) in enumerate(situation) if r
    ]
    d = arb.decide(rules, tier, history, competitors, mine, channel, at, weight)
    return Outcome(d.stage, d.reason, tuple(r.communication_id for r in d.beaten))


def decide_all(
    rules: Sequence[Rule],
    persons: Sequence[int],
    tier_of: dict[int, str | None],
    channel_of: dict[int, str],
    around: dict[int, list[tuple[Entry, int]]],
    mine: arb.Rank,
    at: datetime,
    weight: int,
) -> tuple[dict[int, tuple[str, str]], dict[int, list[arb.Rival]]]:
    """Each person's exclusion (stage, reason), and the competitors each kept person beats."""
    memo: dict[tuple[str | None, str, tuple[Entry, ...]], Outcome] = {}
    out: dict[int, tuple[str, str]] = {}
    beats: dict[int, list[arb.Rival]] = {}
    empty: list[tuple[Entry, int]] = []
    for pid in persons:
        found = around.get(pid, empty)
        if len(found) > 1:
            found.sort(key=_order)
        situation = tuple(e for e, _ in found)
        key = (tier_of.get(pid), channel_of[pid], situation)
        outcome = memo.get(key)
        if outcome is None:
            outcome = memo[key] = _decide(rules, key[0], situation, mine, key[1], at, weight)
        if outcome.stage:
            out[pid] = (outcome.stage, outcome.reason)
        elif outcome.beaten:
            beats[pid] = [_rival(found[n]) for n in outcome.beaten]
    return out, beats


def _order(item: tuple[Entry, int]) -> tuple[Any, ...]:
    (t, channel, weight, rival), _cid = item
    return (t, channel, weight, rival is not None, rival[0] if rival else 0)


def _rival(item: tuple[Entry, int]) -> arb.Rival:
    (t, _channel, _weight, rival), cid = item
    assert rival is not None  # only competitors are beaten
    return arb.Rival(cid, rival[0], rival[1], rival[2], t)
