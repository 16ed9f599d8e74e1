"""PostgreSQL: ``%s`` placeholders, ids from the table's sequence, ``= ANY(?)`` lists,
``COPY FROM STDIN`` for a stream, sequences caught up and ``ANALYZE`` at the end."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from closedloop.db.bulk.base import BulkWriter, Row


class PostgresWriter(BulkWriter):
    """The bulk writer of a PostgreSQL store; it takes Python values as they are."""

    name = "postgresql"

    def escape(self, text: str) -> str:
        return text.replace("%", "%%")

    def sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _begun(self) -> None:
        if self.owned:
            # A stream writes timestamps as UTC text; LOCAL keeps the pooled session unchanged.
            self.conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")

    def _in(self, sql: str, keys: list[Any]) -> tuple[str, list[Any]]:
        return sql.replace("{in}", "= ANY(?)"), [keys]

    def json_object_sql(self) -> str:
        return "jsonb_build_object(?::text, ?::text)"

    def allocate_ids(self, table: str, count: int) -> list[int]:
        if count <= 0:
            return []
        rows = self.query(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "  # noqa: S608
            "FROM generate_series(1, ?)",
            [count],
        )
        return [int(r[0]) for r in rows]

    def stream(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        """``COPY FROM STDIN``."""
        cols = ", ".join(f'"{c}"' for c in columns)
        self._tx()
        cur: Any = self.conn.connection.cursor()
        try:
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cur.close()

    def _plain_indexes(self, tables: list[str]) -> list[Row]:
        return self.query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(?) AND indexdef NOT LIKE 'CREATE UNIQUE%'",
            (tables,),
        )

    def finish(self, tables: Iterable[str], analyze: Iterable[str] = ()) -> None:
        """Each table's sequence set past its largest id, then ``ANALYZE``."""
        tables = list(tables)
        for table in tables:
            self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        for table in (*tables, *analyze):
            self.execute(f"ANALYZE {table}")
        self.commit()
