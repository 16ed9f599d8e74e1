"""Attribution: which purchases a campaign may claim, and for which wave.

A purchase counts for a campaign when it falls in the response window
(``campaign.response_window_days``) after one of the person's *touches*: a message of the
campaign that left for them, or — for control members and members who got no message — the
start of each wave (so the control group's purchases are counted over the same windows and
give the baseline). The person's cell is fixed by the assignment, so the rule only decides the
wave a purchase is credited to when several waves reached the person:

* ``last-touch`` (default): the latest touch before the purchase gets it all;
* ``first-touch``: the earliest touch still in its window gets it all;
* ``linear``: every touch whose window holds the purchase gets an equal share.

Only members who bought in the campaign's broad window are read, so the work grows with the
buyers, not with the persons contacted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from closedloop.db.base import as_utc
from closedloop.evaluation.queries import Purchase, WaveTimes


class Rule(StrEnum):
    """How a purchase is credited to the waves that touched the person."""

    LAST_TOUCH = "last-touch"
    FIRST_TOUCH = "first-touch"
    LINEAR = "linear"


@dataclass
class Outcome:
    """Purchases credited to a group: persons who bought, their revenue and its squares
    (per person, for Welch's test)."""

    converted: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0


@dataclass
class Attribution:
    """What attribution found: per cell (all waves) and per (cell, wave)."""

    rule: Rule
    by_cell: dict[int, Outcome] = field(default_factory=lambda: defaultdict(Outcome))
    by_wave: dict[tuple[int, int], Outcome] = field(default_factory=lambda: defaultdict(Outcome))
    orders: int = 0
    #: the persons with at least one purchase credited to the campaign
    buyers: set[int] = field(default_factory=set)


Touch = tuple[int, datetime]  # (wave id, when)


def _credits(at: datetime, touches: list[Touch], window: timedelta, rule: Rule) -> dict[int, float]:
    """The share of a purchase at ``at`` each wave gets (empty: outside every window)."""
    open_ = [(when, wave) for wave, when in touches if when <= at < when + window]
    if not open_:
        return {}
    if rule is Rule.LINEAR:
        shares: dict[int, float] = defaultdict(float)
        for _, wave in open_:
            shares[wave] += 1 / len(open_)
        return dict(shares)
    pick = max(open_) if rule is Rule.LAST_TOUCH else min(open_)
    return {pick[1]: 1.0}


def _as(value: datetime, naive: bool) -> datetime:
    """``value`` in the form of the store's datetimes: naive UTC, or aware (as they come)."""
    if naive:
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    return value if value.tzinfo is UTC else as_utc(value)


def attribute(
    purchases: list[Purchase],
    sent: list[tuple[int, int, datetime]],
    waves: dict[int, WaveTimes],
    window_days: int,
    rule: Rule,
) -> Attribution:
    """Credit ``purchases`` to cells and waves; ``sent`` lists (person, wave, sent_at)."""
    window = timedelta(days=window_days)
    # the store gives every datetime back the same way (SQLite naive UTC, PostgreSQL aware):
    # the few wave starts are put in that form rather than every row converted
    naive = any(p.at.tzinfo is None for p in purchases[:1])
    own: dict[int, list[Touch]] = defaultdict(list)
    for person, wave, when in sent:
        own[person].append((wave, _as(when, naive)))
    starts: list[Touch] = [
        (w, _as(t.start, naive)) for w, t in waves.items() if t.start is not None
    ]
    per_person: dict[int, tuple[int, float, dict[int, float]]] = {}
    result = Attribution(rule)
    for p in purchases:
        touches = own.get(p.person_id) or starts
        shares = _credits(_as(p.at, naive), touches, window, rule)
        if not shares:
            continue
        result.orders += 1
        cell, total, waves_of = per_person.get(p.person_id, (p.cell_id, 0.0, {}))
        for wave, share in shares.items():
            waves_of[wave] = waves_of.get(wave, 0.0) + share * p.amount
        per_person[p.person_id] = (cell, total + p.amount, waves_of)
    result.buyers = set(per_person)
    for cell, total, waves_of in per_person.values():
        out = result.by_cell[cell]
        out.converted += 1
        out.revenue += total
        out.revenue_sq += total * total
        for wave, amount in waves_of.items():
            part = result.by_wave[(cell, wave)]
            part.converted += 1
            part.revenue += amount
            part.revenue_sq += amount * amount
    return result
