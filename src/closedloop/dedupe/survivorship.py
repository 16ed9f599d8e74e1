"""Survivorship: which record's value each field of the golden record keeps after a merge.

A rule orders the two records; the first non-empty value in that order survives, so an empty
field is always filled from the other record. Rules:

- ``most_recent``: the record changed last first;
- ``most_trusted``: the record whose source system ranks higher in
  ``CLOSEDLOOP_DEDUPE_SOURCE_RANKING`` first (unlisted sources last; ties: most recent);
- ``most_complete``: the longer value first ("Jean-Pierre" over "J."; ties: most trusted);
- ``most_advanced`` (lifecycle only): customer > won back > lapsed > prospect.

Defaults per field are in :data:`DEFAULT_RULES`; ``CLOSEDLOOP_DEDUPE_SURVIVORSHIP`` overrides
them field by field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from closedloop.contacts.fields import PERSON_FIELD_NAMES, PERSON_FIELDS
from closedloop.contacts.models import Person
from closedloop.db.base import as_utc
from closedloop.dedupe.settings import get_dedupe_settings
from closedloop.errors import ValidationFailed
from closedloop.vocab import LifecycleStatus

FIELDS: tuple[str, ...] = PERSON_FIELD_NAMES
RULES = ("most_recent", "most_trusted", "most_complete", "most_advanced")
DEFAULT_RULES: dict[str, str] = {f.name: f.survives for f in PERSON_FIELDS}
_LIFECYCLE_RANK = {
    LifecycleStatus.CUSTOMER.value: 0,
    LifecycleStatus.WON_BACK.value: 1,
    LifecycleStatus.LAPSED.value: 2,
    LifecycleStatus.PROSPECT.value: 3,
}


@dataclass(frozen=True)
class Policy:
    """A source ranking (most trusted first) and a rule per field."""

    source_ranking: tuple[str, ...] = ()
    rules: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_RULES))

    @classmethod
    def from_settings(cls) -> Policy:
        """The policy of ``CLOSEDLOOP_DEDUPE_SOURCE_RANKING`` and ``…_SURVIVORSHIP``."""
        settings = get_dedupe_settings()
        rules = {**DEFAULT_RULES, **settings.survivorship}
        bad = {k: v for k, v in rules.items() if k not in FIELDS or v not in RULES}
        if bad:
            raise ValidationFailed(
                "Unknown survivorship field or rule.",
                errors=[
                    {"field": f"survivorship.{k}", "message": f"{v!r}: use one of {RULES}"}
                    for k, v in bad.items()
                ],
            )
        return cls(tuple(settings.source_ranking), rules)

    def trust(self, source: str | None) -> int:
        """Rank of a source system: 0 for the most trusted; unlisted ones come last."""
        try:
            return self.source_ranking.index(source or "")
        except ValueError:
            return len(self.source_ranking)


def _recency(p: Person) -> float:
    stamp = p.updated_at or p.created_at
    return -as_utc(stamp).timestamp() if isinstance(stamp, datetime) else 0.0


def _order(policy: Policy, rule: str, name: str, people: Sequence[Person]) -> list[Person]:
    keys: dict[str, Callable[[Person], tuple[Any, ...]]] = {
        "most_recent": lambda p: (_recency(p), p.id),
        "most_trusted": lambda p: (policy.trust(p.source_system), _recency(p), p.id),
        "most_complete": lambda p: (
            -len(str(getattr(p, name) or "")),
            policy.trust(p.source_system),
            _recency(p),
        ),
        "most_advanced": lambda p: (
            _LIFECYCLE_RANK.get(str(getattr(p, name)), 9),
            _recency(p),
        ),
    }
    return sorted(people, key=keys[rule])


def survive(policy: Policy, golden: Person, source: Person) -> dict[str, tuple[Any, int]]:
    """Field → (value, id of the record it comes from) for the merged golden record."""
    out: dict[str, tuple[Any, int]] = {}
    for name in FIELDS:
        rule = policy.rules.get(name, "most_recent")
        for person in _order(policy, rule, name, (golden, source)):
            value = getattr(person, name)
            if value is not None and value != "":
                out[name] = (value, person.id)
                break
        else:
            out[name] = (None, golden.id)
    return out


def choose_golden(policy: Policy, a: Person, b: Person) -> tuple[Person, Person]:
    """(golden, source) of a pair: the most trusted source's record, else the older one."""
    first, second = sorted((a, b), key=lambda p: (policy.trust(p.source_system), p.id))
    return first, second
