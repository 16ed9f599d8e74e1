"""Buying behaviour: when each person orders, what, through which channel, and for how much.

Repeat purchases follow the BG/NBD story that the value models assume: while "alive" a
customer buys as a Poisson process with a personal rate drawn from a gamma distribution, and
after every purchase drops out with a personal probability drawn from a beta distribution. A few
dropped-out customers come back (won back). Each customer also has a favourite category and a
price level, so baskets differ between people as the Gamma-Gamma spend model expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from closedloop.demo.clock import Arr, Clock

CHANNELS = np.array(["web", "store", "phone", "catalogue"], dtype=object)
ORDER_SOURCES = np.array(["webshop", "pos", "crm", "erp"], dtype=object)
_CHANNEL_CUM = np.cumsum([0.55, 0.30, 0.08, 0.07])
_WEB_HOURS = np.cumsum([1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 6, 5, 5, 6, 7, 9, 11, 12, 10, 6, 3])
_QTY_CUM = np.cumsum([0.84, 0.12, 0.04])


@dataclass
class ProductTable:
    """The catalogue as arrays, sorted by top category and then by price."""

    ids: Arr
    cents: Arr
    top_start: Arr
    top_count: Arr
    top_cum: Arr


@dataclass
class Habits:
    """What each person of a chunk is like as a buyer."""

    buyer: Arr
    rate: Arr
    dropout: Arr
    favourite: Arr
    price_level: Arr
    channel: Arr


def habits(rng: np.random.Generator, n: int, buyer_share: Arr, products: ProductTable) -> Habits:
    """Draw the buying traits of ``n`` persons (``buyer_share`` per person)."""
    fav = np.searchsorted(products.top_cum, rng.random(n), side="right")
    return Habits(
        buyer=rng.random(n) < buyer_share,
        rate=rng.gamma(0.9, 4.8 / 0.9, n),  # purchases per year while alive
        dropout=rng.beta(1.3, 7.0, n),
        favourite=np.minimum(fav, len(products.top_count) - 1),
        price_level=rng.beta(2.0, 2.0, n),
        channel=np.searchsorted(_CHANNEL_CUM, rng.random(n), side="right").clip(0, 3),
    )


def natural_orders(
    clock: Clock, rng: np.random.Generator, h: Habits, created: Arr
) -> tuple[Arr, Arr]:
    """Owners and days of the purchases each person makes without any campaign."""
    n = len(created)
    # Persons created before the window are the customer base the company already had: their
    # first purchase is older than the history kept, only their later ones are in the window.
    legacy = created < clock.start
    first_op = np.where(legacy, 0.0, clock.day_to_op(created) + rng.exponential(25.0, n))
    buys = h.buyer & (first_op < clock.span)
    owners = np.nonzero(buys)[0]
    start = first_op[owners]
    expected = h.rate[owners] * (clock.span - start) / clock.per_year
    count = rng.poisson(expected)
    cap = rng.geometric(h.dropout[owners]) - 1  # repeat purchases before dropping out
    total = int(count.sum())
    owner = np.repeat(owners, count)
    at = np.repeat(start, count) + rng.random(total) * np.repeat(clock.span - start, count)
    order = np.lexsort((at, owner))
    owner, at = owner[order], at[order]
    rank = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    keep = rank < np.repeat(cap, count)
    new = ~legacy[owners]
    owner = np.concatenate([owners[new], owner[keep]])
    days = clock.op_to_day(np.concatenate([start[new], at[keep]]))
    # A few who dropped out more than a year ago buy again lately: "won back".
    lost = owners[(cap < count) & (rng.random(len(owners)) < 0.06)]
    back = clock.today - rng.integers(1, 150, len(lost))
    last = np.zeros(n, dtype=np.int64)
    np.maximum.at(last, owner, days)
    back_ok = last[lost] < back - 365
    return np.concatenate([owner, lost[back_ok]]), np.concatenate([days, back[back_ok]])


def seconds_of_day(rng: np.random.Generator, channel: Arr) -> Arr:
    """A plausible time of day per order: web in the evening, shops in opening hours."""
    n = len(channel)
    web = np.searchsorted(_WEB_HOURS / _WEB_HOURS[-1], rng.random(n), side="right")
    shop = rng.integers(9, 19, n)
    office = rng.integers(8, 18, n)
    hour = np.select([channel == 0, channel == 1], [web, shop], office)
    return np.asarray(hour * 3600 + rng.integers(0, 3600, n), dtype=np.int64)


@dataclass
class Lines:
    """Order lines of a chunk; ``order`` indexes the chunk's orders."""

    order: Arr
    line_no: Arr
    product: Arr
    quantity: Arr
    unit: Arr
    amount: Arr


def lines(
    rng: np.random.Generator, h: Habits, owner: Arr, discount: Arr, products: ProductTable
) -> tuple[Lines, Arr]:
    """Basket of each order (``discount`` in percent per order); return lines and totals."""
    n_orders = len(owner)
    k = 1 + np.minimum(rng.poisson(1.7, n_orders), 9)
    order = np.repeat(np.arange(n_orders), k)
    m = len(order)
    who = owner[order]
    own = rng.random(m) < 0.65
    other_top = np.searchsorted(products.top_cum, rng.random(m), side="right")
    top = np.where(own, h.favourite[who], np.minimum(other_top, len(products.top_count) - 1))
    pos = np.where(
        own, np.clip(h.price_level[who] + rng.normal(0, 0.18, m), 0, 0.999), rng.random(m) ** 1.4
    )
    pidx = products.top_start[top] + (pos * products.top_count[top]).astype(np.int64)
    qty = 1 + np.searchsorted(_QTY_CUM, rng.random(m) * _QTY_CUM[-1], side="right").clip(0, 2)
    off = np.where(rng.random(m) < 0.1, rng.choice([10, 20, 30], m), 0)
    off = np.maximum(off, discount[order])
    unit = products.cents[pidx] * (100 - off) // 100
    line_no = np.arange(m) - np.repeat(np.cumsum(k) - k, k) + 1
    # A few orders with several lines had one item sent back: a negative line.
    ret = np.nonzero((k >= 2) & (rng.random(n_orders) < 0.015))[0]
    first = (np.cumsum(k) - k)[ret]
    order = np.concatenate([order, ret])
    line_no = np.concatenate([line_no, k[ret] + 1])
    product = np.concatenate([pidx, pidx[first]])
    qty = np.concatenate([qty, -np.ones(len(ret), dtype=np.int64)])
    unit = np.concatenate([unit, unit[first]])
    sort = np.lexsort((line_no, order))
    out = Lines(
        order=order[sort], line_no=line_no[sort], product=products.ids[product[sort]],
        quantity=qty[sort], unit=unit[sort], amount=(qty * unit)[sort],
    )  # fmt: skip
    totals = np.bincount(out.order, weights=out.amount, minlength=n_orders)
    return out, np.rint(totals).astype(np.int64)


def lifecycle(n: int, owner: Arr, day: Arr, today: int) -> Arr:
    """prospect / customer / lapsed / won_back per person from orders sorted by owner and day."""
    count = np.bincount(owner, minlength=n)
    last = np.full(n, -(10**9), dtype=np.int64)
    np.maximum.at(last, owner, day)
    gap = np.zeros(n, dtype=np.int64)
    same = owner[1:] == owner[:-1]
    np.maximum.at(gap, owner[1:][same], np.diff(day)[same])
    recent = last >= today - 365
    return np.select(
        [count == 0, ~recent, gap > 365], ["prospect", "lapsed", "won_back"], "customer"
    ).astype(object)
