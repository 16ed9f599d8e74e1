"""Unbound Ibis tables of the store: the compiler writes its expressions over them and Ibis
compiles them to the SQL of whichever engine runs them (SQLite, PostgreSQL, DuckDB…).

The Ibis schema of a table is derived from the ORM metadata (the models are declared once).
The campaign and response tables belong to packages above this one, which it may not import:
their few columns a rule reads are declared here, and a test checks them against the models.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import ibis
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Numeric, String, Text
from sqlalchemy import Table as SaTable

import closedloop.consent.models
import closedloop.contacts.models
import closedloop.scoring.models
import closedloop.segments.models
import closedloop.transactions.models  # noqa: F401  (register their tables)
from closedloop.db.base import Base

Table = Any  # ibis.expr.types.Table (Ibis ships partial type information)

#: Columns of tables owned by higher layers, as Ibis types.
DECLARED: dict[str, dict[str, str]] = {
    "campaigns": {"id": "int64", "code": "string"},
    "cells": {"id": "int64", "campaign_id": "int64", "is_control": "boolean"},
    "campaign_members": {"campaign_id": "int64", "cell_id": "int64", "person_id": "int64"},
    "communications": {"person_id": "int64", "campaign_id": "int64", "status": "string"},
    "responses": {
        "person_id": "int64", "campaign_id": "int64", "kind": "string", "machine": "string",
    },
    "survey_questions": {"id": "int64", "kind": "string"},
    "events": {
        "id": "int64", "code": "string", "campaign_id": "int64", "ends_at": "timestamp('UTC')",
    },
    "event_guests": {
        "event_id": "int64", "person_id": "int64", "answer": "string",
        "checked_in_at": "timestamp('UTC')",
    },
    "survey_answers": {
        "question_id": "int64", "person_id": "int64", "answer_text": "string",
        "answer_number": "float64", "answer_choice": "string",
    },
}  # fmt: skip


def _ibis_type(column: Any) -> str | None:
    kind = column.type
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "int64"
    if isinstance(kind, DateTime):
        return "timestamp('UTC')" if kind.timezone else "timestamp"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Float):
        return "float64"
    if isinstance(kind, Numeric):
        return "decimal(18, 4)"
    if isinstance(kind, String | Text):
        return "string"
    impl = getattr(kind, "impl", None)
    if impl is not None:
        return _ibis_type(type("C", (), {"type": impl})())
    return None  # JSON documents: no rule reads them


def schema_of(table: SaTable) -> dict[str, str]:
    """The Ibis schema of an ORM table (columns of JSON type left out)."""
    schema: dict[str, str] = {}
    for column in table.columns:
        kind = _ibis_type(column)
        if kind is not None:
            schema[column.name] = kind
    return schema


@cache
def _schema(name: str) -> dict[str, str]:
    if name in DECLARED:
        return DECLARED[name]
    return schema_of(Base.metadata.tables[name])


def table(name: str) -> Table:
    """A fresh unbound Ibis table named ``name`` (a new view each call, so one table can be
    used twice in one expression, as in a self-join)."""
    return ibis.table(_schema(name), name=name).view()
