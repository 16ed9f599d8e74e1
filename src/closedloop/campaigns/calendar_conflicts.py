"""The conflicts of the shared campaign calendar (:mod:`closedloop.campaigns.calendar`): waves
whose targets share persons and that together break a pressure rule (more messages in the
rule's period than it allows, or two closer than its minimum gap), and channel capacities
exceeded in a period. Extraction enforces the rules anyway (the lower priority loses the
person): a conflict says who would lose, before launch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns.calendar_entries import Overlap, WaveEntry, entries
from closedloop.campaigns.coordination_models import ChannelCapacity, PressureRule
from closedloop.campaigns.models import Campaign, Wave
from closedloop.db.base import as_utc

EPOCH = date(1970, 1, 5)  # a Monday: 7-day capacity periods are ISO weeks (as in extraction)


@dataclass(frozen=True)
class Clash:
    """A conflict of the plan: its kind (pressure, gap, capacity), what it is, the waves."""

    kind: str
    message: str
    wave_ids: tuple[int, ...]
    day: date


def _channels(e: WaveEntry) -> set[str]:
    return set(e.volumes)


def _label(e: WaveEntry) -> str:
    return f"{e.code} «{e.wave}» ({e.day.isoformat()}, priority {e.priority})"


def _rule_clashes(es: list[WaveEntry], rules: list[PressureRule], overlap: Overlap) -> set[Clash]:
    found: set[Clash] = set()
    for rule in rules:
        on = [e for e in es if e.active and (rule.channel is None or rule.channel in _channels(e))]
        what = rule.channel or "any channel"
        for e in on:
            window = [
                o
                for o in on
                if 0 <= (e.day - o.day).days < rule.period_days
                and overlap(e.segment_id, o.segment_id)
            ]
            if len(window) > rule.max_messages:
                ids = tuple(sorted(o.wave_id for o in window))
                names = ", ".join(_label(o) for o in sorted(window, key=lambda o: o.day))
                found.add(
                    Clash(
                        "pressure",
                        f"rule {rule.name}: at most {rule.max_messages} on "
                        f"{what} in {rule.period_days} days, but {len(window)} waves "
                        f"reach the same persons: {names}",
                        ids,
                        e.day,
                    )
                )
            if rule.min_gap_hours and e.at:
                for o in on:
                    if (
                        o.wave_id <= e.wave_id
                        or not o.at
                        or not overlap(e.segment_id, o.segment_id)
                    ):
                        continue
                    hours = abs((o.at - e.at).total_seconds()) / 3600
                    if hours < rule.min_gap_hours:
                        found.add(
                            Clash(
                                "gap",
                                f"rule {rule.name}: at least {rule.min_gap_hours:g} h "
                                f"between two on {what}, but {_label(e)} and {_label(o)} "
                                f"are {hours:.0f} h apart",
                                (e.wave_id, o.wave_id),
                                min(e.day, o.day),
                            )
                        )
    return found


def _capacity_clashes(es: list[WaveEntry], caps: list[ChannelCapacity]) -> set[Clash]:
    found: set[Clash] = set()
    for cap in caps:
        buckets: dict[int, list[WaveEntry]] = defaultdict(list)
        for e in es:
            if e.active and e.volumes.get(cap.channel):
                buckets[(e.day - EPOCH).days // cap.period_days].append(e)
        for bucket, group in buckets.items():
            total = sum(e.volumes[cap.channel] for e in group)
            if total > cap.max_messages:
                first = EPOCH + timedelta(days=bucket * cap.period_days)
                found.add(
                    Clash(
                        "capacity",
                        f"{cap.channel}: {total:,} messages planned from "
                        f"{first.isoformat()} for {cap.period_days} day(s), capacity "
                        f"{cap.max_messages:,}",
                        tuple(sorted(e.wave_id for e in group)),
                        first,
                    )
                )
    return found


def clashes(session: Session, es: list[WaveEntry]) -> list[Clash]:
    """The conflicts among the entries ``es``: pressure rules, minimum gaps, capacities."""
    rules = list(session.scalars(select(PressureRule).where(PressureRule.active.is_(True))))
    caps = list(session.scalars(select(ChannelCapacity)))
    found = _rule_clashes(es, rules, Overlap(session)) | _capacity_clashes(es, caps)
    return sorted(found, key=lambda c: (c.day, c.kind, c.wave_ids))


def conflicts_of(session: Session, campaign_id: int) -> list[Clash]:
    """The conflicts the campaign's waves are part of (within a month around them)."""
    days = [
        as_utc(at).date()
        for at in session.scalars(select(Wave.scheduled_at).where(Wave.campaign_id == campaign_id))
        if at is not None
    ]
    campaign = session.get(Campaign, campaign_id)
    if campaign is not None and campaign.starts_on:
        days.append(campaign.starts_on)
    if not days:
        return []
    seen = entries(session, min(days) - timedelta(days=31), max(days) + timedelta(days=32))
    mine = {e.wave_id for e in seen if e.campaign_id == campaign_id}
    return [c for c in clashes(session, seen) if mine & set(c.wave_ids)]
