"""Full rows as JSON and back, so a merge event can restore exactly what it changed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, Numeric, Table, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine


def _base_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_


def to_json(value: Any) -> Any:
    """A column value as JSON: dates ISO, decimals as strings, the rest as is."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def from_json(table: Table, column: str, value: Any) -> Any:
    """The column value a JSON value stands for."""
    if value is None:
        return None
    base = _base_type(table.c[column].type)
    if isinstance(base, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(base, Date):
        return date.fromisoformat(value)
    if isinstance(base, Numeric) and isinstance(value, str):
        return Decimal(value)
    return value


def dump(session: Session, table: Table, where: ColumnElement[bool]) -> list[dict[str, Any]]:
    """Every row of ``table`` matching ``where``, all columns, ordered by primary key."""
    stmt = select(table).where(where).order_by(*table.primary_key.columns)
    return [{k: to_json(v) for k, v in row._mapping.items()} for row in session.execute(stmt).all()]


def restore(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Put ``rows`` back as they were: update those that exist, insert the others (same ids)."""
    pk = [c.name for c in table.primary_key.columns]
    for doc in rows:
        values = {k: from_json(table, k, v) for k, v in doc.items()}
        cond = [table.c[name] == values[name] for name in pk]
        found = session.execute(select(*table.primary_key.columns).where(*cond)).first()
        if found is None:
            session.execute(insert(table).values(**values))
        else:
            rest = {k: v for k, v in values.items() if k not in pk}
            if rest:
                session.execute(update(table).where(*cond).values(**rest))


def delete_rows(session: Session, table: Table, ids: list[Any]) -> None:
    """Delete rows of a single-column primary key table by id."""
    if ids:
        (col,) = table.primary_key.columns
        session.execute(delete(table).where(col.in_(ids)))
