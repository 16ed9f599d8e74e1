"""The shared campaign calendar (M11, M12): every wave on its day with the volume it sends per
channel, the contact pressure the plan creates, and the conflicts to settle before launch.

- **Volume** of a wave: its send ledger by channel once extracted; before, its planned volume
  (``expected_volume``, else the size of a snapshot target) split over its cells' channels
  by their shares (control cells send nothing).
- **Pressure** of a day: the most messages one person of a target segment gets in the seven
  days up to that day (waves whose targets share persons add up).
The waves and their volumes are in :mod:`closedloop.campaigns.calendar_entries`, the
conflicts in :mod:`closedloop.campaigns.calendar_conflicts`; this module lays them out by
month or week, day by day.

- **Conflicts**: waves whose targets share persons and that together break a pressure rule
  (more messages in the rule's period than it allows, or two closer than its minimum gap),
  and channel capacities exceeded in a period. Extraction enforces the rules anyway (the lower
  priority loses the person): a conflict says who would lose, before launch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from closedloop.campaigns.calendar_conflicts import Clash, clashes
from closedloop.campaigns.calendar_entries import Overlap, WaveEntry, entries

PRESSURE_DAYS = 7


@dataclass
class DayLoad:
    """One day: the volume per channel and the contact pressure."""

    day: date
    volumes: dict[str, int] = field(default_factory=dict)
    waves: list[int] = field(default_factory=list)
    pressure: int = 0


@dataclass
class Calendar:
    """The calendar of ``start`` (included) to ``end`` (excluded)."""

    start: date
    end: date
    entries: list[WaveEntry]
    days: list[DayLoad]
    conflicts: list[Clash]


def _pressure(es: list[WaveEntry], day: date, overlap: Overlap) -> int:
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
    overlap = Overlap(session)
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
    found = [
        c
        for c in clashes(session, seen)
        if c.day >= start or any(e.wave_id in c.wave_ids for e in shown)
    ]
    return Calendar(start, end, shown, days, found)


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
