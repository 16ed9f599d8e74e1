"""The person's fields are declared once (closedloop.contacts.fields) and every layer agrees."""

from __future__ import annotations

from sqlalchemy import String

from closedloop.contacts.fields import PERSON_FIELD_NAMES, PERSON_FIELDS
from closedloop.contacts.models import Person
from closedloop.contacts.schemas import PersonCreate, PersonPublic, PersonUpdate
from closedloop.dedupe.survivorship import DEFAULT_RULES, RULES
from closedloop.ingest.map.fields import PERSONS
from closedloop.ingest.validate.convert import READERS


def test_each_field_is_a_column_of_the_right_length() -> None:
    """A field declared without its column (or with another length) would fail on write."""
    columns = Person.__table__.columns
    for field in PERSON_FIELDS:
        assert field.name in columns, f"Person has no column {field.name} (add it, and a migration)"
        column_type = columns[field.name].type
        if field.max_length is not None:
            assert isinstance(column_type, String), field.name
            assert column_type.length == field.max_length, field.name


def test_each_field_is_in_the_api_schemas() -> None:
    """The API reads and shows every field (typed in contacts/schemas.py)."""
    for schema in (PersonCreate, PersonUpdate, PersonPublic):
        missing = set(PERSON_FIELD_NAMES) - set(schema.model_fields)
        assert not missing, f"{schema.__name__} lacks {sorted(missing)}"


def test_import_and_survivorship_take_every_field() -> None:
    """The import reads each field with a known validator; a merge has a rule for each."""
    imported = {f.name: f for f in PERSONS.fields}
    for field in PERSON_FIELDS:
        assert imported[field.name].type == field.type
        assert field.type in READERS, f"{field.name}: no import validator {field.type!r}"
        assert DEFAULT_RULES[field.name] == field.survives
        assert field.survives in RULES, f"{field.name}: unknown survivorship rule"
