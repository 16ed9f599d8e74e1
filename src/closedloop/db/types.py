"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AfterValidator
from sqlalchemy import JSON, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from closedloop.db.base import as_utc

#: The largest integer both stores hold (SQLite INTEGER, PostgreSQL BIGINT): a larger one in a
#: query overflows the driver (``OverflowError`` on SQLite) instead of matching nothing.
MAX_INT = 2**63 - 1
#: An id received from outside (path, query, body): 1 … MAX_INT. API and pages bound every id
#: with it; ``tests/security/test_bounds.py`` walks the route table for unbounded integers.
DbId = Annotated[int, Ge(1), Le(MAX_INT)]
#: A count or offset received from outside: 0 … MAX_INT.
DbCount = Annotated[int, Ge(0), Le(MAX_INT)]

#: A time sent out (API, exports) in UTC with its offset ("…Z"), whatever the store gives back
#: (SQLite: naive datetimes, which are UTC; PostgreSQL: the session's time zone).
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class JsonDocument(TypeDecorator[Any]):
    """JSON documents; JSONB on PostgreSQL. The PostgreSQL type is looked up when a
    PostgreSQL engine first uses it: importing that dialect costs a fifth of a second, which
    every command on SQLite would otherwise pay at start-up."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


#: JSON documents; JSONB on PostgreSQL.
JsonDoc = JsonDocument()


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
