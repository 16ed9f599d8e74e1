"""Catalogue attribute values of a chunk: demographic, psychographic, interests, firmographic.

Values are drawn to agree with the rest of the record (a partner is married, a premium buyer
has a higher income band and a favourite category shows up among the interests), so that
segments and models built on them find something real.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Any

import numpy as np

from closedloop.demo.catalog import ATTRIBUTES, CATEGORIES
from closedloop.demo.clock import Arr

Row = tuple[Any, ...]
_SPECS = {a.code: a for a in ATTRIBUTES}
_INTERESTS = _SPECS["interests"].choice_codes()
_FAV_INTEREST = np.array([_INTERESTS.index(c.interest) for c in CATEGORIES])
_SOURCE = {"demographic": "crm", "psychographic": "survey", "interests": "webshop",
           "firmographic": "crm"}  # fmt: skip


class TraitWriter:
    """Builds ``attribute_values`` rows, by shape (``choice``, ``number``, ``org``)."""

    def __init__(
        self,
        defs: dict[str, int],
        choices: dict[tuple[str, str], int],
        next_id: Callable[[int], int],
    ) -> None:
        self.defs = defs
        self.choices = choices
        self.next_id = next_id
        self.rows: dict[str, list[Row]] = {"choice": [], "number": [], "org": []}

    def choice(
        self, code: str, owner: Arr, picks: Arr, stamp: list[str], org: bool = False
    ) -> None:
        """One choice value per owner (``picks`` index the attribute's choices)."""
        spec = _SPECS[code]
        ids = np.array([self.choices[(code, c)] for c in spec.choice_codes()])[picks]
        self._add("org" if org else "choice", code, owner, ids.tolist(), stamp)

    def number(self, code: str, owner: Arr, values: Arr, stamp: list[str]) -> None:
        """One numeric value per owner."""
        self._add("number", code, owner, values.tolist(), stamp)

    def _add(self, shape: str, code: str, owner: Arr, values: list[Any], stamp: list[str]) -> None:
        first = self.next_id(len(owner))
        self.rows[shape].extend(zip(
            range(first, first + len(owner)), repeat(self.defs[code]), owner.tolist(), values,
            repeat(_SOURCE[_SPECS[code].group]), stamp,
        ))  # fmt: skip


def person_traits(
    w: TraitWriter,
    rng: np.random.Generator,
    pid: Arr,
    age: Arr,
    role: Arr,
    partnered: Arr,
    kids: Arr,
    favourite: Arr,
    price_level: Arr,
    stamps: Arr,
) -> None:
    """Attribute values of the persons with ids ``pid`` (other arrays aligned with it)."""
    n = len(pid)

    def some(share: float) -> Arr:
        """Positions of a random ``share`` of the persons (who have a value)."""
        return np.nonzero(rng.random(n) < share)[0]

    s = some(0.6)
    alone = np.where(age[s] > 70, np.where(rng.random(len(s)) < 0.4, 4, 0), 0)
    alone = np.where((alone == 0) & (age[s] > 35) & (rng.random(len(s)) < 0.25), 3, alone)
    together = np.where(rng.random(len(s)) < 0.75, 1, 2)
    w.choice("marital_status", pid[s], np.where(partnered[s], together, alone), stamps[s].tolist())
    s = some(0.4)
    count = np.where(role[s] == 2, 0, kids[s] + (age[s] > 30) * rng.poisson(0.4, len(s)))
    w.number("children_count", pid[s], count, stamps[s].tolist())
    s = some(0.35)
    band = np.clip(np.rint(price_level[s] * 4 + rng.normal(0, 0.8, len(s))), 0, 4).astype(int)
    w.choice("income_band", pid[s], band, stamps[s].tolist())
    s = some(0.25)
    w.choice("lifestyle", pid[s], rng.integers(0, 6, len(s)), stamps[s].tolist())
    s = some(0.3)
    level = np.clip(price_level[s] + rng.normal(0, 0.12, len(s)), 0, 0.999)
    w.choice("price_sensitivity", pid[s], (level * 3).astype(int), stamps[s].tolist())
    s = some(0.5)
    extra = rng.integers(0, len(_INTERESTS), (len(s), 2))
    take = rng.random((len(s), 2)) < np.array([0.6, 0.3])
    owner = [pid[s]]
    picks = [_FAV_INTEREST[favourite[s]]]
    when = [stamps[s]]
    for k in (0, 1):
        sel = take[:, k] & (extra[:, k] != picks[0]) & ((k == 0) | (extra[:, 1] != extra[:, 0]))
        owner.append(pid[s][sel])
        picks.append(extra[sel, k])
        when.append(stamps[s][sel])
    w.choice(
        "interests", np.concatenate(owner), np.concatenate(picks), np.concatenate(when).tolist()
    )


def org_traits(
    w: TraitWriter, rng: np.random.Generator, oid: Arr, industry: Arr, employees: Arr, stamps: Arr
) -> None:
    """Firmographic values of the organisations with ids ``oid``."""
    s = np.nonzero(rng.random(len(oid)) < 0.9)[0]
    w.choice("industry", oid[s], industry[s], stamps[s].tolist(), org=True)
    band = np.searchsorted([10, 50, 250, 1000], employees[s], side="right")
    w.choice("employee_band", oid[s], band, stamps[s].tolist(), org=True)
    process = np.where(band >= 3, rng.choice([1, 2, 3], len(s)), rng.choice([0, 0, 1], len(s)))
    w.choice("decision_process", oid[s], process, stamps[s].tolist(), org=True)
