"""Arbitration between concurrent waves (M12): when a person cannot get every message planned
for them, the campaign that matters most wins, whatever the order of extraction.

A queued message of another campaign's wave *competes* with the new one when both could not
be kept: they are less than :data:`CONCURRENT` apart (two waves the same day), or keeping both
would break a pressure rule. The new message then wins if withdrawing competitors of lower
rank (priority, then expected value of a contact), lowest first, is enough; their waves log
the exclusion. Otherwise the new wave logs the person as excluded, naming the campaign that
keeps them. A competitor that a sender already took (no longer ``queued``) is never withdrawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from closedloop.campaigns.bulk import db_time, insert_groups
from closedloop.campaigns.coordination_models import CampaignTargeting, Exclusion
from closedloop.campaigns.models import Campaign, Communication
from closedloop.campaigns.pressure import Past, Rule, check
from closedloop.db.base import utcnow
from closedloop.vocab import CommunicationStatus as St

#: Messages of two campaigns closer than this compete for the person even with no rule.
CONCURRENT = timedelta(hours=24)
ARBITRATION = "arbitration"


@dataclass(frozen=True, order=True)
class Rank:
    """How much a campaign's contact matters: priority first, then expected value."""

    priority: int
    expected_value: float


@dataclass(frozen=True)
class Rival:
    """A queued message of a concurrent wave for a person of the audience."""

    communication_id: int
    wave_id: int
    campaign_code: str
    rank: Rank
    at: datetime


def campaign_rank(session: Session, campaign_id: int) -> Rank:
    """The rank of campaign ``campaign_id``."""
    row = session.execute(
        select(Campaign.priority, func.coalesce(CampaignTargeting.expected_value, 0.0))
        .outerjoin(CampaignTargeting, CampaignTargeting.campaign_id == Campaign.id)
        .where(Campaign.id == campaign_id)
    ).one()
    return Rank(int(row[0] or 0), float(row[1] or 0.0))


@dataclass(frozen=True)
class Decision:
    """What pressure and arbitration say about one person: excluded at ``stage`` with
    ``reason``, or kept after withdrawing ``beaten``."""

    stage: str | None = None
    reason: str = ""
    beaten: tuple[Rival, ...] = ()


#: The decision for a person nothing stops and who beats no one.
KEEP = Decision()


def decide(
    rules: Sequence[Rule],
    tier: str | None,
    history: Sequence[Past],
    competitors: Sequence[Rival],
    mine: Rank,
    channel: str,
    at: datetime,
    weight: int,
) -> Decision:
    """Pressure, then arbitration, for one person's new message (pure)."""
    if not competitors:  # the usual case: pressure alone
        why = check(rules, tier, history, channel, at, weight) if rules else None
        return Decision("pressure", why) if why else KEEP
    # a competitor of equal rank is simply there first (pressure); one of another rank is
    # arbitration's business: it keeps the person, or is withdrawn
    ids = {r.communication_id for r in competitors if r.rank != mine}
    settled = [p for p in history if p.communication_id not in ids]
    why = check(rules, tier, settled, channel, at, weight)
    if why:
        return Decision("pressure", why)
    kept = list(competitors)
    beaten: list[Rival] = []
    for rival in sorted((r for r in kept if r.rank < mine), key=lambda r: r.rank):
        if not _conflict(rules, tier, history, kept, beaten, channel, at, weight):
            break
        kept.remove(rival)
        beaten.append(rival)
    if _conflict(rules, tier, history, kept, beaten, channel, at, weight):
        keeper = max(kept, key=lambda r: r.rank)
        return Decision(
            "arbitration",
            f"kept by campaign {keeper.campaign_code} (priority {keeper.rank.priority})",
        )
    return Decision(beaten=tuple(beaten))


def _conflict(
    rules: Sequence[Rule],
    tier: str | None,
    history: Sequence[Past],
    kept: Sequence[Rival],
    beaten: Sequence[Rival],
    channel: str,
    at: datetime,
    weight: int,
) -> bool:
    """True when the new message cannot join ``kept`` (with ``beaten`` withdrawn)."""
    if any(abs(r.at - at) < CONCURRENT for r in kept):
        return True
    gone = {r.communication_id for r in beaten}
    live = [p for p in history if p.communication_id not in gone]
    return check(rules, tier, live, channel, at, weight) is not None


def withdraw(session: Session, losers: dict[int, list[Rival]], winner_code: str) -> set[int]:
    """Withdraw the still-queued rival messages of the persons in ``losers`` (their waves log
    the exclusion); returns the persons whose every rival message was withdrawn (a message a
    sender took meanwhile cannot be, so that person stays with it)."""
    ids = [r.communication_id for rs in losers.values() for r in rs]
    gone: set[int] = set()
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        gone |= set(
            session.scalars(
                delete(Communication)
                .where(Communication.id.in_(part), Communication.status == St.QUEUED.value)
                .returning(Communication.id)
            )
        )
    rows: dict[tuple[int, str, str, object], list[int]] = {}  # (wave, …) → persons
    kept: set[int] = set()
    now = db_time(session, utcnow())
    reason = f"lost to campaign {winner_code} (higher priority or expected value)"[:300]
    for pid, rs in losers.items():
        if all(r.communication_id in gone for r in rs):
            kept.add(pid)
        for r in rs:
            if r.communication_id in gone:
                rows.setdefault((r.wave_id, ARBITRATION, reason, now), []).append(pid)
    columns = ("wave_id", "stage", "reason", "created_at")
    insert_groups(session, Exclusion.__table__, columns, "person_id", rows)  # type: ignore[arg-type]
    return kept
