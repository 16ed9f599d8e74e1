"""Property: on small random bases, the compiled rule selects exactly the persons a plain
Python evaluation of the same rule selects (run on SQLite and, in CI, on PostgreSQL).

The bases mix genders, birth dates (some unknown), consents granted or withdrawn, two scoring
runs (only the latest counts), and orders of a category tree, some cancelled or bought from a
competitor (no sale), on dates around the windows the rules ask about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from closedloop.segments import rule_member_ids
from closedloop.segments.compiler import day_start

from . import world
from .world import TODAY

CATEGORIES = {"sport": None, "running": "sport", "books": None}
CHANNELS = ("email", "sms")


@dataclass
class Order:
    at: datetime
    lines: list[tuple[str, int]]  # (category, amount)
    sale: bool


@dataclass
class Person:
    gender: str | None
    birth: date | None
    tier: str | None
    old_tier: str | None
    clv: int | None
    consents: dict[str, str]
    orders: list[Order] = field(default_factory=list)
    id: int = 0


persons_st = st.builds(
    Person,
    gender=st.sampled_from(["f", "m", None]),
    birth=st.one_of(st.none(), st.dates(date(1940, 1, 1), date(2010, 12, 31))),
    tier=st.sampled_from(["A", "B", "C", None]),
    old_tier=st.sampled_from(["A", "B", None]),
    clv=st.one_of(st.none(), st.integers(0, 500)),
    consents=st.dictionaries(st.sampled_from(CHANNELS), st.sampled_from(["granted", "withdrawn"])),
    orders=st.lists(
        st.builds(
            Order,
            at=st.integers(0, 400).map(
                lambda d: day_start(TODAY - timedelta(days=d)) + timedelta(hours=12)
            ),
            lines=st.lists(
                st.tuples(st.sampled_from(list(CATEGORIES)), st.integers(1, 90)),
                min_size=1,
                max_size=3,
            ),
            sale=st.booleans(),
        ),
        max_size=4,
    ),
)

leaf_st = st.one_of(
    st.builds(lambda op, v: {"field": "gender", "op": op, "value": v},
              st.sampled_from(["eq", "ne"]), st.sampled_from(["f", "m"])),
    st.just({"field": "gender", "op": "is_null"}),
    st.builds(lambda v: {"field": "gender", "op": "in", "value": v},
              st.lists(st.sampled_from(["f", "m", "x"]), min_size=1, max_size=2)),
    st.builds(lambda op, v: {"field": "age", "op": op, "value": v},
              st.sampled_from(["eq", "gte", "lt", "ne"]), st.integers(15, 90)),
    st.builds(lambda a, b: {"field": "age", "op": "between", "value": sorted([a, b])},
              st.integers(15, 90), st.integers(15, 90)),
    st.builds(lambda op, v: {"field": "tier", "op": op, "value": v},
              st.sampled_from(["eq", "ne"]), st.sampled_from(["A", "B", "C"])),
    st.builds(lambda op, v: {"field": "clv", "op": op, "value": v},
              st.sampled_from(["gt", "lte"]), st.integers(0, 500).map(lambda x: x + 0.5)),
    st.builds(lambda c, s: {"consent": {"channel": c, "purpose": "marketing", "state": s}},
              st.sampled_from(CHANNELS), st.sampled_from(["granted", "withdrawn", "none"])),
    st.builds(
        lambda cat, lo, hi, days, amount: {"orders": {k: v for k, v in {
            "category": cat, "min_count": lo, "max_count": hi, "days": days,
            "min_amount": amount}.items() if v is not None}},
        st.sampled_from([None, "sport", "running", "books"]),
        st.sampled_from([None, 0, 1, 2]), st.sampled_from([None, 0, 1, 3]),
        st.sampled_from([None, 30, 180, 365]),
        st.sampled_from([None, 50.5, 120.5]),
    ).filter(lambda r: r["orders"].get("min_count", 0) <= r["orders"].get("max_count", 9)),
    st.builds(lambda d: {"first_purchase": {"before": d.isoformat()}},
              st.dates(TODAY - timedelta(days=400), TODAY)),
    st.builds(lambda d: {"first_purchase": {"after": d.isoformat()}},
              st.dates(TODAY - timedelta(days=400), TODAY)),
)  # fmt: skip

rules_st = st.recursive(
    leaf_st,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=6,
)


def _age(birth: date) -> int:
    return TODAY.year - birth.year - ((TODAY.month, TODAY.day) < (birth.month, birth.day))


def _compare(value: Any, op: str, arg: Any) -> bool:
    if op == "is_null":
        return value is None
    if value is None:
        return False
    return {
        "eq": lambda: value == arg, "ne": lambda: value != arg, "in": lambda: value in arg,
        "gt": lambda: value > arg, "gte": lambda: value >= arg, "lt": lambda: value < arg,
        "lte": lambda: value <= arg, "between": lambda: arg[0] <= value <= arg[1],
    }[op]()  # fmt: skip


def _under(category: str, root: str) -> bool:
    node: str | None = category
    while node is not None:
        if node == root:
            return True
        node = CATEGORIES[node]
    return False


def _orders(p: Person, c: dict[str, Any]) -> bool:
    sales = [o for o in p.orders if o.sale]
    if "days" in c:
        sales = [o for o in sales if o.at >= day_start(TODAY - timedelta(days=c["days"]))]
    n, amount = 0, 0
    for o in sales:
        lines = [a for cat, a in o.lines if "category" not in c or _under(cat, c["category"])]
        if "category" not in c:
            n, amount = n + 1, amount + sum(a for _, a in o.lines)
        elif lines:
            n, amount = n + 1, amount + sum(lines)
    low = c.get("min_count", 1 if "max_count" not in c else 0)
    return n >= low and n <= c.get("max_count", n) and amount >= c.get("min_amount", amount)


def evaluate(rule: dict[str, Any], p: Person) -> bool:
    """The plain Python meaning of a rule for one person."""
    if "all" in rule:
        return all(evaluate(r, p) for r in rule["all"])
    if "any" in rule:
        return any(evaluate(r, p) for r in rule["any"])
    if "not" in rule:
        return not evaluate(rule["not"], p)
    if "consent" in rule:
        c = rule["consent"]
        return p.consents.get(c["channel"], "none") == c["state"]
    if "orders" in rule:
        return _orders(p, rule["orders"])
    if "first_purchase" in rule:
        sales = [o.at for o in p.orders if o.sale]
        if not sales:
            return False
        first, c = min(sales), rule["first_purchase"]
        if "before" in c:
            return first < day_start(date.fromisoformat(c["before"]))
        return first >= day_start(date.fromisoformat(c["after"]) + timedelta(days=1))
    name, op, arg = rule["field"], rule["op"], rule.get("value")
    if name == "age":
        return p.birth is not None and _compare(_age(p.birth), op, arg)
    if name in ("tier", "clv"):
        return (
            p.tier is not None and _compare(getattr(p, name), op, arg)
            if name == "tier"
            else (p.tier is not None and _compare(p.clv, op, arg))
        )
    return _compare(p.gender, op, arg)


def _store(s: Session, people: list[Person]) -> None:
    cats: dict[str, int] = {}
    for code, parent in CATEGORIES.items():
        cats[code] = world.category(s, code, cats[parent] if parent else None)
    products = {code: world.product(s, f"SKU-{code}", cid) for code, cid in cats.items()}
    old, new = world.score_run(s, as_of=TODAY - timedelta(days=30)), world.score_run(s)
    for p in people:
        p.id = world.person(s, gender=p.gender, birth_date=p.birth)
        if p.old_tier:
            world.score(s, old, p.id, tier=p.old_tier, clv=999)
        if p.tier:  # a person has a row in the latest run when they have a tier
            world.score(s, new, p.id, tier=p.tier, clv=p.clv)
        for channel, state in p.consents.items():
            world.consent(s, p.id, channel=channel, state=state)
        for n, o in enumerate(p.orders):
            lines = [(products[cat], f"{a}.00") for cat, a in o.lines]
            status, supplier = (
                ("completed", None)
                if o.sale
                else (("cancelled", None) if n % 2 else ("completed", "Rival"))
            )
            world.order(s, p.id, o.at.date(), lines, status=status, supplier=supplier)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=st.lists(persons_st, max_size=8), rules=st.lists(rules_st, min_size=1, max_size=4))
def test_compiled_rules_select_what_python_selects(
    factory: sessionmaker[Session], people: list[Person], rules: list[dict[str, Any]]
) -> None:
    with factory() as s:
        try:
            _store(s, people)
            for rule in rules:
                expected = sorted(p.id for p in people if evaluate(rule, p))
                assert rule_member_ids(s, rule, today=TODAY) == expected, rule
        finally:
            s.rollback()
