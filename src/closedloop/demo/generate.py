"""One chunk of the demo base: simulate persons and their history, then hand rows to the writer.

Everything is pure: a chunk depends only on the seed, its number, its size and the reference
ids, so a run is reproducible and memory stays flat (nothing is kept between chunks except the
id counters). Each concern draws from its own random stream, so changing one does not reshuffle
the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from closedloop.demo import campaign as camp
from closedloop.demo import consents, orders, relations
from closedloop.demo.clock import Arr, Clock
from closedloop.demo.duplicates import plant
from closedloop.demo.people import People, make_people
from closedloop.demo.pools import LocalePool

Row = tuple[Any, ...]
DUPLICATE_SHARE = 0.025
PERSONS_PER_ORGANISATION = 40


@dataclass
class Context:
    """What every chunk shares: the seed, calendar, pools and ids of the reference rows."""

    seed: int
    clock: Clock
    pools: list[LocalePool]
    locale_cum: Arr
    products: orders.ProductTable
    campaign: camp.CampaignRefs
    definitions: dict[str, int]
    choices: dict[tuple[str, str], int]
    batch_id: int


class Ids:
    """Next free id per table; chunks take consecutive ranges."""

    def __init__(self, start: dict[str, int]) -> None:
        self.next = dict(start)

    def take(self, table: str, count: int) -> int:
        """Reserve ``count`` ids of ``table`` and return the first."""
        first = self.next[table]
        self.next[table] = first + count
        return first


@dataclass
class Chunk:
    """The simulated state of one chunk, ready to be turned into rows."""

    n_base: int
    people: People
    original: Arr
    labels: list[str]
    created: Arr
    status: Arr
    habits: orders.Habits
    events: consents.Events
    suppressed: tuple[Arr, Arr]
    members: camp.Members
    owner: Arr
    day: Arr
    sec: Arr
    channel: Arr
    attributed: Arr
    b2b: Arr
    lines: orders.Lines
    totals: Arr
    responders: tuple[Arr, Arr]
    orgs: relations.Organisations
    employer: Arr
    decides: Arr


def _created(ctx: Context, rng: np.random.Generator, n: int, n_base: int, original: Arr) -> Arr:
    clock = ctx.clock
    legacy = rng.random(n) < 0.3
    created = np.where(
        legacy, clock.start - rng.integers(1, 2500, n), clock.op_to_day(rng.random(n) * clock.span)
    )
    # a duplicate appears later, when the person signs up again through another channel
    gap = (clock.today - 1 - created[original]) * rng.random(len(original))
    created[n_base:] = created[original] + gap.astype(np.int64)
    return np.asarray(created, dtype=np.int64)


def simulate(ctx: Context, key: list[int], n_base: int) -> Chunk:
    """Simulate the chunk of ``n_base`` persons (plus planted duplicates) named by ``key``."""
    clock = ctx.clock
    streams = np.random.SeedSequence([ctx.seed, *key]).spawn(10)
    r = [np.random.default_rng(s) for s in streams]
    people = make_people(ctx.pools, ctx.locale_cum, clock, r[0], n_base)
    original, labels = plant(people, ctx.pools, r[1], round(n_base * DUPLICATE_SHARE))
    n = people.n
    created = _created(ctx, r[2], n, n_base, original)
    is_base = np.arange(n) < n_base
    h = orders.habits(r[3], n, np.where(is_base, 0.84, 0.35), ctx.products)
    for trait in (h.favourite, h.price_level, h.channel):
        trait[n_base:] = trait[original]  # the same human buys the same things
    h.rate[n_base:] *= 0.3
    nat_owner, nat_day = orders.natural_orders(clock, r[3], h, created)

    events = consents.ledger(clock, r[4], people, created)
    sup_person, sup_reason = consents.suppressions(r[4], people, clock.today)
    blocked = np.zeros(n, dtype=bool)
    blocked[sup_person] = True
    members = camp.select(clock, r[5], people, created, events, blocked, ctx.campaign)
    ex_owner, ex_day, ex_sec, ex_discount = camp.extra_orders(r[5], members, ctx.campaign)
    events.extend(camp.unsubscribe_events(clock, members, ctx.campaign))

    mixed = np.searchsorted(np.cumsum([0.55, 0.30, 0.08, 0.07]), r[6].random(len(nat_owner)))
    nat_channel = np.where(
        r[6].random(len(nat_owner)) < 0.8, h.channel[nat_owner], mixed.clip(0, 3)
    )
    owner = np.concatenate([nat_owner, ex_owner])
    day = np.concatenate([nat_day, ex_day])
    sec = np.concatenate([orders.seconds_of_day(r[6], nat_channel), ex_sec])
    channel = np.concatenate([nat_channel, np.zeros(len(ex_owner), dtype=np.int64)])
    attributed = np.r_[np.zeros(len(nat_owner), dtype=bool), np.ones(len(ex_owner), dtype=bool)]
    discount = np.concatenate([np.zeros(len(nat_owner), dtype=np.int64), ex_discount])
    order = np.lexsort((sec, day, owner))
    owner, day, sec, channel = owner[order], day[order], sec[order], channel[order]
    attributed, discount = attributed[order], discount[order]
    lines, totals = orders.lines(r[6], h, owner, discount, ctx.products)
    status = orders.lifecycle(n, owner, day, clock.today)
    resp_member, resp_order = camp.purchases(members, ctx.campaign, n, owner, day, sec)
    attributed[resp_order[members.treated[resp_member]]] = True

    orgs = relations.organisations(
        ctx.pools, ctx.locale_cum, clock, r[7], max(1, n_base // PERSONS_PER_ORGANISATION)
    )
    age = (clock.today - people["birth"]) / 365.25
    employer, decides = relations.employment(r[7], people["loc"], age, is_base, orgs)
    b2b = decides[owner] & (r[7].random(len(owner)) < 0.4)
    return Chunk(
        n_base=n_base, people=people, original=original, labels=labels, created=created,
        status=status, habits=h, events=events, suppressed=(sup_person, sup_reason),
        members=members, owner=owner, day=day, sec=sec, channel=channel, attributed=attributed,
        b2b=b2b, lines=lines, totals=totals, responders=(resp_member, resp_order), orgs=orgs,
        employer=employer, decides=decides,
    )  # fmt: skip
