"""Consent ledger of a chunk: grants with proof, refusals, later withdrawals, suppressions.

Events are kept as arrays until the chunk is written; :func:`current` then derives the
``consent_current`` rows the same way the consent service does: the latest event wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from closedloop.demo.catalog import CONSENT_PAIRS
from closedloop.demo.clock import Arr, Clock
from closedloop.demo.people import People

_GRANT_METHODS = {
    "webshop": (("web_form", "double_opt_in"), (0.5, 0.5)),
    "pos": (("paper", "agent"), (0.6, 0.4)),
    "crm": (("agent", "import"), (0.5, 0.5)),
    "events": (("paper", "web_form"), (0.7, 0.3)),
}
_WEB = ("web_form", "double_opt_in", "preference_centre", "unsubscribe_link")
EMAIL_MARKETING = 0  # index of ("email", "marketing") in CONSENT_PAIRS


@dataclass
class Events:
    """Consent events as parallel arrays (``pair`` indexes CONSENT_PAIRS)."""

    person: Arr
    pair: Arr
    granted: Arr
    day: Arr
    sec: Arr
    method: Arr
    source: Arr

    def extend(self, other: Events) -> None:
        """Append the events of ``other``."""
        for key in vars(self):
            setattr(self, key, np.concatenate([getattr(self, key), getattr(other, key)]))


def _reachable(people: People, channel: str) -> Arr:
    column = {"email": "email", "sms": "phone", "phone": "phone"}.get(channel, "addr_code")
    reach = np.asarray(people[column] != None, dtype=bool)  # noqa: E711 (element-wise)
    return reach & people["phone_mobile"] if channel == "sms" else reach


def ledger(clock: Clock, rng: np.random.Generator, people: People, created: Arr) -> Events:
    """Grants at sign-up (with the method the source implies), refusals and withdrawals."""
    parts: list[tuple[Arr, int, int, Arr]] = []  # persons, pair, kind (0 grant, 1 quit, 2 no)
    for k, (channel, _purpose, share) in enumerate(CONSENT_PAIRS):
        reach = _reachable(people, channel)
        ticked = reach & (rng.random(people.n) < share)
        grant = np.nonzero(ticked)[0]
        at = np.minimum(
            created[grant] + rng.exponential(12.0, len(grant)).astype(np.int64), clock.today - 1
        )
        parts.append((grant, k, 0, at))
        quits = (rng.random(len(grant)) < 0.10) & (at < clock.today - 2)
        q_at = at[quits] + 1
        later = q_at + (rng.random(len(q_at)) * (clock.today - 1 - q_at)).astype(np.int64)
        parts.append((grant[quits], k, 1, later))
        if k == EMAIL_MARKETING:  # the sign-up form where the box was left unticked
            refused = np.nonzero(reach & ~ticked & (rng.random(people.n) < 0.3))[0]
            parts.append((refused, k, 2, np.minimum(created[refused], clock.today - 1)))
    person = np.concatenate([p[0] for p in parts])
    n = len(person)
    kind = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    pair = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    source = people["source"][person]
    method = np.empty(n, dtype=object)
    for src, (methods, weights) in _GRANT_METHODS.items():
        sel = (kind != 1) & (source == src)
        method[sel] = rng.choice(np.array(methods, dtype=object), int(sel.sum()), p=weights)
    is_email = np.isin(pair, [i for i, p in enumerate(CONSENT_PAIRS) if p[0] == "email"])
    quit_method = np.where(
        is_email & (rng.random(n) < 0.6),
        "unsubscribe_link",
        np.where(rng.random(n) < 0.5, "preference_centre", "agent"),
    ).astype(object)
    method[kind == 1] = quit_method[kind == 1]
    quit_source = np.where(method == "agent", "crm", "webshop").astype(object)
    source = np.where(kind == 1, quit_source, source)
    day = np.concatenate([p[3] for p in parts])
    sec = rng.integers(7 * 3600, 22 * 3600, n)
    return Events(person, pair, kind == 0, day, sec, method, source)


def state_at(events: Events, n: int, pair: int, day: int, sec: int) -> Arr:
    """True for each person whose latest event for ``pair`` before (day, sec) is a grant."""
    sel = (events.pair == pair) & ((events.day < day) | ((events.day == day) & (events.sec < sec)))
    person, granted = events.person[sel], events.granted[sel]
    order = np.lexsort((events.sec[sel], events.day[sel], person))
    person, granted = person[order], granted[order]
    state = np.zeros(n, dtype=bool)
    last = np.r_[person[1:] != person[:-1], True] if len(person) else np.zeros(0, dtype=bool)
    state[person[last]] = granted[last]
    return state


def sort_ledger(events: Events) -> tuple[Arr, Arr]:
    """Order of the events in the ledger (person, time), and which ones are current."""
    order = np.lexsort((events.pair, events.sec, events.day, events.person))
    person, pair = events.person[order], events.pair[order]
    key = person * len(CONSENT_PAIRS) + pair
    # The latest event per (person, pair) is the last of its key in time order.
    by_key = np.lexsort((np.arange(len(key)), key))
    last = np.r_[key[by_key][1:] != key[by_key][:-1], True] if len(key) else np.zeros(0, bool)
    current = np.zeros(len(key), dtype=bool)
    current[by_key[last]] = True
    return order, current


def suppressions(rng: np.random.Generator, people: People, today: int) -> tuple[Arr, Arr]:
    """Persons never to contact: the deceased (mostly old) and those who asked."""
    age = (today - people["birth"]) / 365.25
    deceased = np.nonzero(rng.random(people.n) < np.where(age > 70, 0.01, 0.0005))[0]
    dnc = np.nonzero(rng.random(people.n) < 0.004)[0]
    dnc = dnc[~np.isin(dnc, deceased)]
    person = np.concatenate([deceased, dnc])
    reason = np.array(["deceased"] * len(deceased) + ["do_not_contact"] * len(dnc), dtype=object)
    return person, reason
