"""The shared campaign calendar (M11, M12): every wave on its day with the volume it sends per
channel, the contact pressure the plan creates, and the conflicts to settle before launch.

- **Volume** of a wave: its send ledger by channel once extracted; before, its planned volume
  (``expected_volume``, else the size of a snapshot target) split over its cells' channels
  by their shares (control cells send nothing).
- **Pressure** of a day: the most messages one person of a target segment gets in the seven
  days up to that day (waves whose targets share persons add up).
- **Conflicts**: waves whose targets share persons and that together break a pressure rule
  (more messages in the rule's period than it allows, or two closer than its minimum gap),
  and channel capacities exceeded in a period. Extraction enforces the rules anyway (the lower
  priority loses the person): a conflict says who would lose, before launch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns import coordination as co
from closedloop.campaigns.coordination_models import (
    CampaignTargeting,
    ChannelCapacity,
    PressureRule,
)
from closedloop.campaigns.models import Campaign, Cell, Communication, Wave
from closedloop.db.base import as_utc
from closedloop.segments import SNAPSHOT, Segment
from closedloop.vocab import CampaignStatus
from closedloop.vocab import CommunicationStatus as St

PRESSURE_DAYS = 7
EPOCH = date(1970, 1, 5)  # a Monday: 7-day capacity periods are ISO weeks (as in extraction)
UNSENT = (St.SKIPPED.value, St.SUPPRESSED.value)


@dataclass
class WaveEntry:
    """A wave on the calendar."""

    campaign_id: int
    code: str
    version: int
    campaign: str
    status: str
    priority: int
    wave_id: int
    wave: str
    wave_status: str
    at: datetime | None
    day: date
    segment_id: int | None
    volumes: dict[str, int]
    extracted: bool

    @property
    def active(self) -> bool:
        """Whether it still counts (not cancelled)."""
        cancelled = CampaignStatus.CANCELLED.value
        return self.status != cancelled and self.wave_status != cancelled


@dataclass
class DayLoad:
    """One day: the volume per channel and the contact pressure."""

    day: date
    volumes: dict[str, int] = field(default_factory=dict)
    waves: list[int] = field(default_factory=list)
    pressure: int = 0


@dataclass(frozen=True)
class Clash:
    """A conflict of the plan: its kind (pressure, gap, capacity), what it is, the waves."""

    kind: str
    message: str
    wave_ids: tuple[int, ...]
    day: date


@dataclass
class Calendar:
    """The calendar of ``start`` (included) to ``end`` (excluded)."""

    start: date
    end: date
    entries: list[WaveEntry]
    days: list[DayLoad]
    conflicts: list[Clash]


def _volumes(
    session: Session,
    waves: list[Wave],
    campaigns: dict[int, Campaign],
    targets: dict[int, int | None],
) -> dict[int, tuple[dict[str, int], bool]]:
    ids = [w.id for w in waves]
    ledger: dict[int, dict[str, int]] = defaultdict(dict)
    if ids:
        rows = session.execute(
            select(Communication.wave_id, Communication.channel, func.count())
            .where(Communication.wave_id.in_(ids), Communication.status.not_in(UNSENT))
            .group_by(Communication.wave_id, Communication.channel)
        )
        for wave_id, channel, n in rows:
            ledger[wave_id or 0][channel] = n
    cells: dict[int, list[Cell]] = defaultdict(list)
    for cell in session.scalars(select(Cell).where(Cell.campaign_id.in_(set(campaigns)))):
        cells[cell.campaign_id].append(cell)
    sizes: dict[int, int | None] = {
        row.id: row.frozen_count
        for row in session.execute(
            select(Segment.id, Segment.frozen_count).where(
                Segment.id.in_({t for t in targets.values() if t}), Segment.kind == SNAPSHOT
            )
        )
    }
    out = {}
    for w in waves:
        if ledger.get(w.id):
            out[w.id] = (dict(ledger[w.id]), True)
            continue
        planned = w.expected_volume
        if planned is None:
            planned = sizes.get(targets.get(w.campaign_id) or 0) or 0
        shares: dict[str, float] = defaultdict(float)
        for c in cells[w.campaign_id]:
            if not c.is_control and c.channel:
                shares[c.channel] += c.share
        out[w.id] = ({ch: round(planned * s) for ch, s in shares.items()}, False)
    return out


def entries(session: Session, start: date, end: date) -> list[WaveEntry]:
    """The waves whose day (their time, else their campaign's start) falls in the range."""
    lo = datetime.combine(start, time(), tzinfo=UTC)
    hi = datetime.combine(end, time(), tzinfo=UTC)
    dated = Wave.scheduled_at.is_not(None) & (Wave.scheduled_at >= lo) & (Wave.scheduled_at < hi)
    undated = (
        Wave.scheduled_at.is_(None) & (Campaign.starts_on >= start) & (Campaign.starts_on < end)
    )
    rows = session.execute(
        select(Wave, Campaign)
        .join(Campaign, Campaign.id == Wave.campaign_id)
        .where(dated | undated)
        .order_by(Wave.scheduled_at, Wave.id)
    ).all()
    campaigns = {c.id: c for _w, c in rows}
    targets: dict[int, int | None] = {cid: None for cid in campaigns}
    for t in session.scalars(
        select(CampaignTargeting).where(CampaignTargeting.campaign_id.in_(set(campaigns)))
    ):
        targets[t.campaign_id] = t.segment_id
    volumes = _volumes(session, [w for w, _c in rows], campaigns, targets)
    out = []
    for w, c in rows:
        at = as_utc(w.scheduled_at) if w.scheduled_at else None
        day = at.date() if at else c.starts_on
        assert day is not None
        vols, extracted = volumes[w.id]
        out.append(
            WaveEntry(
                c.id,
                c.code,
                c.version,
                c.name,
                c.status,
                c.priority,
                w.id,
                w.name,
                w.status,
                at,
                day,
                targets[c.id],
                vols,
                extracted,
            )
        )
    return out


class _Overlap:
    """Whether two targets share persons (members read once per segment)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.members: dict[int, set[int]] = {}

    def __call__(self, a: int | None, b: int | None) -> bool:
        if a is None or b is None:
            return False
        if a == b:
            return True
        for s in (a, b):
            if s not in self.members:
                self.members[s] = set(co.segment_audience(self.session, s).ids)
        return not self.members[a].isdisjoint(self.members[b])


def _channels(e: WaveEntry) -> set[str]:
    return set(e.volumes)


def _label(e: WaveEntry) -> str:
    return f"{e.code} «{e.wave}» ({e.day.isoformat()}, priority {e.priority})"


def _rule_clashes(es: list[WaveEntry], rules: list[PressureRule], overlap: _Overlap) -> set[Clash]:
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


def _clashes(session: Session, es: list[WaveEntry]) -> list[Clash]:
    rules = list(session.scalars(select(PressureRule).where(PressureRule.active.is_(True))))
    caps = list(session.scalars(select(ChannelCapacity)))
    found = _rule_clashes(es, rules, _Overlap(session)) | _capacity_clashes(es, caps)
    return sorted(found, key=lambda c: (c.day, c.kind, c.wave_ids))


def _pressure(es: list[WaveEntry], day: date, overlap: _Overlap) -> int:
    recent = [e for e in es if e.active and e.volumes and 0 <= (day - e.day).days < PRESSURE_DAYS]
    best = 0
    for e in recent:
        if e.segment_id is not None:
            best = max(best, sum(1 for o in recent if overlap(e.segment_id, o.segment_id)))
    return best


def calendar(session: Session, start: date, end: date) -> Calendar:
    """The calendar from ``start`` to ``end`` (excluded): waves, daily load, conflicts (waves
    up to a month before ``start`` count towards pressure and rules)."""
    margin = 31
    seen = entries(session, start - timedelta(days=margin), end)
    shown = [e for e in seen if e.day >= start]
    overlap = _Overlap(session)
    days = []
    for n in range((end - start).days):
        day = start + timedelta(days=n)
        load = DayLoad(day)
        for e in shown:
            if e.day == day:
                load.waves.append(e.wave_id)
                for channel, v in e.volumes.items():
                    if e.active:
                        load.volumes[channel] = load.volumes.get(channel, 0) + v
        load.pressure = _pressure(seen, day, overlap)
        days.append(load)
    clashes = [
        c
        for c in _clashes(session, seen)
        if c.day >= start or any(e.wave_id in c.wave_ids for e in shown)
    ]
    return Calendar(start, end, shown, days, clashes)


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
    return [c for c in _clashes(session, seen) if mine & set(c.wave_ids)]


def month(year: int, month_no: int) -> tuple[date, date]:
    """The first day of the month and of the next one."""
    first = date(year, month_no, 1)
    return first, (first + timedelta(days=32)).replace(day=1)


def week(day: date) -> tuple[date, date]:
    """The Monday of ``day``'s week and the Monday after."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def calendar_doc(plan: Calendar) -> dict[str, Any]:
    """The calendar as JSON-ready values."""
    return {
        "start": plan.start.isoformat(),
        "end": plan.end.isoformat(),
        "waves": [
            {
                **{k: v for k, v in asdict(e).items() if k not in ("at", "day")},
                "at": e.at.isoformat() if e.at else None,
                "day": e.day.isoformat(),
            }
            for e in plan.entries
        ],
        "days": [{**asdict(d), "day": d.day.isoformat()} for d in plan.days],
        "conflicts": [
            {**asdict(c), "day": c.day.isoformat(), "wave_ids": list(c.wave_ids)}
            for c in plan.conflicts
        ],
    }
