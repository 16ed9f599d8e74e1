"""Alembic environment: runs on the connection handed in by ``closedloop.migrations.upgrade``."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from closedloop.bootstrap import engine_for, metadata
from closedloop.db.types import Money

target_metadata = metadata()


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our own column types as plain SQLAlchemy ones so migrations never import them."""
    if type_ == "type" and isinstance(obj, Money):
        return "sa.Numeric(precision=14, scale=2)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        render_item=_render_item,
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url") or ""
    with engine_for(url).begin() as conn:
        _run(conn)
