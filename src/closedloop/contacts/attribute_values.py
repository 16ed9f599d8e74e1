"""A person's values of the attribute catalogue, set and removed one attribute at a time.

Values arrive as text (a form, a call desk) and are checked against the attribute's type: a
number, a day, yes or no, one of its choices, several of them, or a text. A bad value raises
:class:`~closedloop.errors.ValidationFailed` naming the attribute's code as the field, with a
``kind`` a caller can turn into its own words (``number``, ``date``, ``boolean``, ``choice``,
``too_long``, ``unknown_attribute``). The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from closedloop.contacts.models import AttributeDefinition, AttributeValue
from closedloop.contacts.service import get_person
from closedloop.db.base import utcnow
from closedloop.errors import ValidationFailed
from closedloop.vocab import AttributeType

#: How "yes" and "no" may be written (the languages of the interface).
_TRUE = {"1", "true", "yes", "y", "oui", "o", "on"}
_FALSE = {"0", "false", "no", "n", "non", "off"}
#: The widest stored text (``attribute_values.value_text``) and number.
TEXT_MAX = 1000
_NUMBER_MAX = Decimal("1e14")


@dataclass(frozen=True)
class StoredValue:
    """One value of a person's attribute, in the column its type uses."""

    value_number: Decimal | None = None
    value_date: date | None = None
    value_bool: bool | None = None
    value_text: str | None = None
    choice_id: int | None = None


def catalogue(session: Session) -> list[AttributeDefinition]:
    """The person attributes of the catalogue with their choices, by group and code."""
    return list(
        session.scalars(
            select(AttributeDefinition)
            .where(AttributeDefinition.applies_to == "person")
            .options(selectinload(AttributeDefinition.choices))
            .order_by(AttributeDefinition.group, AttributeDefinition.code)
        )
    )


def definition(session: Session, code: str) -> AttributeDefinition:
    """The catalogue attribute ``code``; ValidationFailed naming it when there is none."""
    found = session.scalars(
        select(AttributeDefinition)
        .where(AttributeDefinition.code == code)
        .options(selectinload(AttributeDefinition.choices))
    ).first()
    if found is None:
        raise _invalid(
            code, "unknown_attribute", f"there is no attribute {code!r} in the catalogue"
        )
    return found


def person_values(session: Session, person_id: int) -> dict[int, list[AttributeValue]]:
    """The person's stored values, by attribute definition id."""
    out: dict[int, list[AttributeValue]] = {}
    rows = session.scalars(
        select(AttributeValue)
        .where(AttributeValue.person_id == person_id)
        .order_by(AttributeValue.id)
    )
    for value in rows:
        out.setdefault(value.definition_id, []).append(value)
    return out


def _invalid(code: str, kind: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{code}: {message}", errors=[{"field": code, "kind": kind, "message": message}]
    )


def _one(attr: AttributeDefinition, text: str) -> StoredValue:
    kind = attr.type
    if kind == AttributeType.NUMBER:
        try:
            number = Decimal(text.replace("\u202f", "").replace(" ", "").replace(",", "."))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or abs(number) >= _NUMBER_MAX:
            raise _invalid(attr.code, "number", f"{text!r} is not a number")
        return StoredValue(value_number=number)
    if kind == AttributeType.DATE:
        try:
            return StoredValue(value_date=date.fromisoformat(text))
        except ValueError:
            raise _invalid(attr.code, "date", f"{text!r} is not a day (year-month-day)") from None
    if kind == AttributeType.BOOLEAN:
        if text.lower() in _TRUE | _FALSE:
            return StoredValue(value_bool=text.lower() in _TRUE)
        raise _invalid(attr.code, "boolean", f"{text!r} is not yes or no")
    if kind in (AttributeType.CHOICE, AttributeType.MULTI_CHOICE):
        for choice in attr.choices:
            if text in {choice.code, *(choice.labels or {}).values()}:
                return StoredValue(choice_id=choice.id)
        codes = ", ".join(c.code for c in attr.choices)
        raise _invalid(attr.code, "choice", f"{text!r} is not one of its choices ({codes})")
    if len(text) > TEXT_MAX:
        raise _invalid(attr.code, "too_long", f"longer than {TEXT_MAX} characters")
    return StoredValue(value_text=text)


def parse_values(attr: AttributeDefinition, texts: list[str]) -> list[StoredValue]:
    """The values ``texts`` mean for ``attr`` (blanks ignored, repeats kept once); more than
    one only for a multi-choice attribute."""
    wanted = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
    if len(wanted) > 1 and attr.type != AttributeType.MULTI_CHOICE:
        raise _invalid(attr.code, "single", "takes one value only")
    return list(dict.fromkeys(_one(attr, text) for text in wanted))


def _stored(value: AttributeValue) -> StoredValue:
    return StoredValue(
        value.value_number, value.value_date, value.value_bool, value.value_text, value.choice_id
    )


def set_person_attribute(
    session: Session, person_id: int, code: str, texts: list[str], *, source: str = "web"
) -> bool:
    """Replace the person's values of attribute ``code`` by ``texts`` (none: remove them).
    Returns False when nothing changed. Raises NotFound for an unknown person and
    ValidationFailed, naming the attribute, for a value its type refuses."""
    person = get_person(session, person_id)
    attr = definition(session, code)
    wanted = parse_values(attr, texts)
    stored = person_values(session, person.id).get(attr.id, [])
    key = _sort_key
    if sorted(map(_stored, stored), key=key) == sorted(wanted, key=key):
        return False
    for old in stored:
        session.delete(old)
    session.flush()
    now = utcnow()
    for value in wanted:
        session.add(
            AttributeValue(
                definition_id=attr.id,
                person_id=person.id,
                source_system=source,
                updated_at=now,
                **value.__dict__,
            )
        )
    session.flush()
    return True


def remove_person_attribute(session: Session, person_id: int, code: str) -> int:
    """Remove every value of attribute ``code`` from the person; returns how many."""
    person = get_person(session, person_id)
    attr = definition(session, code)
    result: Any = session.execute(
        delete(AttributeValue).where(
            AttributeValue.person_id == person.id, AttributeValue.definition_id == attr.id
        )
    )
    return int(result.rowcount or 0)


def _sort_key(value: StoredValue) -> tuple[str, ...]:
    return tuple(str(v) for v in value.__dict__.values())
