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
    entries: dict[tuple[Any, ...], Entry] | None = None,
) -> None:
    """Add to ``into`` the counted messages within ``span`` of ``at`` of the persons
    ``person_filter`` selects (competitors marked: queued, of another campaign's wave).
    ``entries`` keeps the entries made, for the next call of the same extraction to share."""
    when = message_time()
    stmt = (
        select(
            Communication.person_id,
            Communication.id,
            when,
            Communication.channel,
            Communication.status,
            Communication.campaign_id,
            Wave.id,
        )
        .outerjoin(Wave, Wave.id == Communication.wave_id)
        .where(person_filter, Communication.status.in_(COUNTED))
        .where(when > at - span, when < at + span)
    )
    campaigns = _campaigns(session)
    # most messages share a few (time, channel, status, campaign, wave): one entry for each
    entries = {} if entries is None else entries
    for row in rows_of(session, stmt):
        key = row[2:]
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _entry(key, campaign_id, campaigns)
        found = into.get(row[0])
        if found is None:
            into[row[0]] = [(entry, row[1])]
        else:
            found.append((entry, row[1]))


def _campaigns(session: Session) -> dict[int, tuple[int, str, arb.Rank]]:
    """Each campaign's message weight, code and rank (a few rows: read once, not per message)."""
    stmt = select(
        Campaign.id,
        func.coalesce(CampaignTargeting.weight, 1),
        Campaign.code,
        Campaign.priority,
        func.coalesce(CampaignTargeting.expected_value, 0.0),
    ).outerjoin(CampaignTargeting, CampaignTargeting.campaign_id == Campaign.id)
    return {
        int(cid): (int(weight), code, arb.Rank(int(priority or 0), float(value or 0.0)))
        for cid, weight, code, priority, value in rows_of(session, stmt)
    }


def _entry(
    key: tuple[Any, ...], campaign_id: int, campaigns: dict[int, tuple[int, str, arb.Rank]]
) -> Entry:
    t, channel, status, camp, wid = key
    at = as_utc(t if isinstance(t, datetime) else datetime.fromisoformat(t))
    known = campaigns.get(camp) if camp is not None else None
    weight = known[0] if known is not None else 1
    rival = None
    if status == St.QUEUED.value and wid is not None and known is not None and camp != campaign_id:
        rival = (int(wid), known[1], known[2])
    return (at, channel, weight, rival)


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
    # the entries of :func:`read` are shared objects: a situation is first looked up by the
    # identities of its entries (hashing the values, with their ranks, costs more)
    by_ids: dict[tuple[str | None, str, tuple[int, ...]], Outcome] = {}
    out: dict[int, tuple[str, str]] = {}
    beats: dict[int, list[arb.Rival]] = {}
    empty: list[tuple[Entry, int]] = []
    for pid in persons:
        found = around.get(pid, empty)
        if len(found) > 1:
            found.sort(key=_order)
        tier, channel = tier_of.get(pid), channel_of[pid]
        ids = (tier, channel, tuple([id(e) for e, _ in found]))
        outcome = by_ids.get(ids)
        if outcome is None:
            situation = tuple(e for e, _ in found)
            key = (tier, channel, situation)
            outcome = memo.get(key)
            if outcome is None:
                outcome = memo[key] = _decide(rules, tier, situation, mine, channel, at, weight)
            by_ids[ids] = outcome
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
