"""The Ibis builders of each kind of leaf: a column comparison, an age, and the leaves that
read other tables (consent, orders, attributes, relations, campaigns, places, surveys), each
returning the ``person_id`` of the persons it selects."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import ibis

from closedloop.segments.fields import ORG_FIELDS, FieldSpec
from closedloop.segments.rules import (
    AttributeCondition,
    CampaignCondition,
    ConsentCondition,
    EventCondition,
    FirstPurchaseCondition,
    NearCondition,
    OrdersCondition,
    Rule,
    SurveyCondition,
)
from closedloop.segments.tables import Table, table
from closedloop.vocab import RelationshipType

Value = Any
#: Kilometres per degree of latitude (mean Earth radius 6371.0088 km).
KM_PER_DEGREE = 111.195
#: Relationship kinds that mean "works for" an organisation.
WORKS_FOR = (RelationshipType.EMPLOYEE_OF.value, RelationshipType.DECISION_MAKER.value)
COMPLETED = "completed"


def _literal(value: Any, spec: FieldSpec) -> Value:
    if spec.kind == "date":
        return ibis.literal(value, type="date")
    if spec.kind == "datetime":
        return ibis.literal(value, type="timestamp('UTC')")
    if spec.kind == "number":
        return ibis.literal(float(value), type="float64")
    return ibis.literal(value)


def compare(column: Value, spec: FieldSpec, op: str, value: Any) -> Value:
    """``column <op> value`` as a boolean that is FALSE (never NULL) where the column is
    NULL, except for ``is_null``."""
    if spec.kind == "number":
        column = column.cast("float64")
    if op == "is_null":
        return column.isnull()
    if op == "not_null":
        return column.notnull()
    if op in ("in", "not_in"):
        test = column.isin([_literal(v, spec) for v in value])
        return (test if op == "in" else ~test).fill_null(False)
    if op == "between":
        low, high = (_literal(v, spec) for v in value)
        return ((column >= low) & (column <= high)).fill_null(False)
    if op == "starts_with":  # exact prefix: LIKE would read % and _ (and ignore case on SQLite)
        return (column.substr(0, len(value)) == ibis.literal(value)).fill_null(False)
    lit = _literal(value, spec)
    tests = {
        "eq": column == lit, "ne": column != lit, "lt": column < lit, "lte": column <= lit,
        "gt": column > lit, "gte": column >= lit,
    }  # fmt: skip
    return tests[op].fill_null(False)


def years_before(today: date, years: int) -> date:
    """The same day ``years`` years before ``today`` (29 February → 28 February)."""
    year = min(max(today.year - years, 1), 9999)
    try:
        return today.replace(year=year)
    except ValueError:
        return today.replace(year=year, day=28)


def age_test(birth_date: Value, op: str, value: Any, today: date) -> Value:
    """An age comparison as a range of birth dates (no per-row date arithmetic)."""
    if op == "is_null":
        return birth_date.isnull()
    if op == "not_null":
        return birth_date.notnull()

    def at_least(n: int) -> Value:
        return birth_date <= ibis.literal(years_before(today, n), type="date")

    def at_most(n: int) -> Value:
        return birth_date > ibis.literal(years_before(today, n + 1), type="date")

    def exactly(n: int) -> Value:
        return at_least(n) & at_most(n)

    tests = {
        "eq": lambda: exactly(value), "ne": lambda: ~exactly(value),
        "lt": lambda: at_most(value - 1), "lte": lambda: at_most(value),
        "gt": lambda: at_least(value + 1), "gte": lambda: at_least(value),
        "between": lambda: at_least(value[0]) & at_most(value[1]),
        "in": lambda: ibis.or_(*(exactly(v) for v in value)),
        "not_in": lambda: ~ibis.or_(*(exactly(v) for v in value)),
    }  # fmt: skip
    return (birth_date.notnull() & tests[op]()).fill_null(False)


def eligible_orders() -> Table:
    """Completed sales of our own (no competitor ``supplier``) made by a person."""
    orders = table("orders")
    return orders.filter(
        orders.status == COMPLETED, orders.supplier.isnull(), orders.person_id.notnull()
    )


class Leaves:
    """Builders of the leaves that read tables other than persons."""

    def __init__(self, compiler: Any, lookups: Any, today: date) -> None:
        self.compiler = compiler
        self.lookups = lookups
        self.today = today

    def consent(self, c: ConsentCondition, path: str) -> Table:
        """Persons whose current consent for the channel and purpose is ``c.state``."""
        current = table("consent_current")
        mine = current.filter(current.channel == str(c.channel), current.purpose == str(c.purpose))
        if c.state != "none":
            return mine.filter(mine.state == c.state).select("person_id")
        persons = table("persons")
        return persons.filter(~persons.id.isin(mine.person_id)).select(person_id=persons.id)

    def orders(self, c: OrdersCondition, path: str) -> Table:
        """Persons whose matching orders in the window meet the count and amount bounds."""
        from closedloop.segments.compiler import cutoff, day_start

        orders = eligible_orders()
        if c.days is not None:
            orders = orders.filter(orders.ordered_at >= _ts(cutoff(self.today, c.days)))
        if c.since is not None:
            orders = orders.filter(orders.ordered_at >= _ts(day_start(c.since)))
        if c.until is not None:
            end = day_start(date.fromordinal(c.until.toordinal() + 1))
            orders = orders.filter(orders.ordered_at < _ts(end))
        product_ids = self.products(c, path)
        if product_ids is None:
            rows = orders.select(person_id=orders.person_id, order_id=orders.id,
                                 amount=orders.total_amount)  # fmt: skip
        else:
            lines = table("order_lines")
            lines = lines.filter(lines.product_id.isin(product_ids))
            joined = orders.join(lines, orders.id == lines.order_id)
            rows = joined.select(person_id=joined.person_id, order_id=joined.order_id,
                                 amount=joined.amount)  # fmt: skip
        low = c.min_count if c.min_count is not None else (1 if c.max_count is None else 0)
        amounts = c.min_amount is not None or c.max_amount is not None
        if low == 1 and c.max_count is None and not amounts:
            return rows.select("person_id")  # one order is enough: no counting
        measures = {"n": rows.order_id.nunique() if product_ids is not None else rows.count()}
        if amounts:
            measures["amount"] = rows.amount.cast("float64").sum()
        per_person = rows.group_by("person_id").aggregate(**measures)
        tests = [per_person.n >= low]
        if c.max_count is not None:
            tests.append(per_person.n <= c.max_count)
        if c.min_amount is not None:
            tests.append(per_person.amount >= c.min_amount)
        if c.max_amount is not None:
            tests.append(per_person.amount <= c.max_amount)
        zero_passes = (
            low == 0
            and (c.min_amount is None or c.min_amount <= 0)
            and (c.max_amount is None or c.max_amount >= 0)
        )
        if not zero_passes:
            return per_person.filter(*tests).select("person_id")
        failing = per_person.filter(~ibis.and_(*tests).fill_null(False))
        persons = table("persons")
        return persons.filter(~persons.id.isin(failing.person_id)).select(person_id=persons.id)

    def products(self, c: OrdersCondition, path: str) -> Value | None:
        """The product ids an orders rule is limited to (None: every product)."""
        if c.product is not None:
            pid = self.lookups.product_id(c.product)
            if pid is None:
                self.compiler.fail(f"{path}.product", f"there is no product {c.product!r}")
            return [pid]
        if c.category is not None:
            ids = self.lookups.category_ids(c.category)
            if ids is None:
                self.compiler.fail(f"{path}.category", f"there is no category {c.category!r}")
            products = table("products")
            return products.filter(products.category_id.isin(ids)).id
        return None

    def first_purchase(self, c: FirstPurchaseCondition, path: str) -> Table:
        """Persons whose first completed purchase falls before/after the given days."""
        from closedloop.segments.compiler import day_start

        orders = eligible_orders()
        first = orders.group_by("person_id").aggregate(first=orders.ordered_at.min())
        tests = []
        if c.before is not None:
            tests.append(first.first < _ts(day_start(c.before)))
        if c.after is not None:
            after = day_start(date.fromordinal(c.after.toordinal() + 1))
            tests.append(first.first >= _ts(after))
        return first.filter(*tests).select("person_id") if tests else first.select("person_id")

    def attribute(self, c: AttributeCondition, path: str) -> Table:
        """Persons with a value of the attribute that matches (is_null: with no value)."""
        from closedloop.segments.attributes import attribute_ids

        return attribute_ids(self, c, path)

    def household(self, rule: Rule, path: str) -> Table:
        """Persons sharing a household with another (golden) person who matches ``rule``."""
        members = self.compiler.members(rule)
        mine, theirs = table("relationships"), table("relationships")
        pairs = mine.join(
            theirs,
            [mine.household_id == theirs.household_id, mine.person_id != theirs.person_id],
        )
        pairs = pairs.filter(pairs.person_id_right.isin(members.person_id))
        return pairs.select(person_id=pairs.person_id)

    def employer(self, rule: Rule, path: str) -> Table:
        """Persons with a current work relationship to an organisation matching ``rule``."""
        organisations = table("organisations")
        chosen = organisations.filter(self.compiler.cond(rule, organisations, path))
        links = table("relationships")
        current = links.filter(
            links.organisation_id.isin(chosen.id),
            links.kind.isin(list(WORKS_FOR)),
            (links.ends_on.isnull() | (links.ends_on >= ibis.literal(self.today, type="date"))),
        )
        return current.select("person_id")

    def campaign(self, c: CampaignCondition, path: str) -> Table:
        """Persons with the asked history with one campaign."""
        from closedloop.segments.history import campaign_ids

        return campaign_ids(self, c, path)

    def near(self, c: NearCondition, path: str) -> Table:
        """Persons with an address within ``c.km`` of the point (flat-Earth distance on the
        scale of a region: under 0.5 % off below 500 km)."""
        if c.latitude is not None and c.longitude is not None:
            lat0, lon0 = c.latitude, c.longitude
        else:
            if not (c.postal_code or c.locality):
                self.compiler.fail(path, "give a postal_code, a locality or latitude/longitude")
            point = self.lookups.place(c.country, c.postal_code, c.locality)
            if point is None:
                where = c.postal_code or c.locality
                self.compiler.fail(path, f"no address with coordinates is known at {where!r}")
            lat0, lon0 = point
        dlat = c.km / KM_PER_DEGREE
        scale = math.cos(math.radians(lat0))
        addresses = table("addresses")
        dy = addresses.latitude - lat0
        dx = (addresses.longitude - lon0) * scale
        hit = addresses.filter(
            addresses.person_id.notnull(),
            addresses.latitude.between(lat0 - dlat, lat0 + dlat),
            dx * dx + dy * dy <= dlat * dlat,
        )
        return hit.select("person_id")

    def event(self, c: EventCondition, path: str) -> Table:
        """Persons in the asked state at one event (invited, answered, attended…)."""
        from closedloop.segments.history import event_ids

        return event_ids(self, c, path)

    def survey(self, c: SurveyCondition, path: str) -> Table:
        """Persons with an answer to the question that matches."""
        from closedloop.segments.history import survey_ids

        return survey_ids(self, c, path)


def _ts(moment: Any) -> Value:
    return ibis.literal(moment, type="timestamp('UTC')")


__all__ = ["ORG_FIELDS", "Leaves", "age_test", "compare", "years_before"]
