"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: JSON documents; JSONB on PostgreSQL.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class Money(TypeDecorator[Decimal]):
    """Exact amounts: NUMERIC(14, 2). SQLite stores text-free decimals and gives Decimal back."""

    impl = Numeric(14, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return Decimal(value).quantize(Decimal("0.01"))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value).quantize(Decimal("0.01"))


def search_key(length: int) -> String:
    """A search-key column: byte order on PostgreSQL (collation "C") so prefix ranges use the
    index whatever the database's locale; SQLite compares bytes already."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")  # type: ignore[return-value]
