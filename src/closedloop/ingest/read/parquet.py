"""Parquet, read in record batches (flat memory); typed values become text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from closedloop.ingest.read.base import Row, Table, TableError, cell_text, unique_headers

BATCH_ROWS = 5000


def open_parquet(path: Path) -> Table:
    """Open a Parquet file; row numbers count from 1 (there is no header line)."""
    import pyarrow as pa  # loaded when a Parquet file is read, not with the readers
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise TableError(f"This is not a readable Parquet file ({exc}).") from exc
    headers = unique_headers(list(pf.schema_arrow.names))
    total = pf.metadata.num_rows
    state = {"done": 0}

    def rows(skip: int) -> Iterator[Row]:
        row_no = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            if row_no + batch.num_rows <= skip:
                row_no += batch.num_rows
                state["done"] = row_no
                continue
            columns = [col.to_pylist() for col in batch.columns]
            for i in range(batch.num_rows):
                row_no += 1
                state["done"] = row_no
                if row_no <= skip:
                    continue
                yield row_no, [cell_text(col[i]) for col in columns]

    def progress() -> float:
        return min(1.0, state["done"] / total) if total else 0.0

    return Table(
        format="parquet", headers=headers, rows_factory=rows, progress=progress, total_rows=total
    )
