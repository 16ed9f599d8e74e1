"""The bulk writer of each store (``closedloop.db.bulk``) on the real test store."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from closedloop.db.bulk import PostgresWriter, SqliteWriter, open_writer, writer_for


def test_the_factory_chooses_the_stores_writer(engine: Engine) -> None:
    with engine.connect() as conn:
        writer = writer_for(conn)
        expected = SqliteWriter if engine.dialect.name == "sqlite" else PostgresWriter
        assert type(writer) is expected
        assert writer.single_writer is (engine.dialect.name == "sqlite")


def test_insert_with_constants_select_in_and_ids(engine: Engine) -> None:
    with engine.connect() as conn:
        writer = writer_for(conn)
        writer.begin_write()
        ids = writer.allocate_ids("offers", 3)
        assert len(set(ids)) == 3
        rows = [(i, f"o{i}", date(2026, 1, n + 1)) for n, i in enumerate(ids)]
        # a constant with a placeholder, a percent sign and a quote is written as it is
        writer.insert(
            "offers", ("id", "code", "valid_from"), rows, constants={"name": "50% off? 'yes'"}
        )
        found = writer.select_in(
            "SELECT id, name, valid_from FROM offers WHERE code {in} ORDER BY id",
            [],
            [f"o{i}" for i in ids] * 2,
        )
        conn.commit()
    assert [r[0] for r in found] == ids
    assert {r[1] for r in found} == {"50% off? 'yes'"}
    assert [str(r[2]) for r in found] == ["2026-01-01", "2026-01-02", "2026-01-03"]


def test_a_stream_writes_commits_and_restores_the_connection(engine: Engine) -> None:
    writer = open_writer(engine)
    try:
        first = writer.next_id("offers")
        writer.stream(
            "offers", ("id", "code", "name"), [(first, "s1", "one"), (first + 1, "s2", "two")]
        )
        writer.commit()
        writer.finish(["offers"])
        assert writer.query("SELECT COUNT(*) FROM offers WHERE code LIKE ?", ["s%"])[0][0] == 2
    finally:
        writer.close()
    with engine.connect() as conn:
        # the sequence caught up: a row without an id takes the next one
        assert writer_for(conn).allocate_ids("offers", 1)[0] == first + 2
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
