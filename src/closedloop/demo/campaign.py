"""The demo's past campaign: audience, random cells and control group, messages and reactions.

Everyone reachable by e-mail with a marketing consent at send time (and not suppressed) is in
the audience; 45 % get offer A, 45 % offer B and 10 % are a random control group that gets
nothing. Treated persons open, click, sometimes unsubscribe or bounce, and some buy because of
the message: those extra orders are what lift against control measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from closedloop.demo.clock import Arr, Clock
from closedloop.demo.consents import EMAIL_MARKETING, Events, state_at
from closedloop.demo.people import People

SEND_SEC = 9 * 3600
_CELL_CUM = np.cumsum([0.45, 0.45, 0.10])
_OPEN = np.array([0.31, 0.27, 0.0])
_EXTRA_BUY = np.array([0.045, 0.035, 0.0])  # plus a large boost for those who clicked


@dataclass(frozen=True)
class CampaignRefs:
    """Ids of the campaign rows written before the chunks, and its timing."""

    campaign_id: int
    wave_id: int
    cell_ids: tuple[int, int, int]  # offer A, offer B, control
    day: int
    window_days: int
    unit_cost: float
    discounts: tuple[int, int, int]


@dataclass
class Members:
    """Campaign members of a chunk and what happened to the treated ones (seconds from send)."""

    person: Arr
    cell: Arr
    status: Arr
    sent: Arr
    opened: Arr
    clicked: Arr
    unsubscribed: Arr

    @property
    def treated(self) -> Arr:
        """Mask of members who were sent a message."""
        return np.asarray(self.cell < 2)


def select(
    clock: Clock,
    rng: np.random.Generator,
    people: People,
    created: Arr,
    events: Events,
    blocked: Arr,
    refs: CampaignRefs,
) -> Members:
    """Draw the audience, the cells and every reaction except purchases."""
    consent = state_at(events, people.n, EMAIL_MARKETING, refs.day, SEND_SEC)
    ok = consent & (people["email"] != None) & (created < refs.day) & ~blocked  # noqa: E711
    person = np.nonzero(ok)[0]
    m = len(person)
    cell = np.searchsorted(_CELL_CUM, rng.random(m), side="right").clip(0, 2)
    u = rng.random(m)
    status = np.where(u < 0.025, "bounced", np.where(u < 0.05, "sent", "delivered")).astype(object)
    status[cell == 2] = None
    sent = SEND_SEC + rng.integers(0, 7200, m)
    reached = (cell < 2) & (status != "bounced")
    opened = np.where(
        reached & (rng.random(m) < _OPEN[cell]), sent + rng.exponential(6 * 3600, m), -1
    ).astype(np.int64)
    clicked = np.where(
        (opened >= 0) & (rng.random(m) < 0.22), opened + rng.exponential(900, m), -1
    ).astype(np.int64)
    base = np.where(opened >= 0, opened, sent)
    unsub = np.where(reached & (rng.random(m) < 0.006), base + rng.exponential(3600, m), -1).astype(
        np.int64
    )
    return Members(person, cell, status, sent, opened, clicked, unsub)


def extra_orders(
    rng: np.random.Generator, members: Members, refs: CampaignRefs
) -> tuple[Arr, Arr, Arr, Arr]:
    """Orders the message caused: owners, days, seconds and offer discount (percent)."""
    p = _EXTRA_BUY[members.cell] + np.where(members.clicked >= 0, 0.3, 0.0)
    buy = np.nonzero((members.status == "delivered") & (rng.random(len(p)) < p))[0]
    start = np.maximum(members.clicked[buy], members.sent[buy])
    delay = np.minimum(rng.exponential(4 * 86400, len(buy)), (refs.window_days - 1) * 86400)
    at = (start + delay).astype(np.int64)
    discount = np.asarray(refs.discounts)[members.cell[buy]]
    return members.person[buy], refs.day + at // 86400, at % 86400, discount


def unsubscribe_events(clock: Clock, members: Members, refs: CampaignRefs) -> Events:
    """The consent withdrawals that the unsubscribe links wrote."""
    sel = members.unsubscribed >= 0
    day, sec = clock.normalise(np.full(int(sel.sum()), refs.day), members.unsubscribed[sel])
    n = len(day)
    return Events(
        person=members.person[sel],
        pair=np.full(n, EMAIL_MARKETING),
        granted=np.zeros(n, dtype=bool),
        day=day,
        sec=sec,
        method=np.full(n, "unsubscribe_link", dtype=object),
        source=np.full(n, "email", dtype=object),
    )


def purchases(
    members: Members, refs: CampaignRefs, n: int, owner: Arr, day: Arr, sec: Arr
) -> tuple[Arr, Arr]:
    """Members with an order in the response window, and their first such order's index.

    The window opens when the message was sent (at the wave's time for the control group)
    and lasts ``window_days``; ``owner``/``day``/``sec`` must be sorted by owner and time.
    """
    slot = np.full(n, -1, dtype=np.int64)
    slot[members.person] = np.arange(len(members.person))
    member = slot[owner]
    start = np.where(members.treated, members.sent, SEND_SEC)
    rel = (day - refs.day) * 86400 + sec
    inside = (
        (member >= 0) & (rel >= start[member]) & (rel < start[member] + refs.window_days * 86400)
    )
    idx = np.nonzero(inside)[0]
    first = np.r_[True, owner[idx][1:] != owner[idx][:-1]] if len(idx) else np.zeros(0, bool)
    return member[idx[first]], idx[first]
