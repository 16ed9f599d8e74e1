"""Checking segment rules: each mistake is named by its rule path and reason; bad values,
unknown fields, deep nesting and SQL/template text are refused or kept as plain values."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from closedloop.errors import ValidationFailed
from closedloop.segments import parse_rules, rule_schema
from closedloop.segments.rules import FieldRule


def _errors(doc: Any) -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as err:
        parse_rules(doc)
    assert err.value.errors[0]["field"] in err.value.detail
    return err.value.errors


def test_paths_name_each_mistake() -> None:
    doc = {"all": [
        {"field": "tier", "value": "A"},
        {"consent": {"channel": "email"}},
        {"orders": {"category": "running", "days": 0}},
    ]}  # fmt: skip
    assert _errors(doc) == [
        {"field": "all[2].orders.days", "message": "Input should be greater than or equal to 1"}
    ]
    errors = _errors({"any": [{"field": "colour", "value": "red"}, {"foo": 1}]})
    assert errors[0]["field"] == "any[0].field" and "unknown field 'colour'" in errors[0]["message"]
    assert errors[1]["field"] == "any[1].foo" and "unknown rule 'foo'" in errors[1]["message"]
    assert _errors({"consent": {"channel": "fax"}})[0]["field"] == "consent.channel"
    assert _errors({"not": {"orders": {"extra": 1}}})[0]["field"] == "not.orders.extra"


@pytest.mark.parametrize(
    ("rule", "path", "words"),
    [
        ({"field": "age", "op": "gte", "value": "thirty"}, "value", "takes a number"),
        ({"field": "age", "op": "gte", "value": 30.5}, "value", "whole number"),
        ({"field": "birth_date", "op": "lt", "value": "yesterday"}, "value", "YYYY-MM-DD"),
        ({"field": "gender", "op": "eq", "value": 1}, "value", "takes text"),
        ({"field": "gender", "op": "eq"}, "value", "needs a value"),
        ({"field": "gender", "op": "is_null", "value": "f"}, "value", "takes no value"),
        ({"field": "age", "op": "between", "value": [40, 30]}, "value", "low <= high"),
        ({"field": "age", "op": "starts_with", "value": "3"}, "op", "cannot be compared"),
        ({"field": "tier", "op": "like", "value": "A"}, "op", "Input should be"),
        ({"field": "tier", "op": "in", "value": "A"}, "value", "list of values"),
        ({"field": "clv", "op": "gt", "value": True}, "value", "takes a number"),
    ],
)
def test_wrong_values(rule: dict[str, Any], path: str, words: str) -> None:
    errors = _errors({"all": [rule]})
    assert errors[0]["field"] == f"all[0].{path}"
    assert words in errors[0]["message"]


def test_shapes_that_are_no_rule() -> None:
    assert _errors([])[0]["field"] == "rule"
    assert _errors({})[0]["field"] == "rule"
    assert _errors({"all": {"field": "tier"}})[0]["message"] == "all takes a list of rules"
    errors = _errors({"all": [], "any": []})
    assert "exactly one key" in errors[0]["message"]
    errors = _errors({"orders": {"min_count": 3, "max_count": 2}})
    assert errors[0]["field"] == "orders.max_count"


def test_nesting_100_deep_is_refused_with_its_depth() -> None:
    doc: dict[str, Any] = {"field": "gender", "value": "f"}
    for _ in range(100):
        doc = {"not": doc}
    errors = _errors(doc)
    assert "at most 32 levels" in errors[0]["message"]
    assert errors[0]["field"].startswith("not.not.not")
    shallow: dict[str, Any] = {"field": "gender", "value": "f"}
    for _ in range(30):
        shallow = {"all": [shallow]}
    parse_rules(shallow)


def test_relations_chain_at_most_three() -> None:
    doc: dict[str, Any] = {"field": "gender", "value": "f"}
    for _ in range(3):
        doc = {"household": doc}
    assert "at most 2 relations" in _errors(doc)[0]["message"]
    errors = _errors({"employer": {"consent": {"channel": "email"}}})
    assert errors[0]["field"] == "employer.consent"
    errors = _errors({"employer": {"field": "gender", "value": "f"}})
    assert "unknown field 'gender'" in errors[0]["message"]


def test_values_are_converted_and_text_stays_text() -> None:
    rule = parse_rules({"field": "birth_date", "op": "lt", "value": "2000-01-01"})
    assert isinstance(rule, FieldRule) and rule.value == date(2000, 1, 1)
    sneaky = "x' OR 1=1; DROP TABLE persons; -- {{ 7*7 }} {% raw %} :p %s ?"
    rule = parse_rules({"field": "family_name", "value": sneaky})
    assert isinstance(rule, FieldRule) and rule.value == sneaky


def test_schema_describes_every_rule() -> None:
    schema = rule_schema()
    text = str(schema)
    for key in (
        "all",
        "any",
        "not",
        "field",
        "consent",
        "orders",
        "household",
        "employer",
        "campaign",
        "near",
        "survey",
        "attribute",
        "first_purchase",
    ):
        assert f"'{key}'" in text
