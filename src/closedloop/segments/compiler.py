"""Compile a checked rule tree into an Ibis expression: the ids of the golden persons it
selects.

Every leaf becomes a boolean over the persons table that is never NULL (a column test is
``COALESCE(test, FALSE)``, the other leaves are ``id IN (subquery)``), so ``not`` is the exact
complement and ``all``/``any`` are plain AND/OR. Values enter as typed Ibis literals; Ibis
quotes them when it compiles, nothing here formats SQL. Names a rule refers to (categories,
attributes, campaigns…) are resolved through a lookups object (:mod:`.lookups`); an unknown
one is an error naming the rule path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, NoReturn

import ibis

from closedloop.errors import ValidationFailed
from closedloop.segments import leaves
from closedloop.segments.fields import FIELDS, ORG_FIELDS
from closedloop.segments.rules import (
    AllRule,
    AnyRule,
    AttributeRule,
    CampaignRule,
    ConsentRule,
    EmployerRule,
    EventRule,
    FieldRule,
    FirstPurchaseRule,
    HouseholdRule,
    NearRule,
    NotRule,
    OrdersRule,
    Rule,
    SegmentRule,
    SurveyRule,
)
from closedloop.segments.tables import Table, table

Value = Any  # an Ibis boolean expression
#: How many segments may refer to one another in a chain ({"segment": …} inside a segment …).
MAX_SEGMENT_DEPTH = 8


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Compiler:
    """Builds the Ibis expression of a rule; ``today`` fixes "the last D days" and ages."""

    def __init__(self, lookups: Any, today: date, *, within: int | None = None) -> None:
        self.lookups = lookups
        self.today = today
        self.leaves = leaves.Leaves(self, lookups, today)
        #: the segments whose rules are being expanded, outermost first (``within``: the
        #: segment whose own rule this is, so that it may not refer to itself)
        self.stack: list[tuple[int, str]] = [(within, f"segment {within}")] if within else []

    def fail(self, path: str, message: str) -> NoReturn:
        """Refuse the rule: ValidationFailed naming ``path``."""
        raise ValidationFailed(
            f"The segment rule is not valid: {path}: {message}.",
            errors=[{"field": path, "message": message}],
        )

    def members(self, rule: Rule) -> Table:
        """The golden persons matching ``rule``: one column ``person_id``."""
        persons = table("persons")
        selected = persons.filter(persons.merged_into_id.isnull(), self.cond(rule, persons, ""))
        return selected.select(person_id=selected.id)

    def cond(self, rule: Rule, base: Table, path: str) -> Value:
        """The boolean of ``rule`` over ``base`` (persons, or organisations in an employer
        rule)."""
        if isinstance(rule, AllRule):
            parts = [self.cond(r, base, f"{_at(path, 'all')}[{n}]") for n, r in enumerate(rule.all)]
            return ibis.and_(*parts) if parts else ibis.literal(True)
        if isinstance(rule, AnyRule):
            parts = [self.cond(r, base, f"{_at(path, 'any')}[{n}]") for n, r in enumerate(rule.any)]
            return ibis.or_(*parts) if parts else ibis.literal(False)
        if isinstance(rule, NotRule):
            return ~self.cond(rule.not_, base, _at(path, "not"))
        if isinstance(rule, FieldRule):
            return self.field(rule, base, path)
        ids = self.person_ids(rule, _at(path, _key(rule)))
        return base.id.isin(ids.person_id)

    def person_ids(self, rule: Rule, path: str) -> Table:
        """A table of the ``person_id`` of persons matching a leaf that reads other tables."""
        lf = self.leaves
        if isinstance(rule, ConsentRule):
            return lf.consent(rule.consent, path)
        if isinstance(rule, OrdersRule):
            return lf.orders(rule.orders, path)
        if isinstance(rule, FirstPurchaseRule):
            return lf.first_purchase(rule.first_purchase, path)
        if isinstance(rule, AttributeRule):
            return lf.attribute(rule.attribute, path)
        if isinstance(rule, HouseholdRule):
            return lf.household(rule.household, path)
        if isinstance(rule, EmployerRule):
            return lf.employer(rule.employer, path)
        if isinstance(rule, CampaignRule):
            return lf.campaign(rule.campaign, path)
        if isinstance(rule, NearRule):
            return lf.near(rule.near, path)
        if isinstance(rule, SurveyRule):
            return lf.survey(rule.survey, path)
        if isinstance(rule, EventRule):
            return lf.event(rule.event, path)
        if isinstance(rule, SegmentRule):
            return self.segment(rule.segment, path)
        raise TypeError(f"not a rule: {rule!r}")

    def segment(self, segment_id: int, path: str) -> Table:
        """The members of another segment: a snapshot's frozen list, a dynamic segment's rule
        expanded here (a cycle, or a chain deeper than :data:`MAX_SEGMENT_DEPTH`, is refused
        naming the rule path and the segments on the way)."""
        found = self.lookups.segment(segment_id)
        if found is None:
            self.fail(path, f"there is no segment {segment_id}")
        kind, name, rules = found
        if kind == "snapshot":
            members = table("segment_members")
            return members.filter(members.segment_id == segment_id).select("person_id")
        if any(sid == segment_id for sid, _ in self.stack):
            chain = " → ".join([*(label for _, label in self.stack), f"segment {segment_id}"])
            self.fail(path, f"segment {segment_id} ({name}) refers back to itself: {chain}")
        if len(self.stack) >= MAX_SEGMENT_DEPTH:
            self.fail(path, f"segments may refer to segments at most {MAX_SEGMENT_DEPTH} deep")
        from closedloop.segments.check import parse_rules

        self.stack.append((segment_id, f"segment {segment_id} ({name})"))
        try:
            return self.members(parse_rules(rules or {"all": []}))
        except ValidationFailed as exc:
            inner = exc.errors[0] if exc.errors else {"field": "rule", "message": exc.detail}
            where = f"{inner.get('field', 'rule')}: {inner.get('message', '')}"
            self.fail(path, f"in segment {segment_id} ({name}), {where}")
        finally:
            self.stack.pop()

    def field(self, rule: FieldRule, base: Table, path: str) -> Value:
        spec = FIELDS.get(rule.field) if "lifecycle_status" in base.columns else None
        if spec is None:
            spec = ORG_FIELDS[rule.field]
        if spec.source in ("person", "organisation"):
            if spec.name == "age":
                return leaves.age_test(base.birth_date, rule.op, rule.value, self.today)
            return leaves.compare(base[spec.column], spec, rule.op, rule.value)
        if spec.source == "score":
            run = self.lookups.latest_run_id()
            if run is None:
                return ibis.literal(False)
            scores = table("person_scores")
            hit = scores.filter(
                scores.run_id == run, leaves.compare(scores[spec.column], spec, rule.op, rule.value)
            )
            return base.id.isin(hit.person_id)
        addresses = table("addresses")
        hit = addresses.filter(
            addresses.person_id.notnull(),
            leaves.compare(addresses[spec.column], spec, rule.op, rule.value),
        )
        return base.id.isin(hit.person_id)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _key(rule: Rule) -> str:
    return next(iter(type(rule).model_fields))


def cutoff(today: date, days: int) -> datetime:
    """The start of the window "the last ``days`` days": midnight UTC of the day ``days``
    days before ``today``."""
    return day_start(today - timedelta(days=days))
