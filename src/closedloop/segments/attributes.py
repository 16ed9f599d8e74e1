"""The attribute leaf: compare a catalogue attribute (M3) by its code.

The value column follows the attribute's type (number, date, boolean, text); a choice or
multi-choice attribute is compared by the codes of its choices. A person matches when one of
their values for the attribute matches (a multi-choice attribute has one row per choice);
``is_null`` selects the persons with no value at all.
"""

from __future__ import annotations

from typing import Any

from closedloop.segments.check import check_value
from closedloop.segments.fields import FieldSpec
from closedloop.segments.rules import AttributeCondition
from closedloop.segments.tables import Table, table

#: The value column and the kind of value of each attribute type.
COLUMNS: dict[str, tuple[str, str]] = {
    "number": ("value_number", "number"),
    "date": ("value_date", "date"),
    "boolean": ("value_bool", "boolean"),
    "text": ("value_text", "string"),
    "choice": ("choice_id", "string"),
    "multi_choice": ("choice_id", "string"),
}


def attribute_ids(leaves: Any, c: AttributeCondition, path: str) -> Table:
    """The ``person_id`` of persons whose value of attribute ``c.code`` matches."""
    from closedloop.segments.leaves import compare

    fail = leaves.compiler.fail
    info = leaves.lookups.attribute(c.code)
    if info is None:
        fail(f"{path}.code", f"there is no attribute {c.code!r}")
    column, kind = COLUMNS.get(info.type, ("value_text", "string"))
    spec = FieldSpec(c.code, "person", column, kind, c.code)  # type: ignore[arg-type]
    errors: list[tuple[str, str]] = []
    value = check_value(spec, c.op, c.value, f"{path}.value", lambda p, m: errors.append((p, m)))
    if errors:
        fail(*errors[0])
    values = table("attribute_values")
    mine = values.filter(values.definition_id == info.id, values.person_id.notnull())
    if c.op in ("is_null", "not_null"):
        if c.op == "not_null":
            return mine.select("person_id")
        persons = table("persons")
        return persons.filter(~persons.id.isin(mine.person_id)).select(person_id=persons.id)
    if column == "choice_id":
        codes = value if isinstance(value, list) else [value]
        unknown = [v for v in codes if v not in info.choices]
        if unknown:
            known = ", ".join(sorted(info.choices))
            fail(f"{path}.value", f"{c.code} has no choice {unknown[0]!r} (choices: {known})")
        ids = [info.choices[v] for v in codes]
        value = ids if isinstance(value, list) else ids[0]
        spec = FieldSpec(c.code, "person", column, "integer", c.code)
    hit = mine.filter(compare(mine[column], spec, c.op, value))
    return hit.select("person_id")
