"""The migrations build exactly the schema the models describe, from an empty database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from closedloop.bootstrap import metadata
from closedloop.migrations import current_revision, upgrade


def test_models_and_migrations_agree(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata())
    assert diff == []


def test_every_model_table_exists(migrated_engine: Engine) -> None:
    tables = set(inspect(migrated_engine).get_table_names())
    assert set(metadata().tables) <= tables


def test_upgrade_is_idempotent(migrated_engine: Engine) -> None:
    before = current_revision(migrated_engine)
    upgrade(migrated_engine)
    assert current_revision(migrated_engine) == before is not None


def test_sqlite_store_uses_wal_and_foreign_keys(migrated_engine: Engine) -> None:
    if migrated_engine.dialect.name != "sqlite":
        return
    with migrated_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
