"""Read a rule document into the typed tree, naming the path of every mistake.

:func:`parse_rules` walks the JSON by hand (rather than letting one big union guess which rule
was meant), so an error says exactly where it is and why: ``all[2].orders.days: must be at
least 1``, ``any[0].field: unknown field 'colour'``. Field values are converted to the field's
kind here (a date string becomes a date), so the compiler only sees well-typed values.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from closedloop.errors import ValidationFailed
from closedloop.segments.fields import (
    FIELDS,
    LIST_OPS,
    NULL_OPS,
    ORDER_OPS,
    ORG_FIELDS,
    FieldSpec,
)
from closedloop.segments.rules import (
    GROUPS,
    KEYS,
    LEAVES,
    WRAPPERS,
    AllRule,
    AnyRule,
    EmployerRule,
    FieldRule,
    HouseholdRule,
    NotRule,
    Rule,
    SegmentRule,
)

#: How deep groups may nest (a hand-made rule rarely passes 5).
MAX_DEPTH = 32
#: How many leaves one rule may hold.
MAX_LEAVES = 500
#: How many relations (a household member of a household member who …) may be chained:
#: each adds a level of subqueries, and SQLite's parser stops at about three.
MAX_HOPS = 2
#: How many errors one answer lists.
SHOWN = 20

Errors = list[dict[str, str]]


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


class _Walker:
    def __init__(self) -> None:
        self.errors: Errors = []
        self.leaves = 0

    def fail(self, path: str, message: str) -> None:
        self.errors.append({"field": path or "rule", "message": message})

    def rule(self, doc: Any, path: str, depth: int, hops: int, scope: str) -> Rule | None:
        if depth > MAX_DEPTH:
            self.fail(path, f"rules may nest at most {MAX_DEPTH} levels deep")
            return None
        if not isinstance(doc, dict) or not doc:
            self.fail(path, 'a rule is an object such as {"field": "tier", "value": "A"}')
            return None
        self.leaves += 1
        if self.leaves > MAX_LEAVES:
            if self.leaves == MAX_LEAVES + 1:
                self.fail(path, f"a rule may hold at most {MAX_LEAVES} conditions")
            return None
        if "field" in doc:
            return self.field(doc, path, scope)
        if len(doc) != 1:
            keys = ", ".join(sorted(map(str, doc)))
            self.fail(path, f"a rule has exactly one key (all, any, not, …), not {keys}")
            return None
        key, body = next(iter(doc.items()))
        if key in GROUPS:
            return self.group(key, body, _join(path, key), depth, hops, scope)
        if key == "not":
            inner = self.rule(body, _join(path, "not"), depth + 1, hops, scope)
            return NotRule.model_construct(not_=inner) if inner is not None else None
        if scope == "organisation":
            self.fail(_join(path, str(key)), "an organisation rule uses all, any, not, field")
            return None
        if key in ("household", "employer"):
            return self.relation(key, body, _join(path, key), depth, hops)
        if key in LEAVES:
            return self.leaf(key, LEAVES[key], body, _join(path, key))
        if key == "segment":
            parsed = self.validated(SegmentRule, doc, path)
            return cast(Rule, parsed) if parsed is not None else None
        known = ", ".join(KEYS)
        self.fail(_join(path, str(key)), f"unknown rule {key!r}; a rule is one of: {known}")
        return None

    def group(
        self, key: str, body: Any, path: str, depth: int, hops: int, scope: str
    ) -> Rule | None:
        if not isinstance(body, list):
            self.fail(path, f"{key} takes a list of rules")
            return None
        children = [
            self.rule(c, _join(path, n), depth + 1, hops, scope) for n, c in enumerate(body)
        ]
        kept = [c for c in children if c is not None]
        if len(kept) != len(children):
            return None
        if key == "all":
            return AllRule.model_construct(all=kept)
        return AnyRule.model_construct(any=kept)

    def relation(self, key: str, body: Any, path: str, depth: int, hops: int) -> Rule | None:
        if hops >= MAX_HOPS:
            self.fail(path, f"at most {MAX_HOPS} relations (household, employer) may be chained")
            return None
        scope = "organisation" if key == "employer" else "person"
        inner = self.rule(body, path, depth + 1, hops + 1, scope)
        if inner is None:
            return None
        if key == "employer":
            return EmployerRule.model_construct(employer=inner)
        return HouseholdRule.model_construct(household=inner)

    def validated(self, model: type[BaseModel], body: Any, path: str) -> BaseModel | None:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            for err in exc.errors():
                where = path
                for part in err["loc"]:
                    where = _join(where, part if isinstance(part, int) else str(part))
                self.fail(where, err["msg"])
            return None

    def leaf(self, key: str, model: type[BaseModel], body: Any, path: str) -> Rule | None:
        condition = self.validated(model, body, path)
        if condition is None:
            return None
        if key == "orders":
            self.check_orders(condition, path)
        wrapper: Any = WRAPPERS[key]
        return cast(Rule, wrapper.model_construct(**{key: condition}))

    def check_orders(self, condition: Any, path: str) -> None:
        if condition.category and condition.product:
            self.fail(_join(path, "product"), "give a category or a product, not both")
        if condition.days and (condition.since or condition.until):
            self.fail(_join(path, "days"), "give days or since/until, not both")
        pairs = (("min_count", "max_count"), ("min_amount", "max_amount"), ("since", "until"))
        for low, high in pairs:
            a, b = getattr(condition, low), getattr(condition, high)
            if a is not None and b is not None and a > b:
                self.fail(_join(path, high), f"must not be below {low} ({a})")

    def field(self, doc: dict[str, Any], path: str, scope: str) -> Rule | None:
        parsed = self.validated(FieldRule, doc, path)
        if not isinstance(parsed, FieldRule):
            return None
        catalogue = ORG_FIELDS if scope == "organisation" else FIELDS
        spec = catalogue.get(parsed.field)
        if spec is None:
            known = ", ".join(catalogue)
            self.fail(_join(path, "field"), f"unknown field {parsed.field!r}; known: {known}")
            return None
        value = check_value(spec, parsed.op, parsed.value, _join(path, "value"), self.fail)
        return parsed.model_copy(update={"value": value})


def _scalar(spec: FieldSpec, value: Any) -> Any:
    """``value`` converted to the field's kind; raises ValueError with the reason."""
    kind = spec.kind
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"{spec.name} takes text, not {value!r}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{spec.name} takes true or false, not {value!r}")
        return value
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{spec.name} takes a number, not {value!r}")
        if kind == "integer" and value != int(value):
            raise ValueError(f"{spec.name} takes a whole number, not {value!r}")
        if abs(value) > 1e15 or value != value:
            raise ValueError(f"{spec.name}: {value!r} is out of range")
        return int(value) if kind == "integer" else float(value)
    if not isinstance(value, str):
        raise ValueError(f"{spec.name} takes a date as YYYY-MM-DD, not {value!r}")
    try:
        if kind == "date":
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{spec.name} takes a date as YYYY-MM-DD, not {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_value(spec: FieldSpec, op: str, value: Any, path: str, fail: Any) -> Any:
    """The value of a comparison converted to the field's kind, or None after ``fail``."""
    if op not in spec.ops:
        fail(path.rsplit(".", 1)[0] + ".op", f"{spec.name} cannot be compared with {op}")
        return None
    try:
        if op in NULL_OPS:
            if value is not None:
                raise ValueError(f"{op} takes no value")
            return None
        if op in LIST_OPS or op == "between":
            if not isinstance(value, list) or not value:
                raise ValueError(f"{op} takes a list of values")
            if op == "between" and len(value) != 2:
                raise ValueError("between takes two values: [low, high]")
            items = [_scalar(spec, v) for v in value]
            if op == "between" and items[0] > items[1]:
                raise ValueError("between takes [low, high] with low <= high")
            return items
        if value is None:
            raise ValueError(f"{op} needs a value (use is_null to test for no value)")
        if op in ORDER_OPS and spec.kind == "string" and spec.choices:
            raise ValueError(f"{spec.name} is compared with eq, ne, in or not_in")
        return _scalar(spec, value)
    except ValueError as exc:
        fail(path, str(exc))
        return None


def parse_rules(doc: Any) -> Rule:
    """The typed rule tree of a JSON document; ValidationFailed lists each error with the
    rule path (``all[2].orders.days``) and the reason, and nothing is evaluated."""
    walker = _Walker()
    rule = walker.rule(doc, "", 0, 0, "person")
    if walker.errors or rule is None:
        errors = walker.errors[:SHOWN] or [{"field": "rule", "message": "invalid rule"}]
        first = errors[0]
        more = len(walker.errors) - 1
        extra = f" (and {more} more)" if more > 0 else ""
        raise ValidationFailed(
            f"The segment rule is not valid: {first['field']}: {first['message']}{extra}.",
            errors=errors,
        )
    return rule
